"""`create_app(services)`: the server's composition root, routes and error mapping.

Handlers stay lean (an empty FastAPI endpoint already costs most of a millisecond): parse,
check the session, call the search or record loader, build FHIR, audit, answer.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from cpindex.api.audit_fhir import EXT, audit_bundle, audit_event_resource
from cpindex.api.fhir import everything_bundle, searchset_bundle
from cpindex.api.metadata import capability_statement
from cpindex.api.middleware import RequestContextMiddleware
from cpindex.api.openapi import install_openapi
from cpindex.api.outcomes import error_response, fhir_response, too_many_matches
from cpindex.audit import record_event
from cpindex.audit.misuse import find_misuse
from cpindex.audit.query import find_events, find_events_by_id
from cpindex.auth.limits import take
from cpindex.auth.sealing import SecretBox
from cpindex.auth.sessions import SessionInfo, SessionStore
from cpindex.clock import Clock, SystemClock
from cpindex.config import ServerSettings
from cpindex.errors import RequestError
from cpindex.records import load_record, load_summaries
from cpindex.search.engine import search_children
from cpindex.search.params import parse_search
from cpindex.store.db import serialised

__all__ = ["ACCESS_REASONS", "Services", "create_app"]

ACCESS_REASONS = (
    "emergency-care",
    "safeguarding",
    "health-care",
    "education-welfare",
    "social-care",
    "youth-support",
    "other",
)
_MAX_BODY = 4096
_INDEX_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_MAX_REASON_TEXT = 500


@dataclass(frozen=True)
class Services:
    engine: Engine
    settings: ServerSettings
    clock: Clock
    sessions: SessionStore

    @classmethod
    def build(
        cls,
        engine: Engine,
        settings: ServerSettings | None = None,
        clock: Clock | None = None,
        box: SecretBox | None = None,
    ) -> Services:
        settings = settings or ServerSettings()
        clock = clock or SystemClock()
        sessions = SessionStore(
            engine,
            clock,
            idle=dt.timedelta(minutes=settings.idle_minutes),
            absolute=dt.timedelta(hours=settings.absolute_hours),
            lockout_failures=settings.lockout_failures,
            lockout=dt.timedelta(minutes=settings.lockout_minutes),
            box=box,
        )
        return cls(engine, settings, clock, sessions)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _session_body(info: SessionInfo) -> dict[str, Any]:
    return {
        "idle_expires_at": _iso(info.idle_expires_at),
        "absolute_expires_at": _iso(info.absolute_expires_at),
        "idle_timeout_seconds": info.idle_timeout_seconds,
        "user": {
            "username": info.user.username,
            "display_name": info.user.display_name,
            "role": info.user.role,
            "organisation": info.user.organisation,
        },
    }


def _denied(message: str = "Sign in again: the session has ended.") -> RequestError:
    return RequestError(
        401, "login", "ACCESS_DENIED", message, headers={"WWW-Authenticate": "Bearer"}
    )


_SIGN_IN_FAILED = "The username, password or code is not right."


def _json_body(required: dict[str, str]) -> dict[str, Any]:
    """OpenAPI for a JSON body the handler parses itself (to answer with OperationOutcomes)."""
    schema = {
        "type": "object",
        "required": list(required),
        "properties": {k: {"type": "string", "description": v} for k, v in required.items()},
    }
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


_SIGN_IN_OPENAPI = _json_body(
    {"username": "user name", "password": "password", "otp": "6-digit TOTP code"}
)
_UNLOCK_OPENAPI = _json_body({"password": "the signed-in user's password"})


def create_app(services: Services) -> FastAPI:
    """The FastAPI application over `services` (no globals: tests build their own)."""
    app = FastAPI(
        title="cpindex",
        version="1.0.0",
        summary="National children's index (synthetic data): FHIR R4, PDS conventions.",
        docs_url="/docs",
        redoc_url=None,
    )
    app.add_middleware(RequestContextMiddleware)
    app.state.services = services

    @app.exception_handler(RequestError)
    async def _request_error(_request: Request, exc: RequestError) -> Response:
        return error_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            error = RequestError(404, "not-found", "RESOURCE_NOT_FOUND", "No such endpoint.")
        elif exc.status_code == 405:
            error = RequestError(405, "not-supported", "NOT_ALLOWED", "Method not allowed here.")
        else:
            error = RequestError(exc.status_code, "processing", "INVALID_VALUE", str(exc.detail))
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> Response:
        return error_response(
            RequestError(400, "value", "INVALID_VALUE", "A parameter or header is not valid.")
        )

    def authenticate(request: Request) -> SessionInfo:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _denied("Sign in first: no bearer token was sent.")
        info = services.sessions.authenticate(token.strip())
        if info is None:
            raise _denied()
        request.scope.setdefault("state", {})["response_headers"] = {
            "X-Session-Idle-Expires": _iso(info.idle_expires_at),
            "X-Session-Absolute-Expires": _iso(info.absolute_expires_at),
        }
        return info

    def audit(
        request: Request,
        info: SessionInfo | None,
        action: str,
        outcome: str,
        *,
        conn: Connection | None = None,
        **kw: Any,
    ) -> None:
        record_event(
            conn if conn is not None else services.engine,
            at=services.clock.now(),
            action=action,
            outcome=outcome,
            request_id=request.scope.get("state", {}).get("request_id"),
            username=info.user.username if info else kw.pop("username", None),
            role=info.user.role if info else kw.pop("role", None),
            organisation=info.user.organisation if info else kw.pop("organisation", None),
            **kw,
        )

    def lock_out(request: Request, username: str) -> None:
        minutes = services.settings.lockout_minutes
        detail = {"minutes": minutes, "failures": services.settings.lockout_failures}
        audit(request, None, "lock-out", "success", username=username, detail=detail)

    def audit_limited(
        request: Request, info: SessionInfo, kind: str, limit: int, **kw: Any
    ) -> None:
        """Spend one `kind` request and write its audit row in one serialised transaction.

        Done after the work (a search costs less than a second commit would), before the
        answer: over the limit, the row says so and the caller gets 429, not the results.
        """
        for attempt in (1, 2):
            try:
                with serialised(services.engine) as conn:
                    now = services.clock.now()
                    wait = take(conn, info.user.user_id, kind, limit, now)
                    if wait is not None:
                        kw["detail"] = {
                            k: v for k, v in kw.get("detail", {}).items() if k != "results"
                        }
                        audit(request, info, kind, "rate-limited", conn=conn, **kw)
                    else:
                        audit(request, info, kind, kw.pop("outcome", "success"), conn=conn, **kw)
                break
            except IntegrityError:  # two processes created the same counter row at once
                if attempt == 2:
                    raise
        if wait is not None:
            raise RequestError(
                429,
                "throttled",
                "TOO_MANY_REQUESTS",
                f"Too many {kind}es this minute: wait {wait} seconds and try again."
                if kind == "search"
                else f"Too many records opened this minute: wait {wait} seconds and try again.",
                headers={"Retry-After": str(wait)},
            )

    async def json_body(request: Request) -> dict[str, Any]:
        if request.headers.get("content-type", "").split(";")[0].strip() not in (
            "application/json",
            "application/fhir+json",
        ):
            raise RequestError(400, "value", "INVALID_VALUE", "Send the body as JSON.")
        raw = await request.body()
        if len(raw) > _MAX_BODY:
            raise RequestError(413, "too-long", "INVALID_VALUE", "The request body is too large.")
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise RequestError(
                400, "value", "INVALID_VALUE", "The body is not valid JSON."
            ) from None
        if not isinstance(body, dict):
            raise RequestError(400, "value", "INVALID_VALUE", "The body must be a JSON object.")
        return body

    def text_field(body: dict[str, Any], name: str) -> str:
        value = body.get(name)
        if not isinstance(value, str) or not value:
            raise RequestError(400, "required", "MISSING_VALUE", f"Give '{name}' as text.")
        if len(value) > 1024:
            raise RequestError(400, "value", "INVALID_VALUE", f"'{name}' is too long.")
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            raise RequestError(400, "value", "INVALID_VALUE", f"'{name}' holds control characters.")
        return value

    @app.post("/auth/session", status_code=201, tags=["auth"], openapi_extra=_SIGN_IN_OPENAPI)
    async def sign_in(request: Request) -> Response:
        """Username, password and TOTP code -> an opaque bearer token."""
        body = await json_body(request)
        username = text_field(body, "username")
        password = text_field(body, "password")
        otp = text_field(body, "otp")
        result = await run_in_threadpool(services.sessions.attempt, username, password, otp)
        if result.token is None or result.info is None:
            outcome = "locked" if result.failure == "locked" else "failure"
            who = result.user
            await run_in_threadpool(
                audit, request, None, "sign-in", outcome, username=result.audit_name,
                role=who.role if who else None, organisation=who.organisation if who else None,
            )  # fmt: skip
            if result.failure == "locked-now":
                await run_in_threadpool(lock_out, request, result.audit_name)
            raise RequestError(401, "login", "ACCESS_DENIED", _SIGN_IN_FAILED)
        token, info = result.token, result.info
        await run_in_threadpool(audit, request, info, "sign-in", "success")
        answer = {"token": token, "token_type": "Bearer", **_session_body(info)}
        request.scope.setdefault("state", {})["response_headers"] = {
            "X-Session-Idle-Expires": _iso(info.idle_expires_at),
            "X-Session-Absolute-Expires": _iso(info.absolute_expires_at),
        }
        return fhir_response(answer, 201, {"Cache-Control": "no-store"})

    @app.get("/auth/session", tags=["auth"])
    def session_info(request: Request) -> Response:
        """The current session (slides the idle expiry like any call)."""
        return fhir_response(_session_body(authenticate(request)))

    @app.post("/auth/unlock", tags=["auth"], openapi_extra=_UNLOCK_OPENAPI)
    async def unlock(request: Request) -> Response:
        """Re-check the password for a locked client without a new session."""
        info = await run_in_threadpool(authenticate, request)
        password = text_field(await json_body(request), "password")
        ok, locked_now = await run_in_threadpool(services.sessions.unlock, info, password)
        await run_in_threadpool(audit, request, info, "unlock", "success" if ok else "failure")
        if locked_now:
            await run_in_threadpool(lock_out, request, info.user.username)
        if not ok:
            raise RequestError(401, "login", "ACCESS_DENIED", "The password is not right.")
        return fhir_response({"unlocked": True})

    @app.delete("/auth/session", status_code=204, tags=["auth"])
    def sign_out(request: Request) -> Response:
        """Revoke the token."""
        info = authenticate(request)
        services.sessions.revoke(info)
        audit(request, info, "sign-out", "success")
        return Response(status_code=204)

    @app.get("/Patient", tags=["patient"])
    def search(
        request: Request,
        family: Annotated[str | None, Query()] = None,
        given: Annotated[list[str] | None, Query()] = None,
        birthdate: Annotated[list[str] | None, Query()] = None,
        gender: Annotated[str | None, Query()] = None,
        postalcode: Annotated[str | None, Query(alias="address-postalcode")] = None,
        fuzzy: Annotated[str | None, Query(alias="_fuzzy-match")] = None,
        exact: Annotated[str | None, Query(alias="_exact-match")] = None,
        max_results: Annotated[str | None, Query(alias="_max-results")] = None,
    ) -> Response:
        """Search as PDS does; a searchset Bundle ranked by search.score, or too-many-matches."""
        info = authenticate(request)
        try:
            query = parse_search(list(request.query_params.multi_items()))
        except RequestError as error:
            audit(request, info, "search", "refused", detail={"error": error.pds_code})
            raise
        with services.engine.connect() as conn:
            matches = search_children(conn, query)
            if len(matches) > query.max_results:
                rows = {}
            else:
                rows = load_summaries(conn, [m.child_pk for m in matches])
        detail = {"parameters": query.audit_parameters(), "results": len(matches)}
        audit_limited(request, info, "search", services.settings.search_limit, detail=detail)
        if len(matches) > query.max_results:
            return too_many_matches(query.max_results)
        entries = [(rows[m.child_pk], m.score) for m in matches if m.child_pk in rows]
        phone = services.settings.index_team_phone
        return fhir_response(searchset_bundle(entries, phone, services.clock.now()))

    @app.get("/Patient/{patient_id}/$everything", tags=["patient"])
    def everything(
        request: Request,
        patient_id: str,
        reason: Annotated[str | None, Header(alias="X-Access-Reason")] = None,
        reason_text: Annotated[str | None, Header(alias="X-Access-Reason-Text")] = None,
    ) -> Response:
        """The child's record as a collection Bundle; needs a reason for access."""
        info = authenticate(request)
        try:
            if not _INDEX_ID.match(patient_id):
                raise RequestError(400, "value", "INVALID_VALUE", "That is not an index id.")
            code, text = _access_reason(reason, reason_text)
        except RequestError as error:
            audit(
                request, info, "view", "refused",
                patient_id=patient_id[:36] if _INDEX_ID.match(patient_id) else None,
                detail={"error": error.pds_code},
            )  # fmt: skip
            raise
        with services.engine.connect() as conn:
            record = load_record(conn, patient_id[:64])
        detail = {"reason": code, "reason_text": text}
        limit = services.settings.view_limit
        if record is None:
            audit_limited(
                request, info, "view", limit, outcome="not-found",
                patient_id=patient_id[:36], detail=detail,
            )  # fmt: skip
            raise RequestError(404, "not-found", "RESOURCE_NOT_FOUND", "No child has that id.")
        audit_limited(request, info, "view", limit, patient_id=patient_id, detail=detail)
        phone = services.settings.index_team_phone
        return fhir_response(everything_bundle(record, phone, services.clock.now()))

    @app.get("/AuditEvent", tags=["audit"])
    def audit_events(
        request: Request,
        agent: Annotated[str | None, Query()] = None,
        patient: Annotated[str | None, Query()] = None,
        count: Annotated[str | None, Query(alias="_count")] = None,
    ) -> Response:
        """Access history: `agent=me` for anyone; `agent=USER`, `patient=ID`: index team."""
        info = authenticate(request)
        username, patient_id, limit = _audit_query(request, info)
        if (username != info.user.username or patient_id is not None) and (
            info.user.role != "index-team"
        ):
            audit(request, info, "audit-read", "denied")
            raise RequestError(
                403,
                "forbidden",
                "ACCESS_DENIED",
                "Only the index team may read another user's or a child's access history.",
            )
        with services.engine.connect() as conn:
            rows = find_events(conn, username=username, patient_id=patient_id, limit=limit)
        detail = {"agent": username, "patient": patient_id, "results": len(rows)}
        audit(request, info, "audit-read", "success", detail=detail)
        resources = [audit_event_resource(row) for row in rows]
        return fhir_response(audit_bundle(resources, services.clock.now()))

    @app.get("/AuditEvent/$misuse", tags=["audit"])
    def misuse(request: Request, since: Annotated[str | None, Query()] = None) -> Response:
        """Accesses worth a question since a date (default: 7 days), each with its rule."""
        info = authenticate(request)
        if info.user.role != "index-team":
            audit(request, info, "misuse-report", "denied")
            raise RequestError(
                403, "forbidden", "ACCESS_DENIED", "Only the index team may run the misuse report."
            )
        start = _since(request, services.clock.now())
        with services.engine.connect() as conn:
            findings = find_misuse(conn, start)
            ids = sorted({f.event_id for f in findings})
            rows = {row["id"]: row for row in find_events_by_id(conn, ids)}
        audit(request, info, "misuse-report", "success", detail={"results": len(findings)})
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

    @app.get("/metadata", tags=["meta"])
    def metadata() -> Response:
        """The CapabilityStatement."""
        return fhir_response(capability_statement(services.clock.now()))

    install_openapi(app)
    return app


def _audit_query(request: Request, info: SessionInfo) -> tuple[str | None, str | None, int]:
    """(username, patient id, limit) from /AuditEvent's query; strict like /Patient."""
    items = list(request.query_params.multi_items())
    allowed = ("agent", "patient", "_count")
    for key, _ in items:
        if key not in allowed:
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
    raw_count = values.get("_count", "100").strip()
    if not raw_count.isdigit() or not 1 <= int(raw_count) <= 1000:
        raise RequestError(400, "value", "INVALID_VALUE", "_count must be from 1 to 1000.")
    username = info.user.username if agent == "me" else (agent or None)
    return username, patient or None, int(raw_count)


def _since(request: Request, now: dt.datetime) -> dt.datetime:
    items = list(request.query_params.multi_items())
    if any(k != "since" for k, _ in items) or len(items) > 1:
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
