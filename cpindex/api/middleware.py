"""The one place every request passes: request id, hostile-input gates, the headers every
answer carries, and the one catch-all for unexpected errors.

A plain ASGI middleware (not BaseHTTPMiddleware) so it adds almost nothing per request.
Before any handler runs it refuses a query string that is too long, not UTF-8 once
percent-decoded, or holding a control, bidi or invisible character (cpindex.text_rules),
a path holding one, and a body over MAX_BODY bytes, announced by Content-Length or
streamed (413), each with an OperationOutcome. `POST /$feed` alone takes a larger body
(`feed_max_body`, the `feed_max_bytes` setting): a council's feed is megabytes, while
every other body is a small JSON object. Every answer, errors included, says
`Cache-Control: no-store`, `Pragma: no-cache` and `X-Content-Type-Options: nosniff`, and
over TLS `Strict-Transport-Security`. An exception no handler expected is audited as an
error (cpindex.api.deps.audit_failure) and answered with a plain 500 OperationOutcome.
Rate limits need the signed-in user and sit with the audit write (cpindex.api.deps).
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cpindex.api.deps import audit_failure
from cpindex.api.outcomes import error_response
from cpindex.errors import RequestError
from cpindex.text_rules import unsafe_character

__all__ = ["FEED_PATH", "MAX_BODY", "MAX_QUERY", "REQUEST_ID", "RequestContextMiddleware"]

MAX_BODY = 4096
FEED_PATH = "/$feed"  # cpindex.api.feed; the one route with its own body limit
MAX_QUERY = 2048

REQUEST_ID: ContextVar[str] = ContextVar("cpindex_request_id", default="")
_VALID_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
# Child data must not be kept by a proxy or browser cache on the way.
_ALWAYS = [
    (b"cache-control", b"no-store"),
    (b"pragma", b"no-cache"),
    (b"x-content-type-options", b"nosniff"),
]
_HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
_REPLACED = {name for name, _ in _ALWAYS} | {_HSTS[0]}
_log = logging.getLogger("cpindex.api")


class _BodyTooLarge(Exception):
    pass


def _query_problem(raw: bytes) -> RequestError | None:
    if len(raw) > MAX_QUERY:
        return RequestError(400, "too-long", "INVALID_VALUE", "The query is too long.")
    try:
        raw.decode("ascii")
        for part in raw.replace(b"+", b" ").split(b"&"):
            if unsafe_character(unquote_to_bytes(part).decode("utf-8")):
                return RequestError(
                    400,
                    "value",
                    "INVALID_VALUE",
                    "The query holds control, direction or invisible characters.",
                )
    except UnicodeDecodeError:
        return RequestError(
            400, "value", "INVALID_VALUE", "Percent-encode the query parameters as UTF-8."
        )
    return None


def _path_problem(scope: Scope) -> RequestError | None:
    if unsafe_character(scope.get("path", "")):
        return RequestError(
            400,
            "value",
            "INVALID_VALUE",
            "The path holds control, direction or invisible characters.",
        )
    return None


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return -1
    return None


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, feed_max_body: int = MAX_BODY) -> None:
        self.app = app
        self.feed_max_body = feed_max_body

    def _body_limit(self, scope: Scope) -> int:
        """MAX_BODY, or the feed limit for POST /$feed (the path as routed, decoded)."""
        if scope.get("method") == "POST" and scope.get("path") == FEED_PATH:
            return self.feed_max_body
        return MAX_BODY

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = ""
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                given = value.decode("latin-1")
                break
        request_id = given if _VALID_ID.fullmatch(given) else str(uuid.uuid4())
        REQUEST_ID.set(request_id)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = False
        problem = _query_problem(scope.get("query_string", b"")) or _path_problem(scope)
        declared = _declared_length(scope)
        limit = self._body_limit(scope)
        if problem is None and declared is not None and not 0 <= declared <= limit:
            problem = _too_large() if declared > limit else _bad_length()
        received = 0

        async def guarded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
            return message

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [h for h in message.get("headers", []) if h[0] not in _REPLACED]
                headers.extend(_ALWAYS)
                if scope.get("scheme") == "https":
                    headers.append(_HSTS)
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                for key, value in state.get("response_headers", {}).items():
                    headers.append((key.lower().encode("latin-1"), value.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        if problem is not None:
            await error_response(problem)(scope, receive, send_with_headers)
            return
        try:
            await self.app(scope, guarded_receive, send_with_headers)
        except _BodyTooLarge:
            if started:
                raise
            await error_response(_too_large())(scope, receive, send_with_headers)
        except ClientDisconnect:  # the client went away (or was cut off as too slow)
            return
        except Exception as exc:  # the one catch-all: audited, never a traceback out
            _log.error("unhandled %s on request %s", type(exc).__name__, request_id)
            await run_in_threadpool(audit_failure, scope)
            if started:
                raise
            response = error_response(
                RequestError(500, "exception", "SERVER_ERROR", "The index hit an error. Try again.")
            )
            await response(scope, receive, send_with_headers)


def _too_large() -> RequestError:
    return RequestError(413, "too-long", "INVALID_VALUE", "The request body is too large.")


def _bad_length() -> RequestError:
    return RequestError(400, "structure", "INVALID_VALUE", "The Content-Length is not valid.")
