"""A request never holds one pooled connection while it waits for a second.

Found under load (benchmarks/load.py, 64 connections, one token): every request that read
its session on the route's connection and then slid the session's idle expiry on a second
one held the first meanwhile; when as many requests as the pool holds did so at once,
none could get its second and all waited out the pool's timeout (a stall, then 500s). A
refused search's audit row, written while the read connection was held, did the same.
Here the pool holds one connection and gives up after a second: any route that needs two
at once fails every time, whatever the timing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, update

from cpindex.api import create_app
from cpindex.auth.sessions import hash_token
from cpindex.clock import ManualClock
from cpindex.store.schema import user_session
from tests.cpindex.conftest import build_services, engine_url, sign_in

SEARCH = {"family": "Smithfield", "given": "Olivia", "birthdate": "2011-03-14"}


@pytest.fixture
def one_connection(seeded_engine: Engine) -> Iterator[Engine]:
    url = engine_url(seeded_engine)
    extra = {"check_same_thread": False} if url.startswith("sqlite") else {}
    engine = create_engine(url, pool_size=1, max_overflow=0, pool_timeout=1, connect_args=extra)
    yield engine
    engine.dispose()


def _due_for_a_slide(engine: Engine, token: str, clock: ManualClock) -> None:
    """Move the session's idle expiry back, still live, so the next request slides it."""
    with engine.begin() as conn:
        conn.execute(
            update(user_session)
            .where(user_session.c.token_hash == hash_token(token))
            .values(idle_expires_at=clock.now() + dt.timedelta(minutes=1))
        )


def test_search_and_view_slide_the_session_and_refuse_with_one_pooled_connection(
    one_connection: Engine,
) -> None:
    clock = ManualClock()
    services = build_services(one_connection, clock=clock)
    with TestClient(create_app(services)) as client:
        token = sign_in(client, clock)
        headers = {"Authorization": f"Bearer {token}"}
        _due_for_a_slide(one_connection, token, clock)
        found = client.get("/Patient", params=SEARCH, headers=headers)
        assert found.status_code == 200
        index_id = found.json()["entry"][0]["resource"]["id"]
        _due_for_a_slide(one_connection, token, clock)
        view = {**headers, "X-Access-Reason": "health-care"}
        assert client.get(f"/Patient/{index_id}/$everything", headers=view).status_code == 200
        expires = found.headers["X-Session-Idle-Expires"]
        assert expires > (clock.now() + dt.timedelta(minutes=1)).isoformat()[:19]  # slid
        # refusals write their audit row: never while a read connection is held
        refused = client.get(
            "/Patient", params={**SEARCH, "birthdate": "nonsense"}, headers=headers
        )
        assert refused.status_code == 400
        no_reason = client.get(f"/Patient/{index_id}/$everything", headers=headers)
        assert no_reason.status_code == 400
    services.audit_log.close()
