"""Load children from the store as plain rows for the FHIR builders.

Shielding is not applied here but in `cpindex.api.fhir`, the one place resources are built;
this module only reads. `ChildRow.shielded` is the stored household-wide flag
(`child.effectively_shielded`, cpindex.store.shielding), so a shielded child's siblings are
served exactly as the child is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, select

from cpindex.store.schema import (
    carer,
    child,
    child_name,
    household,
    involvement,
    organisation,
    practitioner,
    self_declaration,
    source,
)

__all__ = [
    "CarerRow",
    "ChildRow",
    "InvolvementRow",
    "NameRow",
    "OrganisationRow",
    "RecordRow",
    "load_record",
    "load_summaries",
]


@dataclass(frozen=True)
class NameRow:
    kind: str  # official | old | nickname
    given: tuple[str, ...]
    family: str


@dataclass(frozen=True)
class ChildRow:
    pk: int
    index_id: str
    nhs_number: str
    names: tuple[NameRow, ...]
    gender: str
    birth_date: dt.date
    line1: str
    line2: str | None
    city: str
    postcode: str
    shielded: bool

    def __repr__(self) -> str:
        return f"ChildRow(index_id={self.index_id!r})"


@dataclass(frozen=True)
class CarerRow:
    given: str
    family: str
    relationship: str
    parental_responsibility: bool
    phone: str | None
    email: str | None
    line1: str | None
    city: str | None
    postcode: str | None


@dataclass(frozen=True)
class OrganisationRow:
    kind: str
    name: str
    phone: str
    email: str | None


@dataclass(frozen=True)
class InvolvementRow:
    name: str
    role: str
    organisation: str
    phone: str
    email: str
    since: dt.date
    lead: bool
    source: str | None = None  # the feed's source name; None for the seed
    declared_by: int | None = None  # the author's user id when self-declared
    number: int = 0  # position among all the child's involvements, ended ones included


@dataclass(frozen=True)
class RecordRow:
    child: ChildRow
    carers: tuple[CarerRow, ...]
    school: OrganisationRow | None
    gp: OrganisationRow | None
    involvements: tuple[InvolvementRow, ...]
    caf: bool
    sensitive_contact: str | None

    def __repr__(self) -> str:
        return f"RecordRow(index_id={self.child.index_id!r})"


_CHILD_COLUMNS = (
    child.c.pk,
    child.c.index_id,
    child.c.nhs_number,
    child.c.gender,
    child.c.birth_date,
    household.c.line1,
    household.c.line2,
    household.c.city,
    household.c.postcode,
    child.c.effectively_shielded,  # the household's shielding, not only the child's own
)
_NAME_ORDER = {"official": 0, "old": 1, "nickname": 2}


# Built once: constructing a statement costs as much as running it on SQLite. One query:
# a row per name, the child's columns beside it (one round trip, not one per table).
_SUMMARIES = (
    select(*_CHILD_COLUMNS, child_name.c.kind, child_name.c.given, child_name.c.family)
    .join(household, household.c.id == child.c.household_id)
    .outerjoin(child_name, child_name.c.child_pk == child.c.pk)
    .where(child.c.pk.in_(bindparam("pks", expanding=True)))
    .order_by(child_name.c.id)
)
_NAME_AT = len(_CHILD_COLUMNS)


def load_summaries(conn: Connection, pks: Sequence[int]) -> dict[int, ChildRow]:
    """Children by primary key, with every name they are known by."""
    if not pks:
        return {}
    heads: dict[int, Any] = {}
    names: dict[int, list[NameRow]] = {}
    for r in conn.execute(_SUMMARIES, {"pks": list(pks)}):
        heads.setdefault(r[0], r)
        kind, given, family = r[_NAME_AT : _NAME_AT + 3]
        held = names.setdefault(r[0], [])
        if kind is not None:  # a child with no name rows still has its summary
            held.append(NameRow(kind, tuple(given.split()), family))
    found = {}
    for pk, head in heads.items():
        ordered = sorted(names[pk], key=lambda n: _NAME_ORDER.get(n.kind, 3))
        found[pk] = ChildRow(
            head[0], head[1], head[2], tuple(ordered), head[3], head[4], head[5], head[6],
            head[7], head[8], bool(head[9]),
        )  # fmt: skip
    return found


# Built once, like _SUMMARIES: building a statement on every view cost about as much CPU
# as running it. A record view runs five: head, summary, carers, school and GP, roles.
_RECORD_HEAD = select(
    child.c.pk,
    child.c.household_id,
    child.c.school_id,
    child.c.gp_id,
    child.c.caf,
    child.c.sensitive_contact,
).where(child.c.index_id == bindparam("index_id"))
_ORGANISATIONS = select(
    organisation.c.id,
    organisation.c.kind,
    organisation.c.name,
    organisation.c.phone,
    organisation.c.email,
).where(organisation.c.id.in_([bindparam("school"), bindparam("gp")]))
_CARERS = (
    select(
        carer.c.given,
        carer.c.family,
        carer.c.relationship,
        carer.c.parental_responsibility,
        carer.c.phone,
        carer.c.email,
        carer.c.line1,
        carer.c.city,
        carer.c.postcode,
    )
    .where(carer.c.household_id == bindparam("household_id"))
    .order_by(carer.c.id)
)
_INVOLVEMENTS = (
    select(
        practitioner.c.name,
        practitioner.c.role,
        practitioner.c.organisation,
        practitioner.c.phone,
        practitioner.c.email,
        involvement.c.since,
        involvement.c.lead,
        source.c.name,
        self_declaration.c.user_id,
        self_declaration.c.ended_at,
    )
    .join(practitioner, practitioner.c.id == involvement.c.practitioner_id)
    .outerjoin(source, source.c.id == involvement.c.source_id)
    .outerjoin(self_declaration, self_declaration.c.involvement_id == involvement.c.id)
    .where(involvement.c.child_pk == bindparam("child_pk"))
    .order_by(involvement.c.id)
)


def load_record(conn: Connection, index_id: str) -> RecordRow | None:
    """Everything held on one child, or None when no child has that index id."""
    head = conn.execute(_RECORD_HEAD, {"index_id": index_id}).first()
    if head is None:
        return None
    pk, hh, school_id, gp_id, caf, sensitive = head
    summary = load_summaries(conn, [pk])[pk]
    carers = tuple(CarerRow(*r) for r in conn.execute(_CARERS, {"household_id": hh}))
    organisations = {
        r[0]: OrganisationRow(r[1], r[2], r[3], r[4])
        for r in conn.execute(_ORGANISATIONS, {"school": school_id, "gp": gp_id})
    }
    rows = conn.execute(_INVOLVEMENTS, {"child_pk": pk}).all()
    # Numbered over every row, ended self-declarations included, so the ids never shift.
    involvements = tuple(
        InvolvementRow(*r[:9], number=n) for n, r in enumerate(rows, 1) if r[9] is None
    )
    return RecordRow(
        summary,
        carers,
        organisations.get(school_id),
        organisations.get(gp_id),
        involvements,
        bool(caf),
        sensitive,
    )
