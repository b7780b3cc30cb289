"""The one place responses are shaped: FHIR JSON bodies and PDS-style OperationOutcomes."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from cpindex.errors import PDS_DISPLAY, RequestError

__all__ = [
    "FHIR_JSON",
    "SPINE_CODES",
    "error_response",
    "fhir_response",
    "operation_outcome",
    "too_many_matches",
]

FHIR_JSON = "application/fhir+json"
SPINE_CODES = "https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode"


def operation_outcome(
    code: str, pds_code: str, diagnostics: str, severity: str = "error"
) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": severity,
                "code": code,
                "details": {
                    "coding": [
                        {
                            "system": SPINE_CODES,
                            "version": "1",
                            "code": pds_code,
                            "display": PDS_DISPLAY.get(pds_code, pds_code),
                        }
                    ]
                },
                "diagnostics": diagnostics,
            }
        ],
    }


def fhir_response(
    body: dict[str, Any] | None, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    content = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
    return Response(content=content, status_code=status, headers=headers, media_type=FHIR_JSON)


def error_response(error: RequestError) -> Response:
    body = operation_outcome(error.code, error.pds_code, error.diagnostics, error.severity)
    return fhir_response(body, error.status, error.headers or None)


def too_many_matches(max_results: int) -> Response:
    """HTTP 200 with an OperationOutcome and no list, as PDS answers."""
    return fhir_response(
        operation_outcome(
            "multiple-matches",
            "TOO_MANY_MATCHES",
            f"More than {max_results} children match. Add a given name, gender or postcode, "
            "or give the exact date of birth.",
            severity="information",
        )
    )
