"""The audit records the client's address (issue 12, item 14): the peer, or the address a
trusted proxy forwarded; the hash chain covers it; rows from before migration 0007 verify."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from cpindex.api import create_app
from cpindex.audit import record_event
from cpindex.audit.chain import append_row, verify_chain
from cpindex.clock import ManualClock
from cpindex.config import ServerSettings
from cpindex.store.db import make_engine, serialised, upgrade
from cpindex.store.schema import audit_event
from tests.cpindex.conftest import TestClient, build_services, sign_in

LIMITS: dict[str, Any] = {"search_limit": 100_000, "view_limit": 100_000}


def _sign_in_from(engine: Engine, peer: str, settings: ServerSettings, **headers: str) -> str:
    clock = ManualClock()
    client = TestClient(create_app(build_services(engine, settings, clock)), client=(peer, 4321))
    client.headers.update(headers)
    sign_in(client, clock)
    with engine.connect() as conn:
        row = conn.execute(
            select(audit_event.c.client_address).order_by(audit_event.c.id.desc()).limit(1)
        ).one()
    return str(row[0])


@pytest.mark.parametrize(
    ("peer", "settings", "forwarded", "recorded"),
    [
        ("203.0.113.5", {}, "", "203.0.113.5"),
        ("203.0.113.5", {}, "198.51.100.7", "203.0.113.5"),  # spoofed: peer not a proxy
        ("127.0.0.1", {}, "198.51.100.7", "127.0.0.1"),  # no proxy configured at all
        ("10.0.0.2", {"trusted_proxy": ("10.0.0.0/8",)}, "198.51.100.7, 10.0.0.3", "198.51.100.7"),
        # the client put its own header first; the proxy appended the real address
        ("10.0.0.2", {"trusted_proxy": ("10.0.0.0/8",)}, "192.0.2.1, 198.51.100.7", "198.51.100.7"),
        ("10.0.0.2", {"trusted_proxy": ("10.0.0.0/8",)}, "not-an-address", "10.0.0.2"),
        ("10.0.0.2", {"trusted_proxy": ("10.9.0.1",)}, "198.51.100.7", "10.0.0.2"),
        ("127.0.0.1", {"behind_proxy": True}, "198.51.100.7", "198.51.100.7"),
        ("10.0.0.2", {"behind_proxy": True}, "198.51.100.7", "10.0.0.2"),
    ],
)
def test_client_address_is_recorded(
    seeded_engine: Engine, peer: str, settings: dict[str, Any], forwarded: str, recorded: str
) -> None:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    config = ServerSettings(**LIMITS, **settings)
    assert _sign_in_from(seeded_engine, peer, config, **headers) == recorded


def _event(engine: Engine, **kw: Any) -> int:
    return record_event(
        engine, at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC), action="search", outcome="success", **kw
    )


def test_chain_covers_the_address_and_old_rows_still_verify(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'chain.db'}")
    upgrade(engine, "0004")  # before the column existed
    for n in range(3):  # as the code before 0007 wrote them: no client_address at all
        values = {"at": dt.datetime(2026, 10, 1, tzinfo=dt.UTC), "action": "search"}
        with serialised(engine) as conn:
            append_row(conn, {**values, "outcome": "success", "username": f"u{n}"})
    upgrade(engine)
    old_row = 2
    new_row = _event(engine, username="u3", client_address="192.0.2.44")
    _event(engine, username="u4")
    with engine.connect() as conn:
        assert verify_chain(conn)[2] is None
    for row_id, value in ((new_row, "192.0.2.45"), (new_row, None), (old_row, "192.0.2.1")):
        with engine.begin() as conn:
            before = conn.execute(
                text("SELECT client_address FROM audit_event WHERE id = :i"), {"i": row_id}
            ).scalar_one()
            conn.execute(
                text("UPDATE audit_event SET client_address = :v WHERE id = :i"),
                {"v": value, "i": row_id},
            )
        with engine.connect() as conn:
            broken = verify_chain(conn)[2]
        assert broken is not None and broken.row_id == row_id and broken.kind == "edited"
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE audit_event SET client_address = :v WHERE id = :i"),
                {"v": before, "i": row_id},
            )
    engine.dispose()
