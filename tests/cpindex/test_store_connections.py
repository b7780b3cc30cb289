"""How a server process holds its store connections.

- A connection that sat idle is checked before use: a PostgreSQL restart (or a proxy
  dropping idle connections) costs no request an error. One in use moments ago is not
  checked, which saved a round trip a search.
- The routes' store work runs on STORE_THREADS threads, and the pool holds that many and
  more, so no connection is opened and closed per request under load.
"""

from __future__ import annotations

import anyio.to_thread
import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import OperationalError

from cpindex.api import create_app
from cpindex.store import db
from cpindex.store.db import STORE_THREADS, make_engine
from tests.cpindex.conftest import TestClient, build_services, engine_url


def _drop_pooled_connections(engine: Engine) -> None:
    """What a server restart does to the pool: its connections die under it."""
    with engine.connect() as conn:
        pid = conn.scalar(text("SELECT pg_backend_pid()"))
    admin = make_engine(engine.url.render_as_string(hide_password=False))
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        admin.dispose()


def test_an_idle_connection_that_died_is_replaced_unseen(
    seeded_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    if seeded_engine.dialect.name != "postgresql":
        return  # a SQLite file has no server to restart
    engine = make_engine(engine_url(seeded_engine))
    try:
        monkeypatch.setattr(db, "_PING_AFTER_IDLE_SECONDS", 0.0)  # every pooled one is idle
        _drop_pooled_connections(engine)
        with engine.connect() as conn:
            assert conn.scalar(select(1)) == 1
        # the same without the check fails: the check is what saved the request
        monkeypatch.setattr(db, "_PING_AFTER_IDLE_SECONDS", 3600.0)
        _drop_pooled_connections(engine)
        with pytest.raises(OperationalError), engine.connect() as conn:
            conn.scalar(select(1))
    finally:
        engine.dispose()


def test_store_work_runs_on_store_threads(seeded_engine: Engine) -> None:
    with TestClient(create_app(build_services(seeded_engine))) as client:
        tokens = client.portal.call(  # type: ignore[union-attr]
            lambda: anyio.to_thread.current_default_thread_limiter().total_tokens
        )
    assert tokens == STORE_THREADS
    assert seeded_engine.pool.size() >= STORE_THREADS + 1  # type: ignore[attr-defined]
