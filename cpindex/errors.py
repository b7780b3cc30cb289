"""Errors that become a FHIR OperationOutcome (shaped in cpindex.api.outcomes).

Raised anywhere below the API (query rules, records); `diagnostics` is a sentence a person
can act on and never holds child data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["PDS_DISPLAY", "RequestError"]

PDS_DISPLAY = {
    "INVALID_SEARCH_DATA": "Invalid search data provided",
    "MISSING_VALUE": "Required value is missing",
    "INVALID_VALUE": "Provided value is invalid",
    "ADDITIONAL_PROPERTIES": "Additional properties are not allowed",
    "MISSING_ACCESS_REASON": "A reason for access is required",
    "TOO_MANY_MATCHES": "Too many matches",
    "ACCESS_DENIED": "Access denied",
    "RESOURCE_NOT_FOUND": "Resource not found",
    "TOO_MANY_REQUESTS": "You have made too many requests",
    "SERVER_ERROR": "Internal server error",
    "NOT_ALLOWED": "Method not allowed",
    "UNSUPPORTED_MEDIA_TYPE": "Unsupported media type",
    "CONFLICT": "Conflict with the resource's current state",
}


@dataclass
class RequestError(Exception):
    """status: HTTP status; code: FHIR issue type; pds_code: Spine error code."""

    status: int
    code: str
    pds_code: str
    diagnostics: str
    severity: str = "error"
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.pds_code}: {self.diagnostics}"
