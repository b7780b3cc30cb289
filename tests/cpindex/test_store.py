"""The Alembic migrations build exactly the tables declared in cpindex.store.schema."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from cpindex.store.db import default_database_url, make_engine, upgrade
from cpindex.store.schema import SEARCH_INDEXES, metadata


def test_migrations_match_the_declared_schema(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    upgrade(engine)
    upgrade(engine)  # idempotent
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    names = {ix["name"] for ix in inspect(engine).get_indexes("child_name")}
    assert {ix.name for ix in SEARCH_INDEXES} <= names
    engine.dispose()


def test_upgrade_works_from_any_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    engine = make_engine(f"sqlite:///{tmp_path / 'elsewhere.db'}")
    upgrade(engine)
    assert "child" in inspect(engine).get_table_names()
    engine.dispose()


def test_default_url_prefers_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CPINDEX_DATABASE_URL", "postgresql+psycopg://x@127.0.0.1/y")
    assert default_database_url() == "postgresql+psycopg://x@127.0.0.1/y"
    monkeypatch.delenv("CPINDEX_DATABASE_URL")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_database_url().startswith("sqlite:///")


def test_rows_written_before_the_chain_are_chained_by_the_upgrade(tmp_path: Path) -> None:
    import datetime as dt

    from sqlalchemy import text

    from cpindex.audit import record_event
    from cpindex.audit.chain import verify_chain

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0002")
    with engine.begin() as conn:
        for i in (5, 9, 12):  # part 1 ids, with gaps
            conn.execute(
                text(
                    "INSERT INTO audit_event (id, at, username, action, outcome, detail) "
                    "VALUES (:i, '2026-11-20 10:00:00.000000', 'old.user', 'search', "
                    "'success', '{\"results\": 1}')"
                ),
                {"i": i},
            )
    upgrade(engine)
    record_event(engine, at=dt.datetime.now(dt.UTC), action="sign-in", outcome="success")
    with engine.connect() as conn:
        count, _head, broken = verify_chain(conn)
    assert (count, broken) == (4, None)
    engine.dispose()
