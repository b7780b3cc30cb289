"""Every FHIR resource the API answers validates against the official FHIR R4 JSON schema.

A sample of answers from every endpoint, errors included: searches (matches, none, too
many, refused), records (ordinary and shielded), audit history, the misuse report, the
CapabilityStatement, and the OperationOutcomes of 400, 401, 403, 404, 405, 413 and 429.
Validated with `jsonschema` against tests/cpindex/data/fhir.schema.json.gz (see README).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft6Validator
from sqlalchemy import Engine

from cpindex.api import create_app
from cpindex.audit import record_event
from cpindex.clock import ManualClock
from cpindex.config import ServerSettings
from cpindex.seed.demo import FIXED_CHILDREN, fixed_child
from tests.cpindex.conftest import RAISED, TestClient, build_services, new_user, sign_in_as

SCHEMA = Path(__file__).with_name("data") / "fhir.schema.json.gz"
OLIVIA = fixed_child("Smithfield", "Olivia").index_id
JAYDEN = fixed_child("Marsh-Whitley", "Jayden").index_id


@cache
def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(gzip.decompress(SCHEMA.read_bytes()))
    # The one erratum: this schema was generated for FHIR 4.0.0 and its fhirVersion code
    # list stops there; R4 is 4.0.1 (the technical correction), which we declare.
    versions = schema["definitions"]["CapabilityStatement"]["properties"]["fhirVersion"]
    versions["enum"] = [*versions["enum"], "4.0.1"]
    return schema


@cache
def _validator(resource_type: str) -> Draft6Validator:
    return Draft6Validator({"$ref": f"#/definitions/{resource_type}", **_schema()})


def _errors(resource: dict[str, Any]) -> list[str]:
    validator = _validator(str(resource.get("resourceType")))
    problems = []
    for error in validator.iter_errors(resource):
        where = "/".join(str(p) for p in error.absolute_path)
        problems.append(f"{resource.get('resourceType')} {where}: {error.message[:200]}")
    return problems


def test_the_schema_catches_a_bad_gender() -> None:
    patient = {"resourceType": "Patient", "gender": "robot"}
    assert _errors(patient)
    assert _errors({"resourceType": "Patient", "gender": "female"}) == []


def test_every_answer_is_valid_fhir(seeded_engine: Engine) -> None:
    clock = ManualClock()
    client = TestClient(create_app(build_services(seeded_engine, RAISED, clock=clock)))
    nurse_name, nurse_secret = new_user(seeded_engine)
    nurse = {"Authorization": f"Bearer {sign_in_as(client, clock, nurse_name, nurse_secret)}"}
    team_user = new_user(seeded_engine, "index-team")
    team = {"Authorization": f"Bearer {sign_in_as(client, clock, *team_user)}"}
    record_event(
        seeded_engine, at=clock.now() - dt.timedelta(days=1), action="view", outcome="success",
        username=nurse_name, role="practitioner", organisation="Test Organisation",
        patient_id=JAYDEN, detail={"reason": "other", "reason_text": "planted"},
    )  # fmt: skip
    reason = {"X-Access-Reason": "health-care"}
    answers: list[tuple[str, Any]] = []

    def get(path: str, headers: dict[str, str], **params: Any) -> None:
        answers.append((path, client.get(path, headers=headers, params=params)))

    for kid in FIXED_CHILDREN:
        get("/Patient", nurse, family=kid.family, birthdate=kid.birth_date.isoformat())
        get(f"/Patient/{kid.index_id}/$everything", {**nurse, **reason})
    get("/Patient", nurse, family="Smithfeld", given="Olivia", birthdate="2011-03-14",
        **{"_fuzzy-match": "true"})  # fmt: skip
    get("/Patient", nurse, family="Zzyzx", birthdate="2011-03-14")
    get("/Patient", nurse, family="Smith", birthdate=["ge2000-01-01", "le2020-12-31"])
    get("/Patient", nurse, family="Smith")
    get("/Patient", nurse, family="Smith", birthdate="2011-02-30")
    get("/Patient", {}, family="Smith", birthdate="2011-03-14")
    get(f"/Patient/{OLIVIA}/$everything", nurse)
    get("/Patient/00000000-0000-4000-8000-000000000000/$everything", {**nurse, **reason})
    get("/AuditEvent", nurse, agent="me")
    get("/AuditEvent", team, patient=JAYDEN)
    get("/AuditEvent", nurse, patient=OLIVIA)
    get("/AuditEvent/$misuse", team, since=(clock.now() - dt.timedelta(days=2)).date().isoformat())
    get("/metadata", {})
    get("/nowhere", nurse)
    answers.append(("POST /metadata", client.post("/metadata")))
    answers.append(("POST /auth/session", client.post("/auth/session", json={"username": "x"})))
    json_type = {"Content-Type": "application/json"}
    answers.append(("big", client.post("/auth/session", content=b"x" * 10_000, headers=json_type)))
    limited = TestClient(
        create_app(build_services(seeded_engine, ServerSettings(search_limit=1), clock=clock))
    )
    token = sign_in_as(limited, clock, *new_user(seeded_engine))
    smith = {"family": "Smith", "birthdate": "2011-03-14"}
    for _ in range(2):
        bearer = {"Authorization": f"Bearer {token}"}
        answers.append(("429", limited.get("/Patient", params=smith, headers=bearer)))

    statuses = {response.status_code for _, response in answers}
    assert {200, 400, 401, 403, 404, 405, 413, 429} <= statuses
    kinds: set[str] = set()
    problems: list[str] = []
    for path, response in answers:
        body = response.json()
        kinds.add(body["resourceType"])
        kinds.update(e["resource"]["resourceType"] for e in body.get("entry", []))
        problems += [f"{path} [{response.status_code}] {p}" for p in _errors(body)]
    assert problems == []
    assert kinds >= {
        "Bundle", "Patient", "RelatedPerson", "Organization", "PractitionerRole", "Flag",
        "AuditEvent", "OperationOutcome", "CapabilityStatement",
    }  # fmt: skip


@pytest.mark.parametrize("resource_type", ["Bundle", "AuditEvent"])
def test_validator_is_strict_about_unknown_fields(resource_type: str) -> None:
    assert _errors({"resourceType": resource_type, "surprise": True})
