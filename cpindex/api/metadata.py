"""/metadata: the CapabilityStatement (no sign-in needed)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from cpindex.api.deps import ServicesDep
from cpindex.api.outcomes import fhir_response

__all__ = ["capability_statement", "router"]

router = APIRouter(tags=["meta"])


@router.get("/metadata")
def metadata(services: ServicesDep) -> Response:
    """The CapabilityStatement."""
    return fhir_response(capability_statement(services.clock.now()))


def capability_statement(now: dt.datetime) -> dict[str, Any]:
    search_params = [
        {"name": "family", "type": "string"},
        {"name": "given", "type": "string"},
        {"name": "birthdate", "type": "date"},
        {"name": "gender", "type": "token"},
        {"name": "address-postalcode", "type": "string"},
        {"name": "_fuzzy-match", "type": "token"},
        {"name": "_exact-match", "type": "token"},
        {"name": "_max-results", "type": "number"},
    ]
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": now.date().isoformat(),
        "publisher": "cpindex (synthetic data only)",
        "kind": "instance",
        "software": {"name": "cpindex", "version": "1.0.0"},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "description": "Bearer token from POST /auth/session (password + TOTP)."
                },
                "resource": [
                    {
                        "type": "Patient",
                        "interaction": [{"code": "search-type"}],
                        "searchParam": search_params,
                        "operation": [
                            {
                                "name": "everything",
                                "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
                            }
                        ],
                    },
                    {  # notices (cpindex.api.notices)
                        "type": "Communication",
                        "interaction": [{"code": "create"}, {"code": "read"},
                                        {"code": "search-type"}],
                        "searchParam": [
                            {"name": "recipient", "type": "token"},
                            {"name": "status", "type": "token"},
                        ],
                    },
                    {  # self-declared involvements (cpindex.api.practitioner_role)
                        "type": "PractitionerRole",
                        "interaction": [{"code": "create"}],
                        "operation": [{"name": "end",
                                       "definition": "https://cpindex.example/fhir/OperationDefinition/PractitionerRole-end"}],
                    },
                    {  # the index team's link review (cpindex.api.review)
                        "type": "Task",
                        "interaction": [{"code": "read"}, {"code": "search-type"}],
                        "searchParam": [{"name": "status", "type": "token"}],
                    },
                ],
            }
        ],
    }  # fmt: skip
