"""`create_app(services)`: the server's composition root; it only assembles the parts.

The routers (`auth`, `patient`, `audit`, `metadata`) share their dependencies from
`cpindex.api.deps`; the middleware bounds every request before them; errors become
OperationOutcomes here. Handlers stay lean (an empty FastAPI endpoint already costs most
of a millisecond): parse, check the session, call the search or record loader, build FHIR,
audit, answer.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.telemetry import TelemetryConfig
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from cpindex.api import (
    audit,
    auth,
    feed,
    metadata,
    notices,
    patient,
    practitioner_role,
    review,
)
from cpindex.api.middleware import RequestContextMiddleware
from cpindex.api.openapi import install_openapi
from cpindex.api.outcomes import error_response
from cpindex.api.patient import ACCESS_REASONS
from cpindex.api.services import Services
from cpindex.errors import RequestError
from cpindex.store.db import STORE_THREADS

__all__ = ["ACCESS_REASONS", "Services", "create_app"]

# FastAPI traces each request by itself once a host has any OpenTelemetry provider, and
# its span holds the query string: a search's names and date of birth, sent outside the
# audit's rules. The index hands nothing to telemetry (and saves a check per request).
_NO_TELEMETRY: TelemetryConfig = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "auto_configure": False,
}


def create_app(services: Services) -> FastAPI:
    """The FastAPI application over `services` (no globals: tests build their own)."""
    app = FastAPI(
        title="cpindex",
        version="1.0.0",
        summary="National children's index (synthetic data): FHIR R4, PDS conventions.",
        docs_url="/docs" if services.settings.docs else None,  # loads scripts from a CDN
        redoc_url=None,
        redirect_slashes=False,  # a 307 built from the Host header, before any audit
        telemetry=_NO_TELEMETRY,
        lifespan=_store_threads,
    )
    app.add_middleware(RequestContextMiddleware, feed_max_body=services.settings.feed_max_bytes)
    app.state.services = services
    _install_error_handlers(app)
    for module in (auth, patient, audit, metadata, feed, notices, practitioner_role, review):
        app.include_router(module.router)
    install_openapi(app)
    return app


@contextlib.asynccontextmanager
async def _store_threads(_app: FastAPI) -> AsyncIterator[None]:
    """Run the routes' store work on STORE_THREADS threads (anyio's default is 40)."""
    anyio.to_thread.current_default_thread_limiter().total_tokens = STORE_THREADS
    yield


def _install_error_handlers(app: FastAPI) -> None:
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
