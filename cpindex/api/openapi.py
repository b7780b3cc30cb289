"""The served OpenAPI, told the truth: FHIR JSON bodies, OperationOutcome errors, bearer auth.

FastAPI describes every answer as `application/json` and adds 422 validation errors we
never send (bad input is a 400 OperationOutcome). This rewrites each operation's responses
once, so clients and schemathesis check against what the server really answers.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from cpindex.api.outcomes import FHIR_JSON

__all__ = ["install_openapi", "query_parameters"]

_OUTCOME = {
    "type": "object",
    "required": ["resourceType", "issue"],
    "properties": {
        "resourceType": {"type": "string", "enum": ["OperationOutcome"]},
        "issue": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["severity", "code"],
                "properties": {
                    "severity": {"type": "string"},
                    "code": {"type": "string"},
                    "diagnostics": {"type": "string"},
                    "details": {"type": "object"},
                },
            },
        },
    },
}


def _resource(*types: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["resourceType"],
        "properties": {"resourceType": {"type": "string", "enum": list(types)}},
    }


_SESSION = {
    "type": "object",
    "required": ["idle_expires_at", "absolute_expires_at", "idle_timeout_seconds", "user"],
    "properties": {
        "token": {"type": "string"},
        "token_type": {"type": "string"},
        "idle_expires_at": {"type": "string"},
        "absolute_expires_at": {"type": "string"},
        "idle_timeout_seconds": {"type": "integer"},
        "user": {"type": "object"},
    },
}
# (method, path) -> (success status, body schema or None for no body, description)
_SUCCESS: dict[tuple[str, str], tuple[str, dict[str, Any] | None, str]] = {
    ("get", "/auth/session"): ("200", _SESSION, "The current session"),
    ("post", "/auth/session"): ("201", _SESSION, "Signed in: the bearer token and its expiry"),
    ("delete", "/auth/session"): ("204", None, "Signed out"),
    ("post", "/auth/unlock"): (
        "200",
        {
            "type": "object",
            "required": ["unlocked"],
            "properties": {"unlocked": {"type": "boolean"}},
        },
        "The password was right",
    ),
    ("get", "/Patient"): (
        "200",
        _resource("Bundle", "OperationOutcome"),
        "A searchset Bundle, or an OperationOutcome TOO_MANY_MATCHES (no list)",
    ),
    ("get", "/Patient/{patient_id}/$everything"): ("200", _resource("Bundle"), "The record"),
    ("get", "/AuditEvent"): ("200", _resource("Bundle"), "A searchset Bundle of AuditEvents"),
    ("get", "/AuditEvent/$misuse"): (
        "200",
        _resource("Bundle"),
        "AuditEvents worth a question, each with its misuse-rule extensions",
    ),
    ("get", "/metadata"): ("200", _resource("CapabilityStatement"), "The CapabilityStatement"),
    # Notices (cpindex.api.notices)
    ("post", "/Communication"): ("201", _resource("Bundle"), "The notices stored"),
    ("get", "/Communication"): ("200", _resource("Bundle"), "A searchset Bundle of notices"),
    ("get", "/Communication/{notice_id}"): ("200", _resource("Communication"), "The notice"),
    ("post", "/Communication/{notice_id}/$done"): (
        "200",
        _resource("Communication"),
        "The notice, done",
    ),
    ("post", "/Communication/{notice_id}/$relay"): ("201", _resource("Bundle"), "Relayed"),
    ("post", "/Communication/{notice_id}/$answer"): ("201", _resource("Bundle"), "Answered"),
}
_PUBLIC = {("post", "/auth/session"), ("get", "/metadata")}


def query_parameters(table: dict[str, tuple[dict[str, Any], str]]) -> dict[str, Any]:
    """`openapi_extra` for query parameters a handler reads itself (name -> schema, text)."""
    return {
        "parameters": [
            {"name": name, "in": "query", "required": False, "schema": schema,
             "description": description}
            for name, (schema, description) in table.items()
        ]
    }  # fmt: skip


def _drop_null(parameter: dict[str, Any]) -> None:
    """A query or header parameter is absent or text, never JSON null: say so."""
    schema = parameter.get("schema", {})
    options = [o for o in schema.get("anyOf", []) if o.get("type") != "null"]
    if "anyOf" in schema and len(options) == 1:
        title = schema.get("title")
        parameter["schema"] = {**options[0], **({"title": title} if title else {})}


def install_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` describe FHIR answers (call once, after the routes exist)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = build()
        for path, operations in spec.get("paths", {}).items():
            for method, operation in operations.items():
                status, body, description = _SUCCESS.get(
                    (method, path), ("200", _resource("Bundle"), "Success")
                )
                success: dict[str, Any] = {"description": description}
                if body is not None:
                    success["content"] = {FHIR_JSON: {"schema": body}}
                operation["responses"] = {
                    status: success,
                    "default": {
                        "description": "An OperationOutcome (400, 401, 403, 404, 405, 413, "
                        "429 with Retry-After, 500)",
                        "content": {FHIR_JSON: {"schema": _OUTCOME}},
                    },
                }
                if (method, path) not in _PUBLIC:
                    operation["security"] = [{"bearer": []}]
                for parameter in operation.get("parameters", []):
                    _drop_null(parameter)
        components = spec.setdefault("components", {})
        schemas = components.get("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        if not schemas:
            components.pop("schemas", None)
        components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
