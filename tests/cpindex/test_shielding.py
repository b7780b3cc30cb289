"""A shielded child's whereabouts and contacts appear in no response of any endpoint."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import Engine, select

from cpindex.seed.demo import FIXED_CHILDREN, fixed_child
from cpindex.store.schema import carer, child, household, organisation
from tests.cpindex.conftest import Api, sign_in

JAYDEN = fixed_child("Marsh-Whitley", "Jayden")
MIA = fixed_child("Marsh", "Mia")  # not shielded herself: Jayden's half-sister, same home
RESTRICTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
    "code": "R",
    "display": "restricted",
}


def _secrets() -> list[str]:
    """Every held fact about Jayden that must never leave the server."""
    values = [JAYDEN.postcode, JAYDEN.postcode.replace(" ", ""), JAYDEN.line1, JAYDEN.city]
    values += ['"family": "Whitley"', '"family":"Whitley"']  # his previous name
    for person in JAYDEN.carers:
        values += [person.given, person.phone or "", person.email or ""]
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


def test_fuzzy_and_date_range_searches_are_restricted_too(api: Api) -> None:
    for params in (
        {
            "given": "Jaden",
            "family": "Marsh-Whitly",
            "birthdate": "2012-07-09",
            "_fuzzy-match": "true",
        },
        {"family": "Marsh-Whitley", "birthdate": ["ge2012-01-01", "le2012-12-31"]},
    ):
        status, body = api.search(**params)
        assert status == 200
        entries = [e for e in body.get("entry", []) if e["resource"]["id"] == JAYDEN.index_id]
        assert entries, params
        _restricted_patient(entries[0]["resource"])
        _assert_clean(body)


def test_a_former_name_or_alias_never_finds_a_shielded_child(api: Api) -> None:
    """Item 6 (issue 12): the old identity must not lead to the new name and NHS number.

    Mia is not shielded herself; she shares Jayden's home, so her alias is hidden too.
    """
    fuzzy = {"_fuzzy-match": "true"}
    for kid, params in (
        (JAYDEN, {"family": "Whitley", "birthdate": "2012-07-09"}),
        (JAYDEN, {"given": "Jayden", "family": "Whitley", "birthdate": "2012-07-09", **fuzzy}),
        (JAYDEN, {"family": "Whitley", "birthdate": ["ge2012-01-01", "le2012-12-31"]}),
        (MIA, {"given": "Millie", "family": "Marsh", "birthdate": "2016-02-21", **fuzzy}),
        (MIA, {"given": "Millie", "family": "Marsh", "birthdate": "2016-02-21"}),
    ):
        status, body = api.search(**params)
        assert status == 200, body
        found = [e["resource"]["id"] for e in body.get("entry", [])]
        assert kid.index_id not in found, params
    # The current official name still finds both, restricted.
    for kid in (JAYDEN, MIA):
        _, body = api.search(family=kid.family, birthdate=kid.birth_date.isoformat())
        (entry,) = [e for e in body["entry"] if e["resource"]["id"] == kid.index_id]
        _restricted_patient(entry["resource"])


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


# --- Household shielding over the whole seeded store (issue 12, item 1) --------------------

_RESTRICTED_KEYS = {
    "resourceType", "id", "meta", "identifier", "name", "gender", "birthDate", "extension"
}  # fmt: skip


@dataclass(frozen=True)
class _Home:
    """A shielded child, every child found with it, and what is never to be served."""

    shielded: str
    members: tuple[tuple[str, str, dt.date], ...]  # index id, family, birth date
    postcode: str
    secrets: frozenset[str]


def _homes(engine: Engine) -> list[_Home]:
    """From the raw tables, independently of the stored flag: for every shielded child,
    the children sharing its household, its home address or a carer (name and phone)."""
    with engine.connect() as conn:
        kids = conn.execute(
            select(
                child.c.index_id, child.c.family, child.c.birth_date, child.c.household_id,
                child.c.shielded, child.c.school_id, child.c.gp_id,
            )
        ).all()  # fmt: skip
        homes = {r.id: (r.line1, r.city, r.postcode) for r in conn.execute(select(household))}
        carers: dict[int, list[Any]] = {}
        for row in conn.execute(select(carer)):
            carers.setdefault(row.household_id, []).append(row)
        orgs = {r.id: (r.name, r.phone) for r in conn.execute(select(organisation))}

    def address(hh: int) -> tuple[str, str]:
        line1, _city, postcode = homes[hh]
        return line1.lower(), postcode.replace(" ", "").upper()

    def people(hh: int) -> set[tuple[str, str, str]]:
        return {(c.given, c.family, c.phone) for c in carers.get(hh, []) if c.phone}

    found = []
    for index_id, _family, _birth, hh, shielded, _s, _g in kids:
        if not shielded:
            continue
        members = [
            k for k in kids
            if k[3] == hh or address(k[3]) == address(hh) or people(k[3]) & people(hh)
        ]  # fmt: skip
        secrets: set[str] = set()
        for member in members:
            line1, _city, postcode = homes[member[3]]
            secrets |= {line1, postcode, postcode.replace(" ", "")}
            for c in carers.get(member[3], []):
                secrets |= {v for v in (c.phone, c.email, c.line1, c.postcode) if v}
            for org in (member[5], member[6]):
                if org is not None:
                    secrets |= set(orgs[org])
        found.append(
            _Home(
                index_id,
                tuple((m[0], m[1], m[2]) for m in members),
                homes[hh][2],
                frozenset(secrets),
            )
        )
    return found


def _no_secret(resource: dict[str, Any], home: _Home, what: str) -> None:
    text = json.dumps(resource)
    leaked = [s for s in home.secrets if s in text]
    assert not leaked, (what, resource["id"], leaked)


def test_no_endpoint_serves_a_shielded_childs_home_through_its_household(
    api: Api, seeded_engine: Engine
) -> None:
    """For every shielded child: no address, postcode, carer contact, school or GP of any
    child sharing its home is served by search, $everything, a postcode search or the
    AuditEvent endpoint."""
    homes = _homes(seeded_engine)
    assert sum(len(h.members) > 1 for h in homes) >= 3  # the property is not vacuous
    team = sign_in(api.client, api.clock, "indexteam.demo")
    ids = {m[0] for h in homes for m in h.members}
    for home in homes:
        for index_id, family, birth in home.members:
            dob = birth.isoformat()
            year = [f"ge{birth.year}-01-01", f"le{birth.year}-12-31"]
            postcode = home.postcode
            searches = [
                {"family": family, "birthdate": dob},
                {"family": family, "birthdate": year},
                {"family": family, "birthdate": dob, "address-postalcode": postcode},
                {"family": family, "birthdate": dob, "address-postalcode": postcode.split()[0]},
            ]
            for params in searches:
                status, body = api.search(**params)
                assert status == 200, body
                for entry in body.get("entry", []):
                    resource = entry["resource"]
                    if resource["id"] in ids:
                        assert "address-postalcode" not in params, (params, resource["id"])
                        assert set(resource) == _RESTRICTED_KEYS, resource["id"]
                        assert resource["meta"]["security"] == [RESTRICTED]
                        _no_secret(resource, home, "search")
            status, body = api.everything(index_id, "safeguarding")
            assert status == 200
            kinds = [e["resource"]["resourceType"] for e in body["entry"]]  # type: ignore[index]
            assert kinds == ["Patient"], (index_id, kinds)
            _no_secret(body, home, "$everything")
            answer = api.client.get(
                "/AuditEvent", params={"patient": index_id},
                headers={"Authorization": f"Bearer {team}"},
            )  # fmt: skip
            assert answer.status_code == 200
            _no_secret(answer.json(), home, "AuditEvent")
