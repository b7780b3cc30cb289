"""'I am working with this child' without a display: the checks, the record changes and
the controller's jobs (off the GUI thread, redraw, refusals, offline, lock)."""

from __future__ import annotations

import datetime as dt

import pytest

from cpdesk.controller import OFFLINE_CHANGE, Opened
from cpdesk.errors import RequestRejected, SessionExpired
from cpdesk.involvements import (
    SelfDeclaration,
    check_declaration,
    with_involvement,
    without_involvement,
)
from cpdesk.net.fhir import declaration_body, involvement_source, parse_involvement
from cpdesk.records import Involvement
from cpdesk.session import LockReason, SessionState
from tests.cpdesk.test_controller import Rig, rig  # noqa: F401 (fixture)
from tests.helpers.fake_api import OLIVIA_RECORD

TODAY = dt.date(2026, 11, 26)
DECLARED = SelfDeclaration("Youth worker", dt.date(2026, 10, 1), False, "0113 496 0777")
EXT = "https://cpindex.example/fhir/StructureDefinition/"


@pytest.mark.parametrize(
    ("role", "since", "phone", "email", "field"),
    [
        ("Youth worker", TODAY, "0113 496 0777", "", ""),
        ("Youth worker", TODAY, "+44 113 496 0777", "a.b@example.org", ""),
        ("", TODAY, "0113 496 0777", "", "role"),
        ("1234", TODAY, "0113 496 0777", "", "role"),
        ("=SUM(A1)", TODAY, "0113 496 0777", "", "role"),
        ("Youth\u202eworker", TODAY, "0113 496 0777", "", "role"),
        ("x" * 81, TODAY, "0113 496 0777", "", "role"),
        ("Youth worker", None, "0113 496 0777", "", "since"),
        ("Youth worker", TODAY + dt.timedelta(days=1), "0113 496 0777", "", "since"),
        ("Youth worker", TODAY, "", "", "phone"),
        ("Youth worker", TODAY, "ring me", "", "phone"),
        ("Youth worker", TODAY, "0113 496 0777", "nobody", "email"),
    ],
)
def test_checks_name_the_field_at_fault(role, since, phone, email, field) -> None:
    found, message = check_declaration(role, since, phone, email, TODAY)
    assert found == field
    assert bool(message) == bool(field)


def test_the_body_and_the_answer_round_trip() -> None:
    body = declaration_body("c-olivia", DECLARED)
    assert body["code"] == [{"text": "Youth worker"}]
    assert body["extension"][0]["valueReference"] == {"reference": "Patient/c-olivia"}
    assert body["telecom"] == [{"system": "phone", "value": "0113 496 0777"}]
    served = {
        "resourceType": "PractitionerRole",
        "id": "c-olivia-involvement-4",
        "extension": [
            {"url": EXT + "lead-professional", "valueBoolean": False},
            {"url": EXT + "involvement-source",
             "valueCoding": {"code": "self-declared", "display": "Self-declared"},
             "extension": [{"url": EXT + "declared-by-viewer", "valueBoolean": True}]},
        ],
        "period": {"start": "2026-10-01"},
        "practitioner": {"display": "Sam Tester"},
        "code": [{"text": "Youth worker"}],
        "telecom": [{"system": "phone", "value": "0113 496 0777"}],
    }  # fmt: skip
    got = parse_involvement(served)
    assert (got.role_id, got.source, got.mine, got.since) == (
        "c-olivia-involvement-4", "Self-declared", True, dt.date(2026, 10, 1)
    )  # fmt: skip
    served["extension"][1]["extension"][0]["valueBoolean"] = False  # type: ignore[index]
    assert involvement_source(served) == {"source": "Self-declared", "mine": False}
    coding = {"code": "feed", "display": "Leeds Council"}
    feed = {"extension": [{"url": EXT + "involvement-source", "valueCoding": coding}]}
    assert involvement_source(feed) == {"source": "Leeds Council", "mine": False}


def test_records_gain_and_lose_an_involvement() -> None:
    mine = Involvement("Sam Tester", role_id="c-olivia-involvement-9", mine=True)
    added = with_involvement(OLIVIA_RECORD, mine)
    assert added.involvements[-1] == mine
    assert with_involvement(added, mine).involvements.count(mine) == 1
    assert without_involvement(added, mine.role_id) == OLIVIA_RECORD


def test_declaring_runs_off_the_gui_thread_and_redraws(rig: Rig) -> None:  # noqa: F811
    rig.sign_in()
    rig.open()
    rig.view.clear()
    rig.controller.declare_involvement(DECLARED)
    assert rig.api.calls[-1][0] == "record"  # not yet: a job
    assert rig.runner.channels == ["involvement"]
    rig.runner.run()
    assert rig.api.calls[-1] == ("declare", ("c-olivia", DECLARED))
    assert rig.view.names() == ["show_record", "show_involvement_result"]
    record = rig.view.last("show_record")[0]
    assert record.involvements[-1].mine and record.involvements[-1].role == "Youth worker"
    assert rig.view.last("show_involvement_result")[0] is True
    assert rig.controller.state.opened is not None
    assert rig.controller.state.opened.record == record  # an unlock redraws it
    role_id = record.involvements[-1].role_id
    rig.view.clear()
    rig.controller.end_involvement(role_id)
    rig.runner.run()
    assert rig.api.calls[-1] == ("end", role_id)
    assert rig.view.last("show_record")[0] == OLIVIA_RECORD
    assert rig.view.last("show_involvement_result") == (
        True, "Your involvement with this child has ended."
    )  # fmt: skip


def test_a_refusal_is_said_and_changes_nothing(rig: Rig) -> None:  # noqa: F811
    rig.sign_in()
    rig.open()
    rig.view.clear()
    rig.api.fail_next = RequestRejected("The start date is in the future.")
    rig.controller.declare_involvement(DECLARED)
    rig.runner.run()
    assert rig.view.calls == [
        ("show_involvement_result", (False, "The start date is in the future."))
    ]
    assert rig.controller.state.opened == Opened(OLIVIA_RECORD)


def test_an_expired_session_signs_out(rig: Rig) -> None:  # noqa: F811
    rig.sign_in()
    rig.open()
    rig.api.fail_next = SessionExpired()
    rig.controller.declare_involvement(DECLARED)
    rig.runner.run()
    assert rig.session.state is SessionState.SIGNED_OUT


def test_an_offline_copy_cannot_be_changed(rig: Rig) -> None:  # noqa: F811
    rig.sign_in()
    rig.open()
    assert rig.controller.state.opened is not None
    offline = rig.controller.state.opened._replace(offline_since=rig.clock.wall())
    rig.controller.state.opened = offline
    rig.view.clear()
    rig.controller.declare_involvement(DECLARED)
    assert rig.runner.channels == []
    assert rig.view.calls == [("show_involvement_result", (False, OFFLINE_CHANGE))]


def test_an_answer_after_a_lock_or_another_record_draws_nothing(rig: Rig) -> None:  # noqa: F811
    rig.sign_in()
    rig.open()
    rig.controller.declare_involvement(DECLARED)
    rig.session.lock(LockReason.MANUAL)
    rig.view.clear()
    rig.runner.run()
    assert "show_record" not in rig.view.names()
    rig.controller.back_to_results()
    rig.controller.declare_involvement(DECLARED)
    assert rig.runner.channels == []  # no record open: nothing to declare on


def test_an_answer_for_a_closed_record_draws_nothing(rig: Rig) -> None:  # noqa: F811
    rig.sign_in()
    rig.open()
    rig.controller.declare_involvement(DECLARED)
    rig.controller.back_to_results()  # before the answer: the record is closed
    rig.view.clear()
    rig.runner.run()
    assert rig.view.calls == []
