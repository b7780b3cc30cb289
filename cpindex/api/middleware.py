"""The one place every request passes: request id, session headers, last-resort errors.

A plain ASGI middleware (not BaseHTTPMiddleware) so it adds almost nothing per request.
Part 2 hooks body-size limits and rate limits in here.
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cpindex.api.outcomes import error_response
from cpindex.errors import RequestError

__all__ = ["REQUEST_ID", "RequestContextMiddleware"]

REQUEST_ID: ContextVar[str] = ContextVar("cpindex_request_id", default="")
_VALID_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_log = logging.getLogger("cpindex.api")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = ""
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                given = value.decode("latin-1")
                break
        request_id = given if _VALID_ID.match(given) else str(uuid.uuid4())
        REQUEST_ID.set(request_id)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                for key, value in state.get("response_headers", {}).items():
                    headers.append((key.lower().encode("latin-1"), value.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:  # last resort: never leak a traceback to the client
            _log.error("unhandled %s on request %s", type(exc).__name__, request_id)
            if started:
                raise
            response = error_response(
                RequestError(500, "exception", "SERVER_ERROR", "The index hit an error. Try again.")
            )
            await response(scope, receive, send_with_headers)
