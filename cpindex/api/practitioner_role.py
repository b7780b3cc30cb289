"""/PractitionerRole: "I am working with this child" - self-declared involvements.

- `POST /PractitionerRole`: a practitioner adds their own involvement with a child whose
  record they opened (a successful `$everything`) within the last `--absolute-hours`.
  Name and organisation are the signed-in account's; the body gives the role, the start
  date, lead professional or not, a work phone and optionally a work email.
- `POST /PractitionerRole/{id}/$end`: the author ends it (the id as `$everything` serves
  it, `{index id}-involvement-{n}`); anyone else gets the same 404 as for no such id.
  An ended one leaves the record but keeps its place in the numbering, so the ids of the
  child's other involvements (which notices are addressed to) do not shift.

Every other practitioner sees it on the record with the source "self-declared"; each
declaration, end and refusal is audited in the chain (`self-declare`,
`self-declare-end`). A child served shielded is refused (403, audited with `shielded`,
flagged by the misuse report): its involvements are the index team's to record, a
declaration would make its author a contact the team relays notices to, and the author
still sees only the banner. A second lead professional is refused too: "lead" decides who
gets a child's notices by default (cpindex.notices).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from fastapi import APIRouter
from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError
from starlette.responses import Response

from cpindex.api.deps import Audit, AuditWriter, JsonBody, ServicesDep, SignedIn
from cpindex.api.fhir import EXT, practitioner_role
from cpindex.api.outcomes import fhir_response
from cpindex.auth.limits import take
from cpindex.auth.sessions import SessionInfo
from cpindex.errors import RequestError
from cpindex.notices.store import has_opened
from cpindex.records import InvolvementRow
from cpindex.selfdecl.rules import check_declaration, uk_today
from cpindex.selfdecl.store import (
    active_declaration,
    declare,
    end_declaration,
    has_lead,
    involvement_at,
    position_of,
)
from cpindex.store.db import serialised
from cpindex.store.schema import child

__all__ = ["PATIENT_URL", "router"]

router = APIRouter(tags=["practitioner-role"])

PATIENT_URL = EXT + "patient"
LEAD_URL = EXT + "lead-professional"
_LIMIT_KIND = "selfdecl"  # rate_counter.kind holds 10 characters
_INDEX_ID = re.compile(r"[A-Za-z0-9-]{1,36}")
_ROLE_ID = re.compile(r"([A-Za-z0-9-]{1,36})-involvement-([0-9]{1,6})")


class _Shielded(RequestError):
    """The refusal for a child served shielded (audited with `shielded`)."""


def _invalid(message: str) -> RequestError:
    return RequestError(400, "value", "INVALID_VALUE", message)


def _patient_id(body: dict[str, Any]) -> str:
    if body.get("resourceType") != "PractitionerRole":
        raise _invalid("Send a PractitionerRole resource.")
    extensions = body.get("extension")
    refs = [
        e.get("valueReference", {}).get("reference")
        for e in (extensions if isinstance(extensions, list) else [])
        if isinstance(e, dict) and e.get("url") == PATIENT_URL
        and isinstance(e.get("valueReference"), dict)
    ]  # fmt: skip
    if len(refs) != 1 or not isinstance(refs[0], str) or not refs[0].startswith("Patient/"):
        raise _invalid(f"Name the child once, as extension {PATIENT_URL} 'Patient/{{id}}'.")
    patient_id = refs[0][8:]
    if not _INDEX_ID.fullmatch(patient_id):
        raise _invalid("That is not an index id.")
    return patient_id


def _spend(conn: Connection, info: SessionInfo, limit: int, audit: AuditWriter) -> None:
    """One request from the per-user limit (`take` locks the chain head first)."""
    wait = take(conn, info.user.user_id, _LIMIT_KIND, limit, audit.services.clock.now())
    if wait is not None:
        raise RequestError(
            429, "throttled", "TOO_MANY_REQUESTS",
            f"Too many involvement changes this minute: wait {wait} seconds and try again.",
            headers={"Retry-After": str(wait)},
        )  # fmt: skip


def _child(conn: Connection, patient_id: str) -> tuple[int, bool, Any]:
    """(pk, served shielded, birth date) of the child, or 404."""
    row = conn.execute(
        select(child.c.pk, child.c.effectively_shielded, child.c.birth_date).where(
            child.c.index_id == patient_id
        )
    ).first()
    if row is None:
        raise RequestError(404, "not-found", "RESOURCE_NOT_FOUND", "No child has that id.")
    return int(row[0]), bool(row[1]), row[2]


def _refused(
    audit: AuditWriter, info: SessionInfo, action: str, patient_id: str | None,
    error: RequestError,
) -> None:  # fmt: skip
    outcome = "rate-limited" if error.status == 429 else "refused"
    detail: dict[str, Any] = {"error": error.pds_code}
    if isinstance(error, _Shielded):
        detail["shielded"] = True  # the misuse report lists it (cpindex.audit.misuse)
    audit(info, action, outcome, patient_id=patient_id, detail=detail)


def _must_have_opened(
    conn: Connection, info: SessionInfo, patient_id: str, since: dt.datetime
) -> None:
    if not has_opened(conn, info.user.username, patient_id, since):
        raise RequestError(
            403, "forbidden", "ACCESS_DENIED",
            "Open the child's record (with a reason) before saying you work with the child.",
        )  # fmt: skip


@router.post("/PractitionerRole", status_code=201)
def add(info: SignedIn, services: ServicesDep, audit: Audit, body: JsonBody) -> Response:
    """Declare that the signed-in practitioner works with a child; 201 with the
    PractitionerRole as the record now serves it."""
    patient_id = None
    now = services.clock.now()
    try:
        patient_id = _patient_id(body)
        if info.user.role != "practitioner":
            raise RequestError(
                403, "forbidden", "ACCESS_DENIED",
                "Only practitioners can say they work with a child.",
            )  # fmt: skip
        with serialised(services.engine) as conn:
            _spend(conn, info, services.settings.declaration_limit, audit)
            pk, shielded, birth_date = _child(conn, patient_id)
            opened_since = now - dt.timedelta(hours=services.settings.absolute_hours)
            _must_have_opened(conn, info, patient_id, opened_since)
            if shielded:
                raise _Shielded(
                    403, "forbidden", "ACCESS_DENIED",
                    "This child's involvements are recorded by the index team: phone them on "
                    f"{services.settings.index_team_phone} to say you work with the child.",
                )  # fmt: skip
            declaration = check_declaration(body, LEAD_URL, uk_today(now), birth_date)
            if active_declaration(conn, pk, info.user.user_id) is not None:
                raise _conflict("You have already said you work with this child.")
            if declaration.lead and has_lead(conn, pk):
                raise _conflict(
                    "This child already has a lead professional: agree a change with them; "
                    "declare yourself without 'lead'."
                )
            try:
                involvement_id = declare(
                    conn, user_id=info.user.user_id, display_name=info.user.display_name,
                    organisation=info.user.organisation, child_pk=pk,
                    declaration=declaration, now=now,
                )  # fmt: skip
            except IntegrityError:  # the same declaration committed meanwhile
                raise _conflict("You have already said you work with this child.") from None
            detail = {
                "involvement": involvement_id,
                "role": declaration.role,
                "since": declaration.since.isoformat(),
                "lead": declaration.lead,
            }
            audit(info, "self-declare", "success", conn=conn, patient_id=patient_id,
                  detail=detail)  # fmt: skip
            number = position_of(conn, pk, involvement_id)
    except RequestError as error:
        _refused(audit, info, "self-declare", patient_id, error)
        raise
    row = InvolvementRow(
        info.user.display_name, declaration.role, info.user.organisation, declaration.phone,
        declaration.email, declaration.since, declaration.lead, None, info.user.user_id,
    )  # fmt: skip
    return fhir_response(practitioner_role(patient_id, number, row, info.user.user_id), 201)


def _conflict(message: str) -> RequestError:
    return RequestError(409, "duplicate", "INVALID_VALUE", message)


@router.post("/PractitionerRole/{role_id}/$end")
def end(role_id: str, info: SignedIn, services: ServicesDep, audit: Audit) -> Response:
    """End the signed-in practitioner's own self-declared involvement."""
    matched = _ROLE_ID.fullmatch(role_id)
    patient_id = matched.group(1) if matched else None
    try:
        if matched is None:
            raise _not_yours()
        with serialised(services.engine) as conn:
            _spend(conn, info, services.settings.declaration_limit, audit)
            row = conn.execute(select(child.c.pk).where(child.c.index_id == patient_id)).first()
            if row is None:
                raise _not_yours()
            involvement_id = involvement_at(conn, int(row[0]), int(matched.group(2)))
            mine = active_declaration(conn, int(row[0]), info.user.user_id)
            if involvement_id is None or involvement_id != mine:
                raise _not_yours()
            end_declaration(conn, involvement_id, services.clock.now())
            audit(info, "self-declare-end", "success", conn=conn, patient_id=patient_id,
                  detail={"involvement": involvement_id})  # fmt: skip
    except RequestError as error:
        _refused(audit, info, "self-declare-end", patient_id, error)
        raise
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [
            {"severity": "information", "code": "informational",
             "diagnostics": "Your involvement with this child has ended."}
        ],
    }  # fmt: skip
    return fhir_response(outcome)


def _not_yours() -> RequestError:
    return RequestError(
        404, "not-found", "RESOURCE_NOT_FOUND",
        "No involvement of yours has that id: open the record again to see the current list.",
    )  # fmt: skip
