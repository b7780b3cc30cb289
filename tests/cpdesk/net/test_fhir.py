import datetime as dt
import json
from typing import Any

import pytest

from cpdesk.errors import MalformedResponse
from cpdesk.net import fhir
from cpdesk.records import SearchQuery

from . import samples


def test_searchset_parses_summary_with_official_name_first() -> None:
    result = fhir.parse_searchset(samples.searchset(samples.patient(), scores=(0.97,)))
    (row,) = result.children
    assert row.index_id == "c-1"
    assert row.given == ("Olivia", "Rose")
    assert row.family == "Smithfield"
    assert row.birthdate == dt.date(2011, 3, 14)
    assert row.gender == "female"
    assert row.postcode == "LS6 2QB"
    assert row.nhs_number == "9434765919"
    assert row.score == pytest.approx(0.97)
    assert not row.shielded


def test_searchset_ranks_best_first_and_empty_bundle_is_no_rows() -> None:
    body = samples.searchset(samples.patient("a"), samples.patient("b"), scores=(0.5, 0.9))
    assert [c.index_id for c in fhir.parse_searchset(body).children] == ["b", "a"]
    assert fhir.parse_searchset(samples.searchset()).children == ()


@pytest.mark.parametrize(
    "path",
    [
        ("gender",),
        ("address",),
        ("identifier",),
        ("meta",),
        ("telecom",),
        ("name", 1, "given"),
    ],
)
def test_missing_optional_fields_are_tolerated(path: tuple[Any, ...]) -> None:
    body = samples.searchset(samples.without(samples.patient(), *path))
    assert len(fhir.parse_searchset(body).children) == 1


def test_missing_score_defaults_to_exact() -> None:
    body = samples.without(samples.searchset(samples.patient()), "entry", 0, "search")
    assert fhir.parse_searchset(body).children[0].score == 1.0


@pytest.mark.parametrize("path", [("resourceType",), ("id",), ("name",), ("birthDate",)])
def test_missing_required_patient_fields_are_malformed(path: tuple[Any, ...]) -> None:
    body = samples.searchset(samples.without(samples.patient(), *path))
    with pytest.raises(MalformedResponse):
        fhir.parse_searchset(body)


@pytest.mark.parametrize("birth", ["2011", "2011-03", "2011-02-30", "14/03/2011", 20110314])
def test_partial_or_bad_birth_date_is_malformed(birth: object) -> None:
    body = samples.searchset(samples.patient())
    body["entry"][0]["resource"]["birthDate"] = birth
    with pytest.raises(MalformedResponse):
        fhir.parse_searchset(body)


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        "text",
        {"resourceType": "Bundle", "type": "collection"},
        {"resourceType": "Patient"},
        {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": "x"}]},
        {"resourceType": "Bundle", "type": "searchset", "entry": ["x"]},
    ],
)
def test_wrong_shapes_are_malformed(body: object) -> None:
    with pytest.raises(MalformedResponse) as caught:
        fhir.parse_searchset(body)
    assert "cannot read" in caught.value.user_message


def test_everything_parses_carers_school_gp_involvements_and_caf() -> None:
    record = fhir.parse_everything(samples.everything("c-1"), "c-1")
    assert record.address == ("12 Orchard Row", "Leeds", "LS6 2QB")
    mother, stepfather = record.carers
    assert (mother.name, mother.relationship, mother.parental_responsibility) == (
        "Hannah Smithfield",
        "Mother",
        True,
    )
    assert mother.contact.phone == "07700 900001"
    assert mother.contact.email == "carer@example.org"
    assert stepfather.relationship == "Stepfather"
    assert not stepfather.parental_responsibility
    assert record.school is not None and record.school.name == "Meanwood Primary School"
    assert record.gp is not None and record.gp.kind == "gp-practice"
    assert record.gp.contact.phone == "0113 000 0002"
    lead, nurse, sensitive = record.involvements
    assert lead.lead_professional and not nurse.lead_professional
    assert (lead.practitioner, lead.role, lead.organisation) == (
        "Dana Price",
        "Social worker",
        "Leeds Children's Services",
    )
    assert lead.since == dt.date(2024, 9, 1)
    assert lead.contact.email == "worker@example.org"
    assert (sensitive.practitioner, sensitive.role) == ("", "Sensitive service")
    assert sensitive.contact.phone == "0300 000 0001"
    assert record.caf
    assert not record.shielded


def test_everything_relationship_falls_back_to_code_display() -> None:
    body = samples.everything()
    rel = body["entry"][1]["resource"]["relationship"][0]
    del rel["text"]
    assert fhir.parse_everything(body, "c-1").carers[0].relationship == "Mother"


def test_everything_without_optional_parts_is_a_bare_record() -> None:
    body = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": samples.patient()}],
    }
    record = fhir.parse_everything(body, "c-1")
    assert record.carers == () and record.involvements == ()
    assert record.school is None and record.gp is None and not record.caf


def test_everything_ignores_unknown_resources() -> None:
    body = samples.everything()
    body["entry"].append({"resource": {"resourceType": "Observation", "id": "x"}})
    body["entry"].append({"resource": samples.organisation("library", "City Library")})
    record = fhir.parse_everything(body, "c-1")
    assert record.school is not None and record.school.name == "Meanwood Primary School"


def test_everything_must_hold_the_child_asked_for() -> None:
    with pytest.raises(MalformedResponse):
        fhir.parse_everything(samples.everything("c-2"), "c-1")
    body = samples.everything()
    body["entry"].append({"resource": samples.patient("c-1")})
    with pytest.raises(MalformedResponse):
        fhir.parse_everything(body, "c-1")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b["entry"][1]["resource"].pop("name"),
        lambda b: b["entry"][3]["resource"].pop("name"),
        lambda b: b["entry"][5]["resource"].update(practitioner={}, code=[]),
        lambda b: b["entry"][0]["resource"].pop("resourceType"),
        lambda b: b.update(type="history"),
    ],
)
def test_everything_missing_required_parts_is_malformed(mutate: Any) -> None:
    body = samples.everything()
    mutate(body)
    with pytest.raises(MalformedResponse):
        fhir.parse_everything(body, "c-1")


def test_shielded_child_keeps_only_banner_and_identity() -> None:
    record = fhir.parse_everything(samples.shielded_everything("c-9"), "c-9")
    assert record.shielded
    assert record.index_team_contact == "Contact the index team on 0300 000 0000"
    assert record.summary.family == "Marsh-Whitley"
    assert record.carers == () and record.school is None and record.address == ()


def test_shielded_child_drops_data_a_faulty_server_sent() -> None:
    body = samples.everything("c-1")
    body["entry"][0]["resource"]["meta"]["security"] = [samples.RESTRICTED]
    record = fhir.parse_everything(body, "c-1")
    assert record.shielded
    assert record.carers == () and record.involvements == () and record.gp is None
    assert record.address == () and record.summary.postcode == ""
    summary = fhir.parse_searchset(samples.searchset(body["entry"][0]["resource"])).children[0]
    assert summary.shielded and summary.postcode == ""


def test_outcome_parses_codes_and_trims_diagnostics() -> None:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "information",
                "code": "multiple-matches",
                "details": {"coding": [{"code": "TOO_MANY_MATCHES"}]},
                "diagnostics": "Add a given name.\n" + "x" * 600,
            }
        ],
    }
    outcome = fhir.parse_outcome(body)
    assert outcome is not None
    assert (outcome.issue_code, outcome.pds_code, outcome.severity) == (
        "multiple-matches",
        "TOO_MANY_MATCHES",
        "information",
    )
    assert "\n" not in outcome.diagnostics and len(outcome.diagnostics) <= 300
    assert fhir.parse_outcome({"resourceType": "Bundle"}) is None
    assert fhir.parse_outcome({"resourceType": "OperationOutcome"}) == fhir.Outcome()


def test_search_params() -> None:
    query = SearchQuery(
        family=" Smithfield ",
        given=("Olivia", "", "Rose"),
        birthdate=dt.date(2011, 3, 14),
        gender="Female",
        postcode="LS6 2QB",
    )
    assert fhir.search_params(query) == [
        ("family", "Smithfield"),
        ("given", "Olivia"),
        ("given", "Rose"),
        ("birthdate", "eq2011-03-14"),
        ("gender", "female"),
        ("address-postalcode", "LS6 2QB"),
        ("_fuzzy-match", "true"),
        ("_max-results", "10"),
    ]
    ranged = SearchQuery(
        family="Smith",
        birthdate_from=dt.date(2010, 1, 1),
        birthdate_to=dt.date(2010, 12, 31),
        fuzzy=False,
        max_results=5,
    )
    assert fhir.search_params(ranged) == [
        ("family", "Smith"),
        ("birthdate", "ge2010-01-01"),
        ("birthdate", "le2010-12-31"),
        ("_max-results", "5"),
    ]


def test_parse_instant() -> None:
    assert fhir.parse_instant("2026-11-26T10:15:00Z") == dt.datetime(
        2026, 11, 26, 10, 15, tzinfo=dt.UTC
    )
    assert fhir.parse_instant("2026-11-26T11:15:00+01:00") == dt.datetime(
        2026, 11, 26, 10, 15, tzinfo=dt.UTC
    )
    assert fhir.parse_instant("2026-11-26T10:15:00") is not None
    assert fhir.parse_instant("soon") is None
    assert fhir.parse_instant(None) is None


def test_reason_text_is_percent_encoded_utf8() -> None:
    assert fhir.encode_reason_text("Café visit 50%") == "Caf%C3%A9%20visit%2050%25"


def test_bundle_bytes_from_the_cache_read_back_as_the_record() -> None:
    body = json.dumps(samples.everything("c-1")).encode()
    assert fhir.parse_bundle_bytes(body, "c-1") == fhir.parse_everything(
        samples.everything("c-1"), "c-1"
    )
    with pytest.raises(MalformedResponse):
        fhir.parse_bundle_bytes(b"{not json", "c-1")
