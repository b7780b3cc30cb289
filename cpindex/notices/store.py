"""The notice table: who may be sent a notice about a child, and the rows themselves.

A recipient is named as the PractitionerRole id the record serves
(`{index id}-involvement-{n}`, n counting the child's involvements in order) and resolved
here to the linked account (cpindex.notices.accounts). A notice row's recipient is a user,
or NULL for the index team's queue (every shielded child's notices go there).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.sql import ColumnElement

from cpindex.errors import RequestError
from cpindex.store.schema import (
    audit_event,
    child,
    involvement,
    notice,
    practitioner_account,
    self_declaration,
    user_account,
)

__all__ = [
    "Notice",
    "find_child",
    "has_opened",
    "insert_notices",
    "load_notices",
    "mark",
    "resolve_recipients",
]


@dataclass(frozen=True)
class Notice:
    id: int
    sender_id: int
    sender: str  # "display name, organisation"
    recipient_user_id: int | None
    recipient: str | None  # display name; None: the index team's queue
    patient_id: str
    shielded: bool
    category: str
    text: str
    created_at: dt.datetime
    read_at: dt.datetime | None
    done_at: dt.datetime | None
    relayed_from: int | None
    asked_by: str | None = None  # a relayed copy: who sent the original ("name, organisation")

    def __repr__(self) -> str:  # never the text
        return f"Notice(id={self.id})"


def find_child(conn: Connection, index_id: str) -> tuple[int, bool] | None:
    """(child pk, served shielded) or None."""
    row = conn.execute(
        select(child.c.pk, child.c.effectively_shielded).where(child.c.index_id == index_id)
    ).first()
    return None if row is None else (int(row[0]), bool(row[1]))


def has_opened(conn: Connection, username: str, index_id: str, since: dt.datetime) -> bool:
    """Whether `username` opened the child's record ($everything) since `since`: a notice
    is sent from a record, so a sender must be able to see the child already."""
    return (
        conn.execute(
            select(audit_event.c.id)
            .where(audit_event.c.patient_id == index_id)
            .where(audit_event.c.username == username)
            .where(audit_event.c.action == "view")
            .where(audit_event.c.outcome == "success")
            .where(audit_event.c.at >= since)
            .limit(1)
        ).first()
        is not None
    )


def _unknown() -> RequestError:
    return RequestError(
        400, "value", "INVALID_VALUE",
        "Unknown recipient: name a PractitionerRole listed on this child's record.",
    )  # fmt: skip


def resolve_recipients(
    conn: Connection, index_id: str, child_pk: int, references: list[str]
) -> list[int]:
    """The accounts of the named involvements (none named: the lead professional)."""
    rows = conn.execute(
        select(involvement.c.lead, practitioner_account.c.user_id, self_declaration.c.ended_at)
        .outerjoin(
            practitioner_account,
            practitioner_account.c.practitioner_id == involvement.c.practitioner_id,
        )
        .outerjoin(self_declaration, self_declaration.c.involvement_id == involvement.c.id)
        .where(involvement.c.child_pk == child_pk)
        .order_by(involvement.c.id)
    ).all()
    # Numbered as the record numbers them (ended self-declarations count, and are unknown).
    by_ref = {
        f"PractitionerRole/{index_id}-involvement-{n}": r
        for n, r in enumerate(rows, 1)
        if r[2] is None
    }
    rows = [r for r in rows if r[2] is None]
    if references:
        if len(set(references)) != len(references) or any(r not in by_ref for r in references):
            raise _unknown()
        chosen = [by_ref[r] for r in references]
    else:
        chosen = [r for r in rows if r[0]]
        if not chosen:
            raise RequestError(
                400, "required", "MISSING_VALUE",
                "This child has no lead professional: name a recipient.",
            )  # fmt: skip
    if any(r[1] is None for r in chosen):
        raise RequestError(
            400, "value", "INVALID_VALUE",
            "That practitioner has no account on the index: phone them instead.",
        )  # fmt: skip
    return sorted({int(r[1]) for r in chosen})


def insert_notices(
    conn: Connection,
    *,
    sender_id: int,
    recipients: list[int | None],
    child_pk: int,
    category: str,
    text: str,
    now: dt.datetime,
    relayed_from: int | None = None,
) -> list[int]:
    ids = []
    for recipient in recipients:
        key = conn.execute(
            insert(notice).values(
                sender_id=sender_id, recipient_user_id=recipient, child_pk=child_pk,
                category=category, text=text, created_at=now, relayed_from=relayed_from,
            )
        ).inserted_primary_key  # fmt: skip
        assert key is not None
        ids.append(int(key[0]))
    return ids


_SENDER = user_account.alias("sender")
_RECIPIENT = user_account.alias("recipient")
_ORIGINAL = notice.alias("original")  # what a relayed copy was relayed from
_ASKER = user_account.alias("asker")
_COLUMNS = (
    notice.c.id,
    notice.c.sender_id,
    _SENDER.c.display_name,
    _SENDER.c.organisation,
    notice.c.recipient_user_id,
    _RECIPIENT.c.display_name,
    child.c.index_id,
    child.c.effectively_shielded,
    notice.c.category,
    notice.c.text,
    notice.c.created_at,
    notice.c.read_at,
    notice.c.done_at,
    notice.c.relayed_from,
    _ASKER.c.display_name,
    _ASKER.c.organisation,
    _ORIGINAL.c.sender_id,
)


def load_notices(conn: Connection, where: ColumnElement[bool]) -> list[Notice]:
    rows = conn.execute(
        select(*_COLUMNS)
        .join(_SENDER, _SENDER.c.id == notice.c.sender_id)
        .outerjoin(_RECIPIENT, _RECIPIENT.c.id == notice.c.recipient_user_id)
        .join(child, child.c.pk == notice.c.child_pk)
        .outerjoin(_ORIGINAL, _ORIGINAL.c.id == notice.c.relayed_from)
        .outerjoin(_ASKER, _ASKER.c.id == _ORIGINAL.c.sender_id)
        .where(where)
        .order_by(notice.c.id.desc())
        .limit(200)
    ).all()
    return [
        Notice(
            r[0], r[1], f"{r[2]}, {r[3]}", r[4], r[5], r[6], bool(r[7]), r[8], r[9], r[10],
            r[11], r[12], r[13], _asked_by(r),
        )
        for r in rows
    ]  # fmt: skip


def _asked_by(row: Sequence[Any]) -> str | None:
    """A relayed copy names who asked, unless it goes back to them (an answer)."""
    if row[14] is None or row[16] == row[4]:
        return None
    return f"{row[14]}, {row[15]}"


def mark(conn: Connection, notice_id: int, *, now: dt.datetime, done: bool) -> None:
    """Set read (and done) once; later calls leave the first times."""
    conn.execute(
        update(notice).where(notice.c.id == notice_id).where(notice.c.read_at.is_(None))
        .values(read_at=now)
    )  # fmt: skip
    if done:
        conn.execute(
            update(notice).where(notice.c.id == notice_id).where(notice.c.done_at.is_(None))
            .values(done_at=now)
        )  # fmt: skip
