"""/Patient: the PDS-style search and `$everything` (the record, with a reason for access).

The search reads its query itself (`parse_search`: unknown and repeated parameters are
refused), so its parameters are declared to the OpenAPI from one table, not as FastAPI
query arguments that would be parsed and never read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, Header
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from cpindex.api.deps import Audit, AuditWriter, ServicesDep, signed_in, signed_in_on, touched
from cpindex.api.fhir import everything_bundle, searchset_bundle
from cpindex.api.openapi import query_parameters
from cpindex.api.outcomes import fhir_response, too_many_matches
from cpindex.api.services import Services
from cpindex.auth.sessions import SessionInfo
from cpindex.errors import RequestError
from cpindex.records import load_record, load_summaries
from cpindex.search.engine import search_children
from cpindex.search.params import parse_search
from cpindex.store.db import reading
from cpindex.text_rules import unsafe_character

__all__ = ["ACCESS_REASONS", "SEARCH_PARAMETERS", "router"]

router = APIRouter(tags=["patient"])

ACCESS_REASONS = (
    "emergency-care",
    "safeguarding",
    "health-care",
    "education-welfare",
    "social-care",
    "youth-support",
    "other",
)
_INDEX_ID = re.compile(r"[A-Za-z0-9-]{1,64}")  # always fullmatch: `$` lets "abc\n" in
_MAX_REASON_TEXT = 500

_TEXT: dict[str, Any] = {"type": "string"}
_LIST: dict[str, Any] = {"type": "array", "items": {"type": "string"}}
# name -> (OpenAPI schema, description); a test keeps it equal to ALLOWED_PARAMETERS
SEARCH_PARAMETERS: dict[str, tuple[dict[str, Any], str]] = {
    "family": (_TEXT, "Family name"),
    "given": (_LIST, "Given name(s), up to five"),
    "birthdate": (_LIST, "Date of birth YYYY-MM-DD, or a range as geYYYY-MM-DD and leYYYY-MM-DD"),
    "gender": (_TEXT, "male, female, other or unknown"),
    "address-postalcode": (_TEXT, "A UK postcode, in full or its outward code"),
    "_fuzzy-match": (_TEXT, "true for a fuzzy search"),
    "_exact-match": (_TEXT, "true for an exact search"),
    "_max-results": (_TEXT, "At most this many matches (1 to 50, default 10)"),
}


@dataclass(frozen=True)
class _Served:
    """A request's answer, ready before its audit row: sent only once the row commits."""

    info: SessionInfo
    detail: dict[str, Any]
    response: Response | None  # None: the record was not found
    patient_id: str | None = None


@router.get("/Patient", openapi_extra=query_parameters(SEARCH_PARAMETERS))
async def search(request: Request, services: ServicesDep, audit: Audit) -> Response:
    """Search as PDS does; a searchset Bundle ranked by search.score, or too-many-matches.

    The hottest route: sign-in check, search and answer in one worker-thread hop, then the
    audit row's group commit awaited on the event loop (no thread held while it waits).
    """
    served = await run_in_threadpool(_search, request, services, audit)
    limit = services.settings.search_limit
    await audit.limited_async(served.info, "search", limit, detail=served.detail)
    assert served.response is not None
    return served.response


def _search(request: Request, services: Services, audit: AuditWriter) -> _Served:
    """Read under one pooled connection; anything that writes (the session's slide, a
    refusal's audit row) waits until it is given back, so threads never hold one
    connection while waiting for another (a starved pool)."""
    refused: RequestError | None = None
    with reading(services.engine) as conn:
        info = signed_in_on(request, conn)
        try:
            query = parse_search(list(request.query_params.multi_items()))
        except RequestError as error:
            refused = error
        else:
            matches = search_children(conn, query)
            many = len(matches) > query.max_results
            rows = {} if many else load_summaries(conn, [m.child_pk for m in matches])
    info = touched(request, info)
    if refused is not None:
        audit(info, "search", "refused", detail={"error": refused.pds_code})
        raise refused
    detail = {"parameters": query.audit_parameters(), "results": len(matches)}
    if many:
        return _Served(info, detail, too_many_matches(query.max_results))
    entries = [(rows[m.child_pk], m.score) for m in matches if m.child_pk in rows]
    phone = services.settings.index_team_phone
    return _Served(
        info, detail, fhir_response(searchset_bundle(entries, phone, services.clock.now()))
    )


@router.get("/Patient/{patient_id}/$everything")
async def everything(
    patient_id: str,
    request: Request,
    services: ServicesDep,
    audit: Audit,
    reason: Annotated[str | None, Header(alias="X-Access-Reason")] = None,
    reason_text: Annotated[str | None, Header(alias="X-Access-Reason-Text")] = None,
) -> Response:
    """The child's record as a collection Bundle; needs a reason for access."""
    served = await run_in_threadpool(
        _everything, request, services, audit, patient_id, reason, reason_text
    )
    limit = services.settings.view_limit
    if served.response is None:
        await audit.limited_async(
            served.info, "view", limit, outcome="not-found", patient_id=served.patient_id,
            detail=served.detail,
        )  # fmt: skip
        raise RequestError(404, "not-found", "RESOURCE_NOT_FOUND", "No child has that id.")
    await audit.limited_async(
        served.info, "view", limit, patient_id=served.patient_id, detail=served.detail
    )
    return served.response


def _everything(
    request: Request,
    services: Services,
    audit: AuditWriter,
    patient_id: str,
    reason: str | None,
    reason_text: str | None,
) -> _Served:
    try:  # checked before the store is read: a refusal's audit row is a write
        if not _INDEX_ID.fullmatch(patient_id):
            raise RequestError(400, "value", "INVALID_VALUE", "That is not an index id.")
        code, text = _access_reason(reason, reason_text)
    except RequestError as error:
        info = signed_in(request)
        audit(
            info, "view", "refused",
            patient_id=patient_id[:36] if _INDEX_ID.fullmatch(patient_id) else None,
            detail={"error": error.pds_code},
        )  # fmt: skip
        raise
    with services.engine.connect() as conn:  # one snapshot: the record's tables agree
        info = signed_in_on(request, conn)
        record = load_record(conn, patient_id[:64])
    info = touched(request, info)
    detail: dict[str, Any] = {"reason": code, "reason_text": text}
    if record is None:
        return _Served(info, detail, None, patient_id[:36])
    full = info.user.role == "index-team"  # the index team sees a shielded record, audited
    if full and record.child.shielded:
        detail["served"] = "full"  # listed by the misuse report (cpindex.audit.misuse)
    phone = services.settings.index_team_phone
    bundle = everything_bundle(
        record, phone, services.clock.now(), full=full, viewer=info.user.user_id
    )
    return _Served(info, detail, fhir_response(bundle), patient_id)


def _access_reason(reason: str | None, reason_text: str | None) -> tuple[str, str]:
    """The reason code and its free text, checked (X-Access-Reason[-Text])."""
    code = (reason or "").strip().lower()
    try:
        text = unquote(reason_text or "", errors="strict").strip()
    except UnicodeDecodeError:
        raise RequestError(
            400, "value", "INVALID_VALUE", "Percent-encode the reason text as UTF-8."
        ) from None
    if code not in ACCESS_REASONS:
        raise RequestError(
            400,
            "required",
            "MISSING_ACCESS_REASON",
            "Say why you are opening this record: send X-Access-Reason with one of "
            + ", ".join(ACCESS_REASONS)
            + ".",
        )
    if unsafe_character(text):
        raise RequestError(
            400,
            "value",
            "INVALID_VALUE",
            "The reason text may not hold line breaks, tabs, direction or invisible characters.",
        )
    if len(text) > _MAX_REASON_TEXT:
        raise RequestError(
            400, "value", "INVALID_VALUE", "The reason text is too long (500 at most)."
        )
    if code == "other" and not text:
        raise RequestError(
            400,
            "required",
            "MISSING_ACCESS_REASON",
            "With the reason 'other', say why in X-Access-Reason-Text.",
        )
    return code, text
