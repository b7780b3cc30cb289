"""Every statement a search, a record view or an audit query runs is served by an index.

Statements are captured as the API runs them, then explained on the same backend. The
small test store would let a planner rightly prefer scanning a tiny table, so scans are
priced out (`enable_seqscan = off` on PostgreSQL): what is proven is that an index exists
for every statement, i.e. no plan is forced to read a whole table. SQLite plans are read
from EXPLAIN QUERY PLAN ("SCAN t" without an index is a full scan).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event

from cpindex.seed.demo import fixed_child
from tests.cpindex.conftest import Api

# Tables that grow with the country; the small lookup tables may be scanned.
_BIG = ("child_name", "child", "carer", "household", "involvement", "audit_event", "user_session")
SEARCHES = [
    {"family": "Smithfield", "birthdate": "2011-03-14"},
    {"family": "Smithfeld", "given": "Olivia", "birthdate": "2011-03-14", "_fuzzy-match": "true"},
    {"family": "Ashworth", "given": "Billy", "birthdate": "2013-07-04", "_fuzzy-match": "true"},
    {"family": "Smithfield", "birthdate": ["ge2010-01-01", "le2012-12-31"]},
    {"family": "Smithfield", "given": "Olivia", "birthdate": ["ge2010-01-01", "le2012-12-31"]},
    {"given": "Olivia", "gender": "female", "address-postalcode": "LS6 2QB",
     "birthdate": ["ge2011-01-01", "le2011-12-31"], "_fuzzy-match": "true"},
    {"family": "Smithfield", "gender": "female", "address-postalcode": "LS6",
     "birthdate": ["ge2011-01-01", "le2011-12-31"], "_fuzzy-match": "true"},
    {"family": "Zzyzx", "given": "Qwerty", "birthdate": "2011-03-14", "_fuzzy-match": "true"},
]  # fmt: skip


@pytest.fixture
def captured(seeded_engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    statements: list[tuple[str, Any]] = []

    def grab(_c: Any, _cur: Any, statement: str, parameters: Any, _ctx: Any, many: bool) -> None:
        if not many and statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(seeded_engine, "before_cursor_execute", grab)
    yield statements
    event.remove(seeded_engine, "before_cursor_execute", grab)


def _plan(engine: Engine, statement: str, parameters: Any) -> str:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "postgresql":
            cursor.execute("SET enable_seqscan = off")
            cursor.execute("EXPLAIN " + statement, parameters)
            text = "\n".join(str(row[0]) for row in cursor.fetchall())
            cursor.execute("RESET enable_seqscan")
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            text = "\n".join(str(row[-1]) for row in cursor.fetchall())
        cursor.close()
        raw.rollback()
        return text
    finally:
        raw.close()


def _full_scans(engine: Engine, plan: str) -> list[str]:
    found = []
    for line in plan.splitlines():
        words = line.replace("->", " ").split()
        if engine.dialect.name == "postgresql":
            if "Seq Scan on" in line and words[words.index("on") + 1] in _BIG:
                found.append(line.strip())
        elif words[:1] == ["SCAN"] and words[1] in _BIG and "INDEX" not in line:
            found.append(line.strip())
        elif words[:1] == ["SCAN"] and words[1] in _BIG and "COVERING INDEX" in line:
            found.append(line.strip())  # a whole covering index read is a scan too
    return found


def test_no_statement_scans_a_big_table(
    api: Api, seeded_engine: Engine, captured: list[tuple[str, Any]]
) -> None:
    for params in SEARCHES:
        status, _ = api.search(**params)
        assert status == 200
    olivia = fixed_child("Smithfield", "Olivia").index_id
    assert api.everything(olivia)[0] == 200
    for query in ({"agent": "me"}, {"agent": "nurse.demo", "patient": olivia}):
        api.client.get("/AuditEvent", params=query, headers=api.headers())
    assert len(captured) >= len(SEARCHES)
    offenders = {}
    for statement, parameters in captured:
        scans = _full_scans(seeded_engine, _plan(seeded_engine, statement, parameters))
        if scans:
            offenders[statement[:160]] = scans
    assert offenders == {}
