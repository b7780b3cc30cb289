"""The self_declaration rows and the involvement, practitioner and account link each owns.

A declaration writes a practitioner row named and placed as the signed-in account is (the
author cannot speak for another person or organisation), its involvement, the
practitioner-account link (notices then reach the author, cpindex.notices) and the
`self_declaration` row that marks it as the author's. Ending one marks it ended and drops
the account link: the rows stay (left out of the record), so the positions that number a
child's involvements never shift. Callers hold a serialised transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select, update

from cpindex.selfdecl.rules import Declaration
from cpindex.store.schema import (
    child,
    involvement,
    practitioner,
    practitioner_account,
    self_declaration,
    user_account,
)

__all__ = [
    "Standing",
    "active_declaration",
    "declare",
    "end_declaration",
    "has_lead",
    "involvement_at",
    "position_of",
    "standing_on_shielded",
]


def active_declaration(conn: Connection, child_pk: int, user_id: int) -> int | None:
    """The involvement id of `user_id`'s declaration on the child, if any."""
    found = conn.execute(
        select(self_declaration.c.involvement_id)
        .where(self_declaration.c.child_pk == child_pk)
        .where(self_declaration.c.user_id == user_id)
        .where(self_declaration.c.ended_at.is_(None))
    ).scalar()
    return None if found is None else int(found)


def has_lead(conn: Connection, child_pk: int) -> bool:
    return (
        conn.execute(
            select(involvement.c.id)
            .outerjoin(self_declaration, self_declaration.c.involvement_id == involvement.c.id)
            .where(involvement.c.child_pk == child_pk)
            .where(involvement.c.lead.is_(True))
            .where(self_declaration.c.ended_at.is_(None))
            .limit(1)
        ).first()
        is not None
    )


def declare(
    conn: Connection,
    *,
    user_id: int,
    display_name: str,
    organisation: str,
    child_pk: int,
    declaration: Declaration,
    now: dt.datetime,
) -> int:
    """Store one declaration; its involvement id."""
    practitioner_id = _key(
        conn,
        insert(practitioner).values(
            name=display_name[:200], role=declaration.role, organisation=organisation[:200],
            phone=declaration.phone, email=declaration.email, source_id=None,
        ),
    )  # fmt: skip
    involvement_id = _key(
        conn,
        insert(involvement).values(
            child_pk=child_pk, practitioner_id=practitioner_id, since=declaration.since,
            lead=declaration.lead, source_id=None, feed_id=None,
        ),
    )  # fmt: skip
    conn.execute(
        insert(practitioner_account).values(practitioner_id=practitioner_id, user_id=user_id)
    )
    conn.execute(
        insert(self_declaration).values(
            involvement_id=involvement_id, user_id=user_id, child_pk=child_pk, declared_at=now
        )
    )
    return involvement_id


def _key(conn: Connection, statement: object) -> int:
    key = conn.execute(statement).inserted_primary_key  # type: ignore[call-overload]
    assert key is not None
    return int(key[0])


def end_declaration(conn: Connection, involvement_id: int, now: dt.datetime) -> None:
    """Mark a declaration ended; its author no longer receives the child's notices."""
    conn.execute(
        update(self_declaration)
        .where(self_declaration.c.involvement_id == involvement_id)
        .values(ended_at=now)
    )
    practitioner_id = select(involvement.c.practitioner_id).where(
        involvement.c.id == involvement_id
    )
    conn.execute(
        delete(practitioner_account).where(
            practitioner_account.c.practitioner_id.in_(practitioner_id.scalar_subquery())
        )
    )


def _ordered(child_pk: int) -> object:
    return (
        select(involvement.c.id)
        .where(involvement.c.child_pk == child_pk)
        .order_by(involvement.c.id)
    )


def involvement_at(conn: Connection, child_pk: int, number: int) -> int | None:
    """The id of the child's `number`-th involvement (the record's PractitionerRole
    `{index id}-involvement-{number}`, counted as cpindex.records orders them)."""
    if number < 1:
        return None
    ids = list(conn.execute(_ordered(child_pk)).scalars())  # type: ignore[call-overload]
    return int(ids[number - 1]) if number <= len(ids) else None


def position_of(conn: Connection, child_pk: int, involvement_id: int) -> int:
    ids = list(conn.execute(_ordered(child_pk)).scalars())  # type: ignore[call-overload]
    return ids.index(involvement_id) + 1


@dataclass(frozen=True)
class Standing:
    """A declaration still in place on a child now served shielded (misuse report)."""

    username: str
    patient_id: str
    declared_at: dt.datetime


def standing_on_shielded(conn: Connection) -> list[Standing]:
    rows = conn.execute(
        select(user_account.c.username, child.c.index_id, self_declaration.c.declared_at)
        .join(user_account, user_account.c.id == self_declaration.c.user_id)
        .join(child, child.c.pk == self_declaration.c.child_pk)
        .where(child.c.effectively_shielded.is_(True))
        .where(self_declaration.c.ended_at.is_(None))
        .order_by(self_declaration.c.declared_at)
    ).all()
    return [Standing(r[0], r[1], r[2]) for r in rows]
