"""$everything: the reason for access, and what an ordinary child's record holds."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome

from cpindex.seed.demo import fixed_child
from tests.cpindex.conftest import Api

OLIVIA = fixed_child("Smithfield", "Olivia")
EXT = "https://cpindex.example/fhir/StructureDefinition/"


def _by_type(body: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in body["entry"] if e["resource"]["resourceType"] == kind]


def _ext(resource: dict[str, Any], name: str) -> Any:
    return next(e["valueBoolean"] for e in resource["extension"] if e["url"] == EXT + name)


@pytest.mark.parametrize(
    ("reason", "text"),
    [(None, ""), ("", ""), ("curiosity", ""), ("other", ""), ("other", "%20%20")],
)
def test_everything_needs_a_valid_reason(api: Api, reason: str | None, text: str) -> None:
    status, body = api.everything(OLIVIA.index_id, reason, text)
    assert status == 400
    OperationOutcome.model_validate(body)
    issue = body["issue"][0]
    assert issue["code"] == "required"
    assert issue["details"]["coding"][0]["code"] == "MISSING_ACCESS_REASON"
    assert "X-Access-Reason" in issue["diagnostics"]


def test_reason_other_with_text_and_overlong_text(api: Api) -> None:
    status, _ = api.everything(OLIVIA.index_id, "other", quote("Parent asked at reception – père"))
    assert status == 200
    status, body = api.everything(OLIVIA.index_id, "other", quote("x" * 501))
    assert status == 400 and body["issue"][0]["details"]["coding"][0]["code"] == "INVALID_VALUE"


def test_unknown_child_is_404(api: Api) -> None:
    status, body = api.everything("00000000-0000-4000-8000-000000000000")
    assert status == 404
    assert body["issue"][0]["details"]["coding"][0]["code"] == "RESOURCE_NOT_FOUND"


def test_ordinary_record_contents(api: Api) -> None:
    status, body = api.everything(OLIVIA.index_id, "safeguarding")
    assert status == 200
    bundle = Bundle.model_validate(body)
    assert bundle.type == "collection"
    (patient,) = _by_type(body, "Patient")
    assert patient["meta"]["security"] == []
    assert patient["address"][0]["postalCode"] == OLIVIA.postcode
    assert patient["address"][0]["line"] == [OLIVIA.line1]
    carers = _by_type(body, "RelatedPerson")
    assert [c["relationship"][0]["coding"][0]["code"] for c in carers] == ["MTH", "FTH"]
    assert carers[0]["relationship"][0]["text"] == "Mother"
    assert all(_ext(c, "parental-responsibility") is True for c in carers)
    assert "address" not in carers[0] and carers[1]["address"][0]["postalCode"] == "LS6 3AG"
    assert carers[0]["telecom"][0] == {"system": "phone", "value": "07700 900123", "use": "mobile"}
    orgs = {o["type"][0]["coding"][0]["code"]: o for o in _by_type(body, "Organization")}
    assert orgs["school"]["name"] == "Headingley Park High School"
    assert orgs["gp-practice"]["name"] == "Hyde Park Surgery"
    roles = _by_type(body, "PractitionerRole")
    assert len(roles) == 3
    leads = [r["practitioner"]["display"] for r in roles if _ext(r, "lead-professional")]
    assert leads == ["Hannah Lowe"]
    assert {r["code"][0]["text"] for r in roles} == {
        "Social worker",
        "School nurse",
        "Connexions adviser",
    }
    assert roles[0]["period"]["start"] == "2025-09-01"
    (flag,) = _by_type(body, "Flag")
    assert flag["code"]["text"] == "Common Assessment Framework assessment"


def test_sensitive_service_is_only_a_contact_route(api: Api, seeded_engine: Any) -> None:
    from sqlalchemy import select

    from cpindex.store.schema import child

    with seeded_engine.connect() as conn:
        index_id = (
            conn.execute(
                select(child.c.index_id).where(
                    child.c.sensitive_contact.is_not(None), child.c.shielded.is_(False)
                )
            )
            .scalars()
            .first()
        )
    assert index_id is not None
    _status, body = api.everything(index_id)
    sensitive = [
        r for r in _by_type(body, "PractitionerRole") if r["code"][0]["text"] == "Sensitive service"
    ]
    assert len(sensitive) == 1
    assert set(sensitive[0]) == {"resourceType", "id", "extension", "code", "telecom"}


def test_metadata_and_openapi(api: Api) -> None:
    response = api.client.get("/metadata")
    assert response.status_code == 200
    CapabilityStatement.model_validate(response.json())
    spec = api.client.get("/openapi.json").json()
    assert {
        "/Patient",
        "/Patient/{patient_id}/$everything",
        "/auth/session",
        "/auth/unlock",
    } <= set(spec["paths"])
    body = spec["paths"]["/auth/session"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["required"] == ["username", "password", "otp"]
    names = {p["name"] for p in spec["paths"]["/Patient"]["get"]["parameters"]}
    assert {
        "family",
        "given",
        "birthdate",
        "address-postalcode",
        "_fuzzy-match",
        "_max-results",
    } <= names
