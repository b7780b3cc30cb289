"""`/Task` answers to review dataclasses: strict where the screen needs it, no values in
errors (the real server's answers are read end to end in tests/e2e/test_review_e2e.py)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from cpdesk.errors import MalformedResponse
from cpdesk.net.review import ReviewClient, parse_case, parse_decided, parse_queue

TASK: dict[str, Any] = {
    "resourceType": "Task",
    "id": "7",
    "status": "requested",
    "description": "given name differs",
    "input": [
        {"type": {"text": "source"}, "valueString": "Test Council"},
        {"type": {"text": "row"}, "valueInteger": 4},
        {"type": {"text": "probability"}, "valueDecimal": 0.91},
    ],
    "contained": [
        {"resourceType": "Patient", "id": "feed-row",
         "name": [{"use": "official", "family": "Marsh-Whitley", "given": ["Jordan"]}],
         "birthDate": "2012-07-09"},
        {"resourceType": "PractitionerRole", "id": "feed-practitioner",
         "practitioner": {"display": "Tom Reeve"}, "code": [{"text": "Early help"}],
         "organization": {"display": "Council"}, "period": {"start": "2026-09-01"},
         "telecom": [{"system": "phone", "value": "0113 496 0701"}]},
    ],
}  # fmt: skip
PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "c-9",
    "meta": {"security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
                           "code": "R"}]},
    "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9990000034"}],
    "name": [{"use": "official", "family": "Marsh-Whitley", "given": ["Jayden"]},
             {"use": "old", "family": "Whitley", "given": ["Jayden"]}],
    "gender": "male",
    "birthDate": "2012-07-09",
    "address": [{"use": "home", "line": ["1 Test Row"], "city": "Bristol",
                 "postalCode": "BS5 9QX"}],
}  # fmt: skip


def bundle(*resources: dict[str, Any], kind: str = "collection") -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": [{"resource": r} for r in resources]}


def test_a_case_reads_both_sides() -> None:
    case = parse_case(bundle(TASK, PATIENT))
    assert case.item_id == "7" and case.row_number == 4 and case.probability == 0.91
    assert case.feed.given == ("Jordan",) and case.feed.postcode == ""
    assert case.practitioner.name == "Tom Reeve" and case.practitioner.phone == "0113 496 0701"
    child = case.candidate
    assert child.shielded and child.postcode == "BS5 9QX" and child.nhs_number == "9990000034"
    assert child.other_names == ((("Jayden",), "Whitley"),)
    assert child.address == "1 Test Row, Bristol"


@pytest.mark.parametrize(
    "broken",
    [
        lambda b: b.update(type="searchset"),
        lambda b: b["entry"].pop(),
        lambda b: b["entry"][0]["resource"].pop("contained"),
        lambda b: b["entry"][0]["resource"].update(id=""),
        lambda b: b["entry"][1]["resource"].pop("name"),
        lambda b: b["entry"][0]["resource"]["contained"][0].pop("name"),
        lambda b: b["entry"].__setitem__(0, {"resource": "Jordan Marsh-Whitley"}),
    ],
)
def test_a_malformed_case_is_refused_without_its_values(broken) -> None:
    body = copy.deepcopy(bundle(TASK, PATIENT))
    broken(body)
    with pytest.raises(MalformedResponse) as caught:
        parse_case(body)
    assert "Jordan" not in str(caught.value) and "Marsh" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_queue_and_decisions_are_task_ids() -> None:
    assert parse_queue({**bundle(TASK, kind="searchset"), "total": 250}) == (("7",), 250)
    assert parse_queue({"resourceType": "Bundle", "type": "searchset", "total": 0}) == ((), 0)
    with pytest.raises(MalformedResponse):  # fewer in all than listed
        parse_queue({**bundle(TASK, kind="searchset"), "total": 0})
    assert parse_decided(bundle(TASK, {**TASK, "id": "8"})) == ("7", "8")
    with pytest.raises(MalformedResponse):
        parse_queue({**bundle(PATIENT, kind="searchset"), "total": 1})


def test_ids_are_quoted_into_the_path() -> None:
    calls: list[tuple[str, str]] = []

    class Index:
        def fetch_json(self, method: str, path: str, operation: str) -> object:
            calls.append((method, path))
            return bundle(TASK, kind="collection")

    client = ReviewClient(Index())
    client.decide("7/../../Patient", True)
    client.decide("7", False)
    assert calls == [
        ("POST", "/Task/7%2F..%2F..%2FPatient/$link"),
        ("POST", "/Task/7/$not-this-child"),
    ]
