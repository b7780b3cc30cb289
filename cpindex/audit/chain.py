"""The audit hash chain: append under the chain-head lock, and verify.

Each row is hashed with the previous row's hash: row_hash = SHA-256(prev_hash "|" content),
content being the row's id and every field, canonical JSON. Ids are consecutive (given
from the head, never from a sequence), so a deleted row leaves a gap and a row added past
the head shows. The head (audit_chain, one row) is locked for every append, so appends
from several server processes form one chain. An attacker able to rewrite the whole
table and the head can forge a fresh chain; export the head `verify` prints to catch that.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, text, update

from cpindex.store.schema import audit_chain, audit_event

__all__ = [
    "GENESIS",
    "HEAD_FOR_UPDATE",
    "Anchor",
    "Break",
    "anchor",
    "append_row",
    "append_rows",
    "chain_rows",
    "check_anchor",
    "content_of",
    "head_of",
    "lock_head",
    "parse_anchor",
    "rechain_legacy_rows",
    "verify_chain",
    "write_chained",
]

GENESIS = "0" * 64
_FIELDS = (
    "at",
    "request_id",
    "username",
    "role",
    "organisation",
    "action",
    "outcome",
    "patient_id",
    "detail",
)


def _iso(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds")
    return value


def content_of(row_id: int, values: dict[str, Any]) -> str:
    """The canonical text hashed for a row (its id included, so renumbering shows).

    The client address (migration 0007) is hashed only when set, so rows written before
    it keep their hashes; setting or clearing it on any row still breaks the chain.
    """
    fields = [row_id, *(_iso(values.get(f)) for f in _FIELDS)]
    if values.get("client_address") is not None:
        fields.append({"client_address": values["client_address"]})
    return json.dumps(fields, separators=(",", ":"))


def _hash(prev_hash: str, content: str) -> str:
    return hashlib.sha256(f"{prev_hash}|{content}".encode()).hexdigest()


def append_row(conn: Connection, values: dict[str, Any]) -> int:
    """Chain and insert one row; `conn` must be in a serialised transaction (db.serialised)."""
    return append_rows(conn, [values])[0]


# The chain head, locked for the transaction (FOR UPDATE): every appender takes it first,
# so whatever else a group writes under it (the rate counters) is serialised across
# processes as well.
HEAD_FOR_UPDATE = (
    select(audit_chain.c.last_id, audit_chain.c.last_hash)
    .where(audit_chain.c.id == 1)
    .with_for_update()
)


def lock_head(conn: Connection) -> tuple[int, str]:
    """Lock the chain head for this transaction; its (last id, last hash)."""
    return head_of(conn.execute(HEAD_FOR_UPDATE).all())


def head_of(rows: Sequence[Sequence[Any]]) -> tuple[int, str]:
    """(last id, last hash) from HEAD_FOR_UPDATE's one row."""
    ((last_id, last_hash),) = rows
    return int(last_id), str(last_hash)


def append_rows(conn: Connection, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Chain and insert `rows` in order under one lock of the head; their ids.

    The head is read (FOR UPDATE) and written once for the lot (the audit's group writer
    does the same in its own steps, cpindex.audit.group).
    """
    if not rows:
        return []
    chained = chain_rows(rows, lock_head(conn))
    write_chained(conn, chained)
    return [int(r["id"]) for r in chained]


def chain_rows(rows: Sequence[dict[str, Any]], head: tuple[int, str]) -> list[dict[str, Any]]:
    """`rows` with their ids and hashes, continuing the chain from `head` (no I/O)."""
    row_id, prev_hash = head
    chained: list[dict[str, Any]] = []
    for values in rows:
        row_id += 1
        row_hash = _hash(prev_hash, content_of(row_id, values))
        chained.append({**values, "id": row_id, "prev_hash": prev_hash, "row_hash": row_hash})
        prev_hash = row_hash
    return chained


_INSERT_ROWS = insert(audit_event)
_MOVE_HEAD = (
    update(audit_chain)
    .where(audit_chain.c.id == 1)
    .values(last_id=bindparam("new_id"), last_hash=bindparam("new_hash"))
)


def write_chained(conn: Connection, chained: Sequence[dict[str, Any]]) -> None:
    """Insert chained rows and move the head to the last (under the head's lock)."""
    conn.execute(_INSERT_ROWS, list(chained))
    conn.execute(_MOVE_HEAD, {"new_id": chained[-1]["id"], "new_hash": chained[-1]["row_hash"]})


@dataclass(frozen=True)
class Break:
    """The first place the chain does not hold: `kind` is edited, deleted or inserted."""

    row_id: int
    kind: str
    message: str


def verify_chain(conn: Connection) -> tuple[int, str, Break | None]:
    """(rows checked, head hash, first break or None). Streams the rows."""
    result = conn.execution_options(yield_per=5000).execute(
        select(audit_event).order_by(audit_event.c.id)
    )
    try:
        return _walk(conn, (row._mapping for row in result))
    finally:
        result.close()


def _walk(conn: Connection, rows: Iterator[Any]) -> tuple[int, str, Break | None]:
    head = conn.execute(select(audit_chain.c.last_id, audit_chain.c.last_hash)).first()
    if head is None:
        return 0, GENESIS, Break(0, "deleted", "the chain head (audit_chain) is missing")
    head_id, head_hash = int(head[0]), str(head[1])
    prev_id, prev_hash = 0, GENESIS
    count = 0
    pending = next(rows, None)
    while pending is not None:
        row = pending
        pending = next(rows, None)
        count += 1
        row_id = int(row["id"])
        stored_prev, stored_hash = row["prev_hash"] or "", row["row_hash"] or ""
        if row_id > head_id:
            return count, head_hash, Break(row_id, "inserted", f"row {row_id} is past the head")
        if row_id != prev_id + 1:
            missing = prev_id + 1
            return count, head_hash, Break(missing, "deleted", f"row {missing} is missing")
        own_ok = _hash(stored_prev, content_of(row_id, dict(row))) == stored_hash
        if not own_ok:
            if _hash(stored_prev, content_of(row_id - 1, dict(row))) == stored_hash:
                message = f"a row was inserted at {row_id - 1}, shifting the rest"
                return count, head_hash, Break(row_id - 1, "inserted", message)
            return count, head_hash, Break(row_id, "edited", f"row {row_id} was changed")
        if stored_prev != prev_hash:
            # This row is intact but does not follow its predecessor: the predecessor was
            # changed and re-hashed, or this row was slipped in between.
            if pending is not None and pending["prev_hash"] == prev_hash:
                return count, head_hash, Break(row_id, "inserted", f"row {row_id} was added")
            message = f"row {prev_id} was changed and re-hashed"
            return count, head_hash, Break(prev_id, "edited", message)
        prev_id, prev_hash = row_id, stored_hash
    if prev_id < head_id:
        missing = prev_id + 1
        return count, head_hash, Break(missing, "deleted", f"rows from {missing} are missing")
    if prev_hash != head_hash:
        return count, head_hash, Break(prev_id, "edited", f"row {prev_id} does not match the head")
    return count, head_hash, None


@dataclass(frozen=True)
class Anchor:
    """The chain head at one moment: `ID:HASH` and the row's time (empty log: 0, genesis)."""

    row_id: int
    row_hash: str
    at: dt.datetime | None

    def line(self) -> str:
        when = _iso(self.at).replace("+00:00", "Z") if self.at else "-"
        return f"{self.row_id}:{self.row_hash} {when}"


def anchor(conn: Connection) -> Anchor:
    """The current head, to be kept outside the store (call after verify_chain holds)."""
    head = conn.execute(select(audit_chain.c.last_id, audit_chain.c.last_hash)).first()
    if head is None:
        raise LookupError("the chain head (audit_chain) is missing")
    row_id, row_hash = int(head[0]), str(head[1])
    at = conn.scalar(select(audit_event.c.at).where(audit_event.c.id == row_id))
    return Anchor(row_id, row_hash, at)


def parse_anchor(text: str) -> tuple[int, str]:
    """`ID:HASH` (as `anchor` prints it, time optional after a space) -> (id, hash)."""
    token = text.strip().split()[0] if text.strip() else ""
    raw_id, _, raw_hash = token.partition(":")
    row_hash = raw_hash.lower()
    if (
        not raw_id.isascii()
        or not raw_id.isdigit()
        or len(row_hash) != 64
        or any(c not in "0123456789abcdef" for c in row_hash)
    ):
        raise ValueError("give the anchor as ID:HASH, as `cpindex audit anchor` printed it")
    return int(raw_id), row_hash


def check_anchor(conn: Connection, row_id: int, row_hash: str) -> Break | None:
    """After verify_chain holds: the anchored row is still there, unchanged, and reached."""
    if row_id == 0:
        return None if row_hash == GENESIS else Break(0, "edited", "the anchor is not a row")
    head_id = conn.scalar(select(audit_chain.c.last_id).where(audit_chain.c.id == 1))
    stored = conn.scalar(select(audit_event.c.row_hash).where(audit_event.c.id == row_id))
    if stored is None or head_id is None or int(head_id) < row_id:
        return Break(row_id, "deleted", f"anchored row {row_id} is gone (log truncated)")
    if stored != row_hash:
        return Break(row_id, "edited", f"anchored row {row_id} is not the row anchored")
    return None


def rechain_legacy_rows(conn: Connection) -> tuple[int, str]:
    """Chain rows written before the chain existed (migration 0003), renumbering them 1..n."""
    rows = conn.execute(
        text(
            "SELECT id, at, request_id, username, role, organisation, action, outcome, "
            "patient_id, detail FROM audit_event ORDER BY id"
        )
    ).all()
    prev_hash, new_id = GENESIS, 0
    for row in rows:
        new_id += 1
        values = dict(zip(("old_id", *_FIELDS), row, strict=True))
        at = values["at"]
        if isinstance(at, str):
            at = dt.datetime.fromisoformat(at)
        values["at"] = at
        row_hash = _hash(prev_hash, content_of(new_id, values))
        conn.execute(
            text("UPDATE audit_event SET id = :new, prev_hash = :p, row_hash = :h WHERE id = :old"),
            {"new": -new_id, "p": prev_hash, "h": row_hash, "old": values["old_id"]},
        )
        prev_hash = row_hash
    conn.execute(text("UPDATE audit_event SET id = -id WHERE id < 0"))
    return new_id, prev_hash
