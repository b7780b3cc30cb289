"""The client's notice calls over a fake transport, parsed from what the index really sends
(cpindex.api.notices.communication), and the index team's view of a shielded record."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from cpdesk import errors
from cpdesk.net.client import NOTICE_GONE
from cpdesk.net.notices import parse_communication, parse_count
from cpdesk.notices import Category
from cpdesk.records import AccessReason
from cpindex.api.notices import communication as index_communication
from cpindex.notices.store import Notice as IndexNotice
from tests.helpers.fake_transport import fhir_json, outcome

from . import samples
from .conftest import Faked

SENT = dt.datetime(2026, 12, 1, 2, 20, tzinfo=dt.UTC)
TEXT = "Attended Northgate A&E 02:14, intoxicated, discharged to mother."


def served(notice_id: int = 7, **changes: Any) -> dict[str, Any]:
    """A Communication exactly as the index serves it."""
    values: dict[str, Any] = {
        "id": notice_id, "sender_id": 1, "sender": "Sam Okafor, Northgate General Hospital A&E",
        "recipient_user_id": 2, "recipient": "Hannah Lowe", "patient_id": "c-1",
        "shielded": False, "category": "attendance", "text": TEXT, "created_at": SENT,
        "read_at": None, "done_at": None, "relayed_from": None,
    }  # fmt: skip
    values.update(changes)
    return index_communication(IndexNotice(**values))


def bundle(*resources: dict[str, Any], kind: str = "searchset") -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": [{"resource": r} for r in resources]}


def test_the_count_asks_for_unread_notices_not_done_as_a_number(signed_in: Faked) -> None:
    signed_in.queue(fhir_json(200, {"resourceType": "Bundle", "type": "searchset", "total": 3}))
    assert signed_in.client.notice_count() == 3
    assert signed_in.client.notice_count(queue=True) == 3
    mine, queue = (urlsplit(s.request.url or "") for s in signed_in.transport.sent)
    assert mine.path == "/Communication"
    assert parse_qsl(mine.query) == [
        ("recipient", "me"), ("status", "in-progress"), ("received:missing", "true"),
        ("_summary", "count"),
    ]  # fmt: skip
    assert ("recipient", "index-team") in parse_qsl(queue.query)


def test_the_list_parses_what_the_index_serves(signed_in: Faked) -> None:
    queued = served(8, recipient_user_id=None, recipient=None, category="request-contact")
    relayed = served(9, relayed_from=8, read_at=SENT, asked_by="Sam Okafor, Northgate A&E")
    signed_in.queue(fhir_json(200, bundle(served(), queued, relayed)))
    first, second, third = signed_in.client.notices()
    assert (first.id, first.category, first.patient_id, first.text) == (
        "7", Category.ATTENDANCE, "c-1", TEXT,
    )  # fmt: skip
    assert first.sender.startswith("Sam Okafor") and first.sent == SENT
    assert not first.read and not first.done and not first.queued
    assert second.queued and second.category is Category.REQUEST_CONTACT
    assert third.relayed and third.read and third.asked_by == "Sam Okafor, Northgate A&E"
    sent = urlsplit(signed_in.transport.sent[0].request.url or "")
    assert parse_qsl(sent.query) == [("recipient", "me"), ("status", "in-progress")]


def test_read_done_send_relay_and_answer_send_what_the_index_takes(signed_in: Faked) -> None:
    signed_in.queue(fhir_json(200, served(read_at=SENT)))
    assert signed_in.client.read_notice("7").read
    signed_in.queue(fhir_json(200, served(read_at=SENT, done_at=SENT)))
    assert signed_in.client.notice_done("7").done
    signed_in.queue(fhir_json(201, bundle(served(), served(8), kind="collection")))
    refs = ("PractitionerRole/c-1-involvement-1", "PractitionerRole/c-1-involvement-2")
    assert signed_in.client.send_notice("c-1", Category.SAFEGUARDING, TEXT, refs) == 2
    signed_in.queue(fhir_json(201, bundle(served(), kind="collection")))
    assert signed_in.client.relay_notice("8") == 1
    assert signed_in.client.answer_notice("8", "Passed on.") == 1
    read, done, send, relay, answer = signed_in.transport.sent
    assert (read.request.method, urlsplit(read.request.url or "").path) == (
        "GET", "/Communication/7",
    )  # fmt: skip
    assert urlsplit(done.request.url or "").path == "/Communication/7/$done"
    assert send.json() == {
        "resourceType": "Communication",
        "status": "in-progress",
        "subject": {"reference": "Patient/c-1"},
        "category": [
            {"coding": [{"system": "https://cpindex.example/fhir/CodeSystem/notice-category",
                         "code": "safeguarding-concern"}]}
        ],
        "payload": [{"contentString": TEXT}],
        "recipient": [{"reference": r} for r in refs],
    }  # fmt: skip
    assert urlsplit(relay.request.url or "").path == "/Communication/8/$relay"
    assert relay.json() == {"recipient": []}  # the lead professional
    assert answer.json() == {"text": "Passed on."}


def test_an_id_is_quoted_into_the_path(signed_in: Faked) -> None:
    signed_in.queue(fhir_json(200, served()))
    signed_in.client.read_notice("../Patient/x")
    path = urlsplit(signed_in.transport.sent[0].request.url or "").path
    assert path == "/Communication/..%2FPatient%2Fx"


def test_a_notice_gone_says_so_and_a_refusal_carries_the_index_words(signed_in: Faked) -> None:
    signed_in.queue(fhir_json(404, outcome("not-found", "RESOURCE_NOT_FOUND", "No notice.")))
    with pytest.raises(errors.NotFound) as gone:
        signed_in.client.notice_done("7")
    assert gone.value.user_message == NOTICE_GONE
    words = "That practitioner has no account on the index: phone them instead."
    signed_in.queue(fhir_json(400, outcome("value", "INVALID_VALUE", words)))
    with pytest.raises(errors.RequestRejected) as refused:
        signed_in.client.send_notice("c-1", Category.OTHER, "x", ("PractitionerRole/zz",))
    assert refused.value.user_message == words
    assert TEXT not in str(refused.value)


@pytest.mark.parametrize(
    "body",
    [
        {"resourceType": "Patient"},
        {**served(), "category": [{"coding": [{"code": "gossip"}]}]},
        {**served(), "subject": {"reference": "Organization/x"}},
        {**served(), "id": ""},
    ],
)
def test_a_malformed_communication_is_refused_without_its_data(body: dict[str, Any]) -> None:
    with pytest.raises(errors.MalformedResponse) as caught:
        parse_communication(body)
    assert TEXT not in str(caught.value)


@pytest.mark.parametrize("total", [-1, True, "3", None])
def test_a_malformed_count_is_refused(total: object) -> None:
    with pytest.raises(errors.MalformedResponse):
        parse_count({"resourceType": "Bundle", "total": total})


def _shielded_full() -> dict[str, Any]:
    """A shielded child's record as the index serves it to its team: everything, restricted."""
    full = samples.everything("c-9")
    patient = samples.shielded_patient("c-9")
    del patient["extension"]
    patient["address"] = [{"line": ["3 Hidden Row"], "city": "Bristol", "postalCode": "BS5 9QX"}]
    full["entry"][0] = {"resource": patient}
    return full


def test_the_index_team_sees_a_shielded_record_a_practitioner_never(faked: Faked) -> None:
    body = samples.session_body()
    body["user"]["role"] = "index-team"
    faked.queue(fhir_json(201, body))
    faked.client.sign_in("indexteam.demo", "pw", "123456")
    faked.queue(fhir_json(200, _shielded_full()))
    record = faked.client.record("c-9", AccessReason.SAFEGUARDING)
    assert record.shielded and record.team_view
    assert record.address and record.involvements[0].role_id == ""  # samples carry no ids
    faked.queue(fhir_json(201, samples.session_body("tok-2")))  # a practitioner, same client
    faked.client.sign_in("nurse.demo", "pw", "123456")
    faked.queue(fhir_json(200, _shielded_full()))
    banner = faked.client.record("c-9", AccessReason.SAFEGUARDING)
    assert banner.shielded and not banner.team_view
    assert not banner.address and not banner.involvements and not banner.carers
    assert "Hidden Row" not in json.dumps(repr(banner))


def test_no_notice_text_reaches_a_log_line_or_an_error(signed_in: Faked, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    signed_in.queue(fhir_json(200, bundle(served())))
    notices = signed_in.client.notices()
    signed_in.queue(fhir_json(201, bundle(served(), kind="collection")))
    signed_in.client.send_notice("c-1", Category.ATTENDANCE, TEXT)
    signed_in.queue(fhir_json(200, {"resourceType": "Bundle", "entry": [{"resource": {}}]}))
    with pytest.raises(errors.MalformedResponse) as caught:
        signed_in.client.notices()
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    assert "Northgate" not in caplog.text and "intoxicated" not in caplog.text
    assert "intoxicated" not in repr(notices) and "Northgate" not in repr(notices)
