"""A shielded child's whereabouts and contacts appear in no response of any endpoint."""

from __future__ import annotations

import json
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import Engine, select

from cpindex.seed.demo import FIXED_CHILDREN, fixed_child
from cpindex.store.schema import child
from tests.cpindex.conftest import Api

JAYDEN = fixed_child("Marsh-Whitley", "Jayden")
RESTRICTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
    "code": "R",
    "display": "restricted",
}


def _secrets() -> list[str]:
    """Every held fact about Jayden that must never leave the server."""
    values = [JAYDEN.postcode, JAYDEN.postcode.replace(" ", ""), JAYDEN.line1, JAYDEN.city]
    values += ['"family": "Whitley"', '"family":"Whitley"']  # his previous name
    for carer in JAYDEN.carers:
        values += [carer.given, carer.phone or "", carer.email or ""]
    for entry in (JAYDEN.school, JAYDEN.gp):
        assert entry is not None
        values += list(entry)
    for inv in JAYDEN.involvements:
        values += [inv.name, inv.organisation, inv.phone, inv.email]
    values.append(JAYDEN.sensitive_contact or "")
    return [v for v in values if v]


def _assert_clean(body: dict[str, Any]) -> None:
    text = json.dumps(body)
    for secret in _secrets():
        assert secret not in text, secret
    for entry in body.get("entry", []):
        resource = entry["resource"]
        if resource.get("id", "").startswith(JAYDEN.index_id):
            held = json.dumps(resource)
            for key in ("address", "telecom", "postalCode", "contact"):
                assert f'"{key}"' not in held


def _restricted_patient(resource: dict[str, Any]) -> None:
    assert resource["meta"]["security"] == [RESTRICTED]
    assert set(resource) == {
        "resourceType", "id", "meta", "identifier", "name", "gender", "birthDate", "extension"
    }  # fmt: skip
    assert resource["extension"][0]["valueString"].startswith("Contact the index team on ")
    assert [n["use"] for n in resource["name"]] == ["official"]


def test_search_returns_the_restricted_summary(api: Api) -> None:
    status, body = api.search(family="Marsh-Whitley", birthdate="2012-07-09")
    assert status == 200
    Bundle.model_validate(body)
    assert [e["resource"]["id"] for e in body["entry"]] == [JAYDEN.index_id]
    _restricted_patient(body["entry"][0]["resource"])
    _assert_clean(body)


def test_fuzzy_and_previous_name_searches_are_restricted_too(api: Api) -> None:
    for params in (
        {
            "given": "Jaden",
            "family": "Marsh-Whitly",
            "birthdate": "2012-07-09",
            "_fuzzy-match": "true",
        },
        {"given": "Jayden", "family": "Whitley", "birthdate": "2012-07-09", "_fuzzy-match": "true"},
        {"family": "Whitley", "birthdate": "2012-07-09"},
        {"family": "Marsh-Whitley", "birthdate": ["ge2012-01-01", "le2012-12-31"]},
    ):
        status, body = api.search(**params)
        assert status == 200
        entries = [e for e in body.get("entry", []) if e["resource"]["id"] == JAYDEN.index_id]
        assert entries, params
        _restricted_patient(entries[0]["resource"])
        _assert_clean(body)


def test_a_postcode_search_never_returns_a_shielded_child(api: Api) -> None:
    fuzzy = {"_fuzzy-match": "true"}
    for postcode in (JAYDEN.postcode, JAYDEN.postcode.split()[0]):
        pc = {"address-postalcode": postcode}
        for params in (
            {"family": "Marsh-Whitley", "birthdate": "2012-07-09", **pc},
            {"family": "Marsh-Whitley", "birthdate": "2012-07-09", "gender": "male", **pc, **fuzzy},
            {"given": "Jayden", "birthdate": "2012-07-09", "gender": "male", **pc, **fuzzy},
            {
                "given": "Jayden",
                "family": "Marsh-Whitley",
                "birthdate": "2012-07-09",
                **pc,
                **fuzzy,
            },
        ):
            status, body = api.search(**params)
            assert status == 200 and body["total"] == 0 and "entry" not in body, params


def test_everything_holds_the_patient_alone(api: Api) -> None:
    for reason in ("emergency-care", "safeguarding", "social-care"):
        status, body = api.everything(JAYDEN.index_id, reason)
        assert status == 200
        Bundle.model_validate(body)
        assert [e["resource"]["resourceType"] for e in body["entry"]] == ["Patient"]
        _restricted_patient(body["entry"][0]["resource"])
        _assert_clean(body)


def test_every_generated_shielded_child_is_restricted(api: Api, seeded_engine: Engine) -> None:
    with seeded_engine.connect() as conn:
        rows = conn.execute(
            select(
                child.c.index_id, child.c.family, child.c.birth_date, child.c.postcode_key
            ).where(child.c.shielded.is_(True))
        ).all()
    assert len(rows) > 3
    fixed = {c.index_id for c in FIXED_CHILDREN}
    for index_id, family, birth, postcode in rows[:10]:
        if index_id in fixed:
            continue
        _status, body = api.everything(index_id)
        assert [e["resource"]["resourceType"] for e in body["entry"]] == ["Patient"]
        text = json.dumps(body)
        assert postcode[:-3] not in text.replace(" ", "") or postcode[:-3] in index_id.upper()
        _, found = api.search(family=family, birthdate=birth.isoformat())
        mine = [e for e in found.get("entry", []) if e["resource"]["id"] == index_id]
        assert mine and "address" not in mine[0]["resource"]
        _, found = api.search(
            family=family, birthdate=birth.isoformat(), **{"address-postalcode": postcode}
        )
        assert all(e["resource"]["id"] != index_id for e in found.get("entry", []))
