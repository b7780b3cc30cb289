"""/auth: sign in (password + TOTP) for a bearer token, session info, unlock, sign out."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from cpindex.api.deps import (
    Audit,
    JsonBody,
    ServicesDep,
    SignedIn,
    iso,
    set_session_headers,
    text_field,
)
from cpindex.api.outcomes import fhir_response
from cpindex.auth.sessions import SessionInfo
from cpindex.errors import RequestError

__all__ = ["router"]

router = APIRouter(tags=["auth"])

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


def _session_body(info: SessionInfo) -> dict[str, Any]:
    return {
        "idle_expires_at": iso(info.idle_expires_at),
        "absolute_expires_at": iso(info.absolute_expires_at),
        "idle_timeout_seconds": info.idle_timeout_seconds,
        "user": {
            "username": info.user.username,
            "display_name": info.user.display_name,
            "role": info.user.role,
            "organisation": info.user.organisation,
        },
    }


@router.post("/auth/session", status_code=201, openapi_extra=_SIGN_IN_OPENAPI)
async def sign_in(
    request: Request, body: JsonBody, services: ServicesDep, audit: Audit
) -> Response:
    """Username, password and TOTP code -> an opaque bearer token."""
    username = text_field(body, "username")
    password = text_field(body, "password")
    otp = text_field(body, "otp")
    result = await run_in_threadpool(services.sessions.attempt, username, password, otp)
    if result.token is None or result.info is None:
        outcome = "locked" if result.failure == "locked" else "failure"
        who = result.user
        await run_in_threadpool(
            audit, None, "sign-in", outcome, username=username[:100],
            role=who.role if who else None, organisation=who.organisation if who else None,
        )  # fmt: skip
        if result.failure == "locked-now":
            await run_in_threadpool(audit.lock_out, username[:100])
        raise RequestError(401, "login", "ACCESS_DENIED", _SIGN_IN_FAILED)
    token, info = result.token, result.info
    await run_in_threadpool(audit, info, "sign-in", "success")
    set_session_headers(request, info)
    answer = {"token": token, "token_type": "Bearer", **_session_body(info)}
    return fhir_response(answer, 201)  # no-store, like every answer (middleware)


@router.get("/auth/session")
def session_info(info: SignedIn) -> Response:
    """The current session (slides the idle expiry like any call)."""
    return fhir_response(_session_body(info))


@router.post("/auth/unlock", openapi_extra=_UNLOCK_OPENAPI)
async def unlock(info: SignedIn, body: JsonBody, services: ServicesDep, audit: Audit) -> Response:
    """Re-check the password for a locked client without a new session."""
    password = text_field(body, "password")
    ok, locked_now = await run_in_threadpool(services.sessions.unlock, info, password)
    await run_in_threadpool(audit, info, "unlock", "success" if ok else "failure")
    if locked_now:
        await run_in_threadpool(audit.lock_out, info.user.username)
    if not ok:
        raise RequestError(401, "login", "ACCESS_DENIED", "The password is not right.")
    return fhir_response({"unlocked": True})


@router.delete("/auth/session", status_code=204)
def sign_out(info: SignedIn, services: ServicesDep, audit: Audit) -> Response:
    """Revoke the token."""
    services.sessions.revoke(info)
    audit(info, "sign-out", "success")
    return Response(status_code=204)
