"""/AuditEvent: a user's own access history, a child's (index team), the misuse report."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from cpindex.api.audit_fhir import EXT, audit_bundle, audit_event_resource
from cpindex.api.deps import Audit, ServicesDep, SignedIn
from cpindex.api.openapi import query_parameters
from cpindex.api.outcomes import fhir_response
from cpindex.audit.misuse import find_misuse
from cpindex.audit.query import find_events, find_events_by_id
from cpindex.auth.sessions import SessionInfo
from cpindex.errors import RequestError
from cpindex.text_rules import ascii_int

__all__ = ["router"]

router = APIRouter(tags=["audit"])

_TEXT: dict[str, Any] = {"type": "string"}
_HISTORY_PARAMETERS = {
    "agent": (_TEXT, "me, or a username (index team)"),
    "patient": (_TEXT, "A child's index id (index team)"),
    "_count": (_TEXT, "At most this many events, 1 to 1000 (default 100)"),
}
_MISUSE_PARAMETERS = {"since": (_TEXT, "YYYY-MM-DD (default: 7 days ago)")}


@router.get("/AuditEvent", openapi_extra=query_parameters(_HISTORY_PARAMETERS))
def audit_events(request: Request, info: SignedIn, services: ServicesDep, audit: Audit) -> Response:
    """Access history: `agent=me` for anyone; `agent=USER`, `patient=ID`: index team."""
    username, patient_id, limit = _audit_query(request, info)
    if (username != info.user.username or patient_id is not None) and (
        info.user.role != "index-team"
    ):
        audit(info, "audit-read", "denied")
        raise RequestError(
            403,
            "forbidden",
            "ACCESS_DENIED",
            "Only the index team may read another user's or a child's access history.",
        )
    with services.engine.connect() as conn:
        rows = find_events(conn, username=username, patient_id=patient_id, limit=limit)
    detail = {"agent": username, "patient": patient_id, "results": len(rows)}
    audit(info, "audit-read", "success", detail=detail)
    resources = [audit_event_resource(row) for row in rows]
    return fhir_response(audit_bundle(resources, services.clock.now()))


@router.get("/AuditEvent/$misuse", openapi_extra=query_parameters(_MISUSE_PARAMETERS))
def misuse(request: Request, info: SignedIn, services: ServicesDep, audit: Audit) -> Response:
    """Accesses worth a question since a date (default: 7 days), each with its rule."""
    if info.user.role != "index-team":
        audit(info, "misuse-report", "denied")
        raise RequestError(
            403, "forbidden", "ACCESS_DENIED", "Only the index team may run the misuse report."
        )
    start = _since(request, services.clock.now())
    with services.engine.connect() as conn:
        findings = find_misuse(conn, start)
        ids = sorted({f.event_id for f in findings})
        rows = {row["id"]: row for row in find_events_by_id(conn, ids)}
    audit(info, "misuse-report", "success", detail={"results": len(findings)})
    by_row: dict[int, list[dict[str, Any]]] = {}
    for f in findings:
        by_row.setdefault(f.event_id, []).extend(
            [
                {"url": EXT + "misuse-rule", "valueCode": f.rule},
                {"url": EXT + "misuse-explanation", "valueString": f.explanation},
            ]
        )
    resources = [audit_event_resource(rows[i], by_row[i]) for i in ids if i in rows]
    return fhir_response(audit_bundle(resources, services.clock.now()))


def _audit_query(request: Request, info: SessionInfo) -> tuple[str | None, str | None, int]:
    """(username, patient id, limit) from /AuditEvent's query; strict like /Patient."""
    items = list(request.query_params.multi_items())
    for key, _ in items:
        if key not in _HISTORY_PARAMETERS:
            raise RequestError(
                400,
                "structure",
                "ADDITIONAL_PROPERTIES",
                f"'{key[:40]}' is not a parameter here. Use agent, patient or _count.",
            )
        if sum(1 for k, _ in items if k == key) > 1:
            raise RequestError(400, "value", "INVALID_VALUE", f"Give '{key}' only once.")
    values = dict(items)
    agent = values.get("agent", "").strip()
    patient = values.get("patient", "").strip()
    if not agent and not patient:
        raise RequestError(
            400, "required", "MISSING_VALUE", "Give agent=me, agent=USERNAME or patient=ID."
        )
    if len(agent) > 100 or len(patient) > 36:
        raise RequestError(400, "value", "INVALID_VALUE", "The agent or patient is too long.")
    count = ascii_int(values.get("_count", "100"))
    if count is None or not 1 <= count <= 1000:
        raise RequestError(400, "value", "INVALID_VALUE", "_count must be from 1 to 1000.")
    username = info.user.username if agent == "me" else (agent or None)
    return username, patient or None, count


def _since(request: Request, now: dt.datetime) -> dt.datetime:
    items = list(request.query_params.multi_items())
    if any(k not in _MISUSE_PARAMETERS for k, _ in items) or len(items) > 1:
        raise RequestError(
            400, "structure", "ADDITIONAL_PROPERTIES", "The only parameter here is since."
        )
    if not items:
        return now - dt.timedelta(days=7)
    try:
        day = dt.date.fromisoformat(items[0][1].strip())
    except ValueError:
        raise RequestError(400, "value", "INVALID_VALUE", "Give since as YYYY-MM-DD.") from None
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
