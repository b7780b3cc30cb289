"""The index team's review decisions, remembered for the source's later feeds.

A source resends its whole caseload with every feed, so a row the index team decided
("Link" or "Not this child") comes back each time. The decision is kept per source under
a key of the row's child identity (given and family names, date of birth, postcode, NHS
number; case and spacing folded) and the candidate child: when the same source sends that
identity again and the linker's best candidate is the same child, the person's decision
stands, whatever the linker's score, and nobody is asked again. A changed identity (a new
postcode, a corrected name) or another candidate is a new question.

The key is a SHA-256 for lookup, not for secrecy: the review queue keeps the row itself.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence

from sqlalchemy import Connection, delete, insert, select

from cpindex.feeds.formats import FeedRow
from cpindex.feeds.link import Decision
from cpindex.store.schema import review_memory

__all__ = [
    "REMEMBERED_LINK",
    "REMEMBERED_NOT",
    "apply_memory",
    "remember",
    "row_key",
    "same_question",
]

REMEMBERED_LINK = "linked as the index team decided for this row before"
REMEMBERED_NOT = "the index team decided before that this row is not the candidate child"


def _fold(text: str | None) -> str:
    return " ".join((text or "").casefold().split())


def row_key(row: FeedRow) -> str:
    """The row's child identity as the source sent it (not the practitioner part)."""
    identity = [
        _fold(row.given),
        _fold(row.family),
        row.birth_date.isoformat(),
        _fold(row.postcode).replace(" ", ""),
        (row.nhs_number or "").replace(" ", ""),
    ]
    return hashlib.sha256(json.dumps(identity).encode()).hexdigest()


def apply_memory(
    conn: Connection, source_id: int, decisions: Sequence[Decision]
) -> tuple[list[Decision], dict[int, int]]:
    """The decisions with remembered ones applied, and {row number: review id} for those."""
    remembered = {
        (str(key), int(pk)): (str(decision), int(review))
        for key, pk, decision, review in conn.execute(
            select(
                review_memory.c.row_key,
                review_memory.c.child_pk,
                review_memory.c.decision,
                review_memory.c.review_id,
            ).where(review_memory.c.source_id == source_id)
        )
    }
    if not remembered:
        return list(decisions), {}
    out: list[Decision] = []
    applied: dict[int, int] = {}
    for d in decisions:
        found = remembered.get((row_key(d.row), d.child_pk)) if d.child_pk is not None else None
        if found is None:
            out.append(d)
            continue
        decision, review = found
        applied[d.row.number] = review
        if decision == "linked":
            out.append(dataclasses.replace(d, outcome="linked", reason=REMEMBERED_LINK))
        else:
            out.append(dataclasses.replace(d, outcome="rejected", reason=REMEMBERED_NOT))
    return out, applied


def remember(
    conn: Connection,
    *,
    source_id: int,
    row: FeedRow,
    child_pk: int,
    decision: str,
    review_id: int,
    decided_by: str,
    decided_at: object,
) -> None:
    """Keep (or replace) the decision for this source, row identity and child."""
    key = row_key(row)
    conn.execute(
        delete(review_memory).where(
            review_memory.c.source_id == source_id,
            review_memory.c.row_key == key,
            review_memory.c.child_pk == child_pk,
        )
    )
    conn.execute(
        insert(review_memory).values(
            source_id=source_id,
            row_key=key,
            child_pk=child_pk,
            decision=decision,
            review_id=review_id,
            decided_by=decided_by,
            decided_at=decided_at,
        )
    )


def same_question(rows: Sequence[tuple[int, str, int]], row: FeedRow, child_pk: int) -> list[int]:
    """Ids among (id, row JSON, child) asking the same question as `row` about `child_pk`."""
    key = row_key(row)
    return [
        item
        for item, raw, pk in rows
        if pk == child_pk and row_key(FeedRow.from_json(json.loads(raw))) == key
    ]
