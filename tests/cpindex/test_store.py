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
