"""The audit hash chain: intact after traffic, and each kind of tampering named at its row.

Tampering is done with plain SQL on the shared store and undone at once, so the chain is
intact again for the next test (checked at the end of each).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, delete, insert, select, update

from cpindex.audit import record_event
from cpindex.audit.chain import GENESIS, Break, content_of, verify_chain
from cpindex.cli import main
from cpindex.clock import ManualClock
from cpindex.store.db import make_engine
from cpindex.store.schema import audit_chain, audit_event
from tests.cpindex.conftest import Api, engine_url


def _verify(engine: Engine) -> Break | None:
    with engine.connect() as conn:
        return verify_chain(conn)[2]


def _append(engine: Engine, n: int) -> list[int]:
    clock = ManualClock()
    return [
        record_event(
            engine, at=clock.now(), action="search", outcome="success", username="chain.test",
            detail={"results": i, "parameters": {"family": "Test"}},
        )
        for i in range(n)
    ]  # fmt: skip


def _row(engine: Engine, row_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(
            conn.execute(select(audit_event).where(audit_event.c.id == row_id)).one()._mapping
        )


def _forge(engine: Engine, target: int) -> tuple[dict[str, Any], str]:
    """Change row `target`'s username and give it a matching hash: (original, new hash)."""
    import hashlib

    original = _row(engine, target)
    forged = {**original, "username": "someone.else"}
    forged_hash = hashlib.sha256(
        f"{original['prev_hash']}|{content_of(target, forged)}".encode()
    ).hexdigest()
    with engine.begin() as conn:
        conn.execute(
            update(audit_event)
            .where(audit_event.c.id == target)
            .values(username="someone.else", row_hash=forged_hash)
        )
    return original, forged_hash


@pytest.fixture
def rows(seeded_engine: Engine) -> Iterator[list[int]]:
    """Five fresh rows at the end of the chain; the chain must be intact afterwards."""
    ids = _append(seeded_engine, 5)
    yield ids
    assert _verify(seeded_engine) is None


def test_traffic_keeps_the_chain_intact(api: Api, seeded_engine: Engine) -> None:
    api.search(family="Smithfield", birthdate="2011-03-14")
    with seeded_engine.connect() as conn:
        count, head, broken = verify_chain(conn)
    assert broken is None and count > 0 and head != GENESIS


def test_an_edited_row_is_named(seeded_engine: Engine, rows: list[int]) -> None:
    target = rows[2]
    with seeded_engine.begin() as conn:
        conn.execute(
            update(audit_event).where(audit_event.c.id == target).values(outcome="failure")
        )
    assert _verify(seeded_engine) == Break(target, "edited", f"row {target} was changed")
    with seeded_engine.begin() as conn:
        conn.execute(
            update(audit_event).where(audit_event.c.id == target).values(outcome="success")
        )


def test_an_edited_and_rehashed_row_is_named(seeded_engine: Engine, rows: list[int]) -> None:
    target = rows[1]
    original, _ = _forge(seeded_engine, target)
    broken = _verify(seeded_engine)
    assert broken is not None and (broken.row_id, broken.kind) == (target, "edited")
    with seeded_engine.begin() as conn:
        conn.execute(
            update(audit_event)
            .where(audit_event.c.id == target)
            .values(username=original["username"], row_hash=original["row_hash"])
        )


def test_a_deleted_row_is_named(seeded_engine: Engine, rows: list[int]) -> None:
    for target in (rows[2], rows[-1]):  # in the middle, and the last row
        original = _row(seeded_engine, target)
        with seeded_engine.begin() as conn:
            conn.execute(delete(audit_event).where(audit_event.c.id == target))
        broken = _verify(seeded_engine)
        assert broken is not None and (broken.row_id, broken.kind) == (target, "deleted")
        with seeded_engine.begin() as conn:
            conn.execute(insert(audit_event).values(**original))


def test_a_row_added_past_the_head_is_named(seeded_engine: Engine, rows: list[int]) -> None:
    extra = {**_row(seeded_engine, rows[-1]), "id": rows[-1] + 1}
    with seeded_engine.begin() as conn:
        conn.execute(insert(audit_event).values(**extra))
    assert _verify(seeded_engine) == Break(
        rows[-1] + 1, "inserted", f"row {rows[-1] + 1} is past the head"
    )
    with seeded_engine.begin() as conn:
        conn.execute(delete(audit_event).where(audit_event.c.id == rows[-1] + 1))


def test_a_row_slipped_in_between_is_named(seeded_engine: Engine, rows: list[int]) -> None:
    """Renumber the last rows up by one and put a forged, well-chained row in the gap."""
    import hashlib

    target = rows[3]
    originals = [_row(seeded_engine, i) for i in rows[3:]]
    with seeded_engine.begin() as conn:
        for row in reversed(originals):
            conn.execute(
                update(audit_event).where(audit_event.c.id == row["id"]).values(id=row["id"] + 1)
            )
        forged = {**originals[0], "id": target, "username": "ghost"}
        forged["row_hash"] = hashlib.sha256(
            f"{forged['prev_hash']}|{content_of(target, forged)}".encode()
        ).hexdigest()
        conn.execute(insert(audit_event).values(**forged))
        conn.execute(update(audit_chain).values(last_id=rows[-1] + 1))
    broken = _verify(seeded_engine)
    assert broken is not None and (broken.row_id, broken.kind) == (target, "inserted")
    with seeded_engine.begin() as conn:
        conn.execute(delete(audit_event).where(audit_event.c.id == target))
        for row in originals:
            conn.execute(
                update(audit_event).where(audit_event.c.id == row["id"] + 1).values(id=row["id"])
            )
        conn.execute(update(audit_chain).values(last_id=rows[-1]))


def test_cli_verify_reports_the_row(
    seeded_engine: Engine, rows: list[int], capsys: pytest.CaptureFixture[str]
) -> None:
    url = engine_url(seeded_engine)
    assert main(["audit", "verify", "--db", url]) == 0
    assert "audit chain intact" in capsys.readouterr().out
    with seeded_engine.begin() as conn:
        conn.execute(update(audit_event).where(audit_event.c.id == rows[0]).values(action="view"))
    assert main(["audit", "verify", "--db", url]) == 1
    assert f"broken at row {rows[0]} (edited)" in capsys.readouterr().err
    with seeded_engine.begin() as conn:
        conn.execute(update(audit_event).where(audit_event.c.id == rows[0]).values(action="search"))


def test_concurrent_appends_form_one_chain(seeded_engine: Engine) -> None:
    """Two engines (two connection pools, as two processes have) append at once."""
    url = engine_url(seeded_engine)
    engines = [make_engine(url), make_engine(url)]
    errors: list[BaseException] = []

    def work(engine: Engine) -> None:
        try:
            _append(engine, 40)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(e,)) for e in engines for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for engine in engines:
        engine.dispose()
    assert errors == []
    assert _verify(seeded_engine) is None


# --- Truncation and the anchor kept elsewhere (issue 12, item 7) ---------------------------


def _anchor(engine: Engine, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["audit", "anchor", "--db", engine_url(engine)]) == 0
    line = capsys.readouterr().out.strip()
    assert len(line.splitlines()) == 1
    return line


def _cli_verify(engine: Engine, *extra: str) -> int:
    return main(["audit", "verify", "--db", engine_url(engine), *extra])


def test_anchor_prints_the_head_as_one_line(
    seeded_engine: Engine, rows: list[int], capsys: pytest.CaptureFixture[str]
) -> None:
    line = _anchor(seeded_engine, capsys)
    token, when = line.split(" ")
    row_id, row_hash = token.split(":")
    head = _row(seeded_engine, rows[-1])
    assert (int(row_id), row_hash) == (rows[-1], head["row_hash"])
    assert when.endswith("Z") and when.startswith(head["at"].date().isoformat())
    assert _cli_verify(seeded_engine, "--expect-head", token) == 0
    assert f"anchored row {rows[-1]} in place" in capsys.readouterr().out
    assert _cli_verify(seeded_engine, "--expect-head", line) == 0  # the whole line works too
    assert _cli_verify(seeded_engine, "--expect-head", "12:nothex") == 2


def test_newest_rows_deleted_and_the_head_moved_back_is_caught(
    seeded_engine: Engine, rows: list[int], capsys: pytest.CaptureFixture[str]
) -> None:
    token = _anchor(seeded_engine, capsys).split()[0]
    keep = _row(seeded_engine, rows[1])
    gone = [_row(seeded_engine, i) for i in rows[2:]]
    with seeded_engine.begin() as conn:
        conn.execute(delete(audit_event).where(audit_event.c.id > keep["id"]))
        conn.execute(update(audit_chain).values(last_id=keep["id"], last_hash=keep["row_hash"]))
    try:
        assert _verify(seeded_engine) is None  # the chain alone cannot tell
        assert _cli_verify(seeded_engine, "--expect-head", token) == 1
        err = capsys.readouterr().err
        assert f"anchored row {rows[-1]} is gone" in err
    finally:
        with seeded_engine.begin() as conn:
            conn.execute(insert(audit_event), gone)
            last = gone[-1]
            conn.execute(update(audit_chain).values(last_id=last["id"], last_hash=last["row_hash"]))
    assert _cli_verify(seeded_engine, "--expect-head", token) == 0


def test_an_emptied_log_is_not_intact(
    seeded_engine: Engine, rows: list[int], capsys: pytest.CaptureFixture[str]
) -> None:
    token = _anchor(seeded_engine, capsys).split()[0]
    with seeded_engine.connect() as conn:
        everything = [dict(r._mapping) for r in conn.execute(select(audit_event))]
        head = dict(conn.execute(select(audit_chain)).one()._mapping)
    with seeded_engine.begin() as conn:
        conn.execute(delete(audit_event))
        conn.execute(delete(audit_chain))
    try:
        assert _verify(seeded_engine) == Break(
            0, "deleted", "the chain head (audit_chain) is missing"
        )
        assert _cli_verify(seeded_engine) == 1
        assert "chain head (audit_chain) is missing" in capsys.readouterr().err
        # Emptied and a fresh genesis head put back: only the anchor shows it.
        with seeded_engine.begin() as conn:
            conn.execute(insert(audit_chain).values(id=1, last_id=0, last_hash=GENESIS))
        assert _verify(seeded_engine) is None
        assert _cli_verify(seeded_engine, "--expect-head", token) == 1
    finally:
        with seeded_engine.begin() as conn:
            conn.execute(delete(audit_chain))
            for start in range(0, len(everything), 500):
                conn.execute(insert(audit_event), everything[start : start + 500])
            conn.execute(insert(audit_chain).values(**head))


def test_an_edited_anchored_row_is_caught_even_when_rehashed(
    seeded_engine: Engine, rows: list[int], capsys: pytest.CaptureFixture[str]
) -> None:
    """Rewrite the anchored (last) row and re-hash it and the head: a consistent chain,
    which only the anchor exposes."""
    token = _anchor(seeded_engine, capsys).split()[0]
    original, forged_hash = _forge(seeded_engine, rows[-1])
    with seeded_engine.begin() as conn:
        conn.execute(update(audit_chain).values(last_hash=forged_hash))
    try:
        assert _verify(seeded_engine) is None
        assert _cli_verify(seeded_engine, "--expect-head", token) == 1
        assert f"anchored row {rows[-1]} is not the row anchored" in capsys.readouterr().err
    finally:
        with seeded_engine.begin() as conn:
            conn.execute(
                update(audit_event)
                .where(audit_event.c.id == rows[-1])
                .values(username=original["username"], row_hash=original["row_hash"])
            )
            conn.execute(update(audit_chain).values(last_hash=original["row_hash"]))
