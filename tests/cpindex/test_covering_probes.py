"""PostgreSQL answers a search's date-of-birth probes from the index alone (INCLUDE), in a
seeded store and in one migrated from revision 0012 (issue 16, item 4)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event, text

from cpindex.store.db import make_engine, upgrade
from tests.cpindex.conftest import Api, engine_url

_PROBES = (
    "ix_child_name_dob_family",
    "ix_child_name_dob_family_phon",
    "ix_child_name_dob_given_phon",
)
_FUZZY = {
    "family": "Smithfeld",
    "given": "Olivia",
    "birthdate": "2011-03-14",
    "_fuzzy-match": "true",
}


def _definitions(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'child_name'")
        ).all()
    return {str(name): str(definition) for name, definition in rows if name in _PROBES}


@pytest.fixture
def probes(seeded_engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def grab(_c: Any, _cur: Any, statement: str, parameters: Any, _ctx: Any, many: bool) -> None:
        if "FROM child_name" in statement and "birth_int IN" in statement:
            seen.append((statement, parameters))

    event.listen(seeded_engine, "before_cursor_execute", grab)
    yield seen
    event.remove(seeded_engine, "before_cursor_execute", grab)


def test_the_date_probes_read_no_table_rows(
    api: Api, seeded_engine: Engine, probes: list[tuple[str, Any]]
) -> None:
    if seeded_engine.dialect.name != "postgresql":
        return  # SQLite has no INCLUDE; its indexes are as before
    assert all("INCLUDE" in d for d in _definitions(seeded_engine).values())
    with seeded_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM child_name"))  # the visibility map index-only scans need
    assert api.search(**_FUZZY)[0] == 200
    assert probes
    raw = seeded_engine.raw_connection()
    try:
        cursor = raw.cursor()
        for statement, parameters in probes:
            cursor.execute("EXPLAIN (ANALYZE, COSTS OFF) " + statement, parameters)
            plan = "\n".join(str(row[0]) for row in cursor.fetchall())
            assert "Index Only Scan" in plan, plan
            assert "Heap Fetches: 0" in plan, plan
        raw.rollback()
    finally:
        raw.close()


def test_a_store_migrated_from_0012_gets_the_same_indexes(seeded_engine: Engine) -> None:
    if seeded_engine.dialect.name != "postgresql":
        return
    name = f"cpindex_mig_{uuid.uuid4().hex[:8]}"
    admin = seeded_engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    admin.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = engine_url(seeded_engine).rsplit("/", 1)[0] + f"/{name}"
        engine = make_engine(url)
        try:
            upgrade(engine, "0012")
            assert not any("INCLUDE" in d for d in _definitions(engine).values())
            upgrade(engine)
            assert _definitions(engine) == _definitions(seeded_engine)
        finally:
            engine.dispose()
    finally:
        admin.execute(text(f'DROP DATABASE "{name}"'))
        admin.close()
