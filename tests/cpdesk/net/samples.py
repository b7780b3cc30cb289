"""FHIR bodies shaped as docs/api.md shapes them (synthetic children only)."""

from __future__ import annotations

import copy
from typing import Any

from tests.helpers.loopback_tls import RawRequest, http_response

NHS = "https://fhir.nhs.uk/Id/nhs-number"
EXT = "https://cpindex.example/fhir/StructureDefinition/"
ROLE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
RESTRICTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
    "code": "R",
    "display": "restricted",
}


def patient(
    index_id: str = "c-1",
    *,
    given: tuple[str, ...] = ("Olivia", "Rose"),
    family: str = "Smithfield",
    birth: str = "2011-03-14",
    postcode: str = "LS6 2QB",
) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": index_id,
        "meta": {"security": []},
        "identifier": [{"system": NHS, "value": "9434765919"}],
        "name": [
            {"use": "nickname", "family": family, "given": ["Liv"]},
            {"use": "official", "family": family, "given": list(given)},
        ],
        "gender": "female",
        "birthDate": birth,
        "address": [
            {"use": "home", "line": ["12 Orchard Row"], "city": "Leeds", "postalCode": postcode}
        ],
        "telecom": [{"system": "phone", "value": "0113 000 0001"}],
    }


def searchset(*patients: dict[str, Any], scores: tuple[float, ...] = ()) -> dict[str, Any]:
    entries = []
    for i, resource in enumerate(patients):
        score = scores[i] if i < len(scores) else 1.0
        entries.append(
            {
                "fullUrl": f"urn:uuid:{resource.get('id')}",
                "search": {"score": score},
                "resource": resource,
            }
        )
    body: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": "2026-11-26T10:00:00Z",
        "total": len(entries),
    }
    if entries:
        body["entry"] = entries
    return body


def carer(name: tuple[str, str], code: str, text: str, pr: bool) -> dict[str, Any]:
    return {
        "resourceType": "RelatedPerson",
        "name": [{"given": [name[0]], "family": name[1]}],
        "relationship": [{"coding": [{"system": ROLE, "code": code}], "text": text}],
        "telecom": [
            {"system": "phone", "value": "07700 900001"},
            {"system": "email", "value": "carer@example.org"},
        ],
        "extension": [{"url": EXT + "parental-responsibility", "valueBoolean": pr}],
    }


def organisation(kind: str, name: str) -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "type": [{"coding": [{"code": kind}]}],
        "name": name,
        "telecom": [{"system": "phone", "value": "0113 000 0002"}],
    }


def involvement(who: str, role: str, org: str, lead: bool) -> dict[str, Any]:
    return {
        "resourceType": "PractitionerRole",
        "practitioner": {"display": who},
        "code": [{"text": role}],
        "organization": {"display": org},
        "telecom": [
            {"system": "phone", "value": "0113 000 0003"},
            {"system": "email", "value": "worker@example.org"},
        ],
        "period": {"start": "2024-09-01"},
        "extension": [{"url": EXT + "lead-professional", "valueBoolean": lead}],
    }


def everything(index_id: str = "c-1") -> dict[str, Any]:
    resources = [
        patient(index_id),
        carer(("Hannah", "Smithfield"), "MTH", "Mother", True),
        carer(("Mark", "Bell"), "STPFTH", "Stepfather", False),
        organisation("school", "Meanwood Primary School"),
        organisation("gp-practice", "Meanwood Health Centre"),
        involvement("Dana Price", "Social worker", "Leeds Children's Services", True),
        involvement("Ravi Patel", "School nurse", "Leeds Community Health", False),
        {
            "resourceType": "PractitionerRole",
            "code": [{"text": "Sensitive service"}],
            "telecom": [{"system": "phone", "value": "0300 000 0001"}],
        },
        {
            "resourceType": "Flag",
            "status": "active",
            "code": {"text": "Common Assessment Framework assessment"},
        },
    ]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }


def shielded_patient(index_id: str = "c-9") -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": index_id,
        "meta": {"security": [dict(RESTRICTED)]},
        "identifier": [{"system": NHS, "value": "9434765870"}],
        "name": [{"use": "official", "family": "Marsh-Whitley", "given": ["Jayden"]}],
        "gender": "male",
        "birthDate": "2012-07-09",
        "extension": [
            {
                "url": EXT + "index-team-contact",
                "valueString": "Contact the index team on 0300 000 0000",
            }
        ],
    }


def shielded_everything(index_id: str = "c-9") -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": shielded_patient(index_id)}],
    }


def session_body(token: str = "tok-1") -> dict[str, Any]:
    return {
        "token": token,
        "token_type": "Bearer",
        "idle_expires_at": "2026-11-26T10:15:00Z",
        "absolute_expires_at": "2026-11-26T20:00:00Z",
        "idle_timeout_seconds": 900,
        "user": {
            "username": "nurse.demo",
            "display_name": "Sam Okafor",
            "role": "practitioner",
            "organisation": "Northgate General Hospital A&E",
        },
    }


def without(body: dict[str, Any], *path: str | int) -> dict[str, Any]:
    """A deep copy of `body` with the item at `path` removed."""
    clone = copy.deepcopy(body)
    node: Any = clone
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return clone


def sign_in_or_search(request: RawRequest) -> bytes:
    """A loopback server's answer: a session for a sign-in, a searchset for anything else."""
    if request.target == "/auth/session":
        return http_response(201, session_body())
    return http_response(200, searchset())
