"""The review screen's decisions without a display: comparing fields, the queue, errors."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from cpdesk.clock import FakeClock
from cpdesk.errors import RequestRejected, ServerUnreachable, SessionExpired
from cpdesk.records import UserInfo
from cpdesk.review import (
    Agreement,
    CandidateChild,
    FeedChild,
    FeedPractitioner,
    ReviewCase,
    ReviewController,
    compare,
)
from cpdesk.session import Session, SessionState
from tests.cpdesk.test_controller import ManualRunner

TEAM = UserInfo("team.test", "Alex Tester", "index-team", "National Index Team")
NURSE = UserInfo("nurse.test", "Sam Tester", "practitioner", "Testshire General A&E")
BORN = dt.date(2011, 3, 14)

CHILD = CandidateChild(
    index_id="c-1",
    given=("Olivia", "Rose"),
    family="Smithfield",
    other_names=((("Liv",), "Smithfield"), (("Olivia",), "Jones")),
    birth_date=BORN,
    gender="female",
    postcode="LS6 2QB",
    address="14 Test Street, Leeds",
    nhs_number="9990000018",
    shielded=False,
)
FEED = FeedChild(("Olivia",), "Smithfield", BORN, "LS6 2QB", "999 000 0018")
WORKER = FeedPractitioner("Grace Oduya", "Support worker", "Council", "0113", "", None, False)


def case(item: str = "1", **feed: Any) -> ReviewCase:
    return ReviewCase(
        item, "Test Council", 2, 0.9, "given name differs",
        dataclasses.replace(FEED, **feed), WORKER, CHILD,
    )  # fmt: skip


def marks(**feed: Any) -> dict[str, Agreement]:
    return {f.label: f.agreement for f in compare(case(**feed))}


def test_everything_agreeing_is_same() -> None:
    assert set(marks().values()) == {Agreement.SAME}


@pytest.mark.parametrize(
    ("feed", "label", "expected"),
    [
        ({"given": ("Rose",)}, "Given names", Agreement.CLOSE),  # a middle name
        ({"given": ("Liv",)}, "Given names", Agreement.CLOSE),  # a name the index knows
        ({"given": ("Jordan",)}, "Given names", Agreement.DIFFERENT),
        ({"given": ()}, "Given names", Agreement.MISSING),
        ({"family": "smith-field"}, "Family name", Agreement.SAME),  # hyphens, case folded
        ({"family": "Jones"}, "Family name", Agreement.CLOSE),  # a former name
        ({"family": "Smithfield-Grey"}, "Family name", Agreement.CLOSE),  # a shared part
        ({"family": "Grey"}, "Family name", Agreement.DIFFERENT),
        ({"birth_date": dt.date(2011, 14 - 11, 14)}, "Date of birth", Agreement.SAME),
        ({"birth_date": dt.date(2011, 3, 15)}, "Date of birth", Agreement.CLOSE),
        ({"birth_date": dt.date(2012, 3, 14)}, "Date of birth", Agreement.CLOSE),
        ({"birth_date": dt.date(2012, 4, 14)}, "Date of birth", Agreement.DIFFERENT),
        ({"birth_date": None}, "Date of birth", Agreement.MISSING),
        ({"postcode": "ls62qb"}, "Postcode", Agreement.SAME),
        ({"postcode": "LS6 9ZZ"}, "Postcode", Agreement.CLOSE),  # the same outward code
        ({"postcode": "BS5 9QX"}, "Postcode", Agreement.DIFFERENT),
        ({"postcode": ""}, "Postcode", Agreement.MISSING),
        ({"nhs_number": "9990000026"}, "NHS number", Agreement.DIFFERENT),
        ({"nhs_number": ""}, "NHS number", Agreement.MISSING),
    ],
)
def test_each_field_says_how_far_it_agrees(feed: dict[str, Any], label: str, expected) -> None:
    assert marks(**feed)[label] is expected


def test_a_day_and_month_swap_is_close() -> None:
    swapped = dt.date(2011, 5, 3)
    child = dataclasses.replace(CHILD, birth_date=dt.date(2011, 3, 5))
    fields = compare(dataclasses.replace(case(birth_date=swapped), candidate=child))
    assert {f.label: f.agreement for f in fields}["Date of birth"] is Agreement.CLOSE


def test_each_mark_has_a_sign_and_a_word_not_only_a_colour() -> None:
    assert {(a.mark, a.word) for a in Agreement} == {
        ("✓", "Same"), ("≈", "Close"), ("✗", "Different"), ("–", "Not given"),
    }  # fmt: skip


def test_values_are_shown_as_the_record_shows_them() -> None:
    shown = {f.label: (f.feed, f.index) for f in compare(case())}
    assert shown["Date of birth"] == ("14 March 2011", "14 March 2011")
    assert shown["NHS number"] == ("999 000 0018", "999 000 0018")
    assert shown["Given names"] == ("Olivia", "Olivia Rose (also known as Liv)")
    assert shown["Family name"] == ("Smithfield", "Smithfield (formerly Jones)")


def test_repr_never_holds_the_child() -> None:
    text = repr(case()) + repr(compare(case())) + repr(CHILD) + repr(FEED)
    for secret in ("Olivia", "Smithfield", "LS6", "9990000018", "2011"):
        assert secret not in text


# -- the controller ---------------------------------------------------------------------


class FakeReviewApi:
    def __init__(self, ids: tuple[str, ...] = ("1", "2", "3")) -> None:
        self.ids = list(ids)
        self.decided: list[tuple[str, bool]] = []
        self.fail: BaseException | None = None
        self.also: dict[str, tuple[str, ...]] = {}
        self.listed = 200  # the index lists the oldest few hundred

    def queue(self) -> tuple[tuple[str, ...], int]:
        if self.fail:
            raise self.fail
        return tuple(self.ids[: self.listed]), len(self.ids)

    def case(self, item_id: str) -> ReviewCase:
        if self.fail:
            raise self.fail
        return case(item_id)

    def decide(self, item_id: str, link: bool) -> tuple[str, ...]:
        if self.fail:
            raise self.fail
        self.decided.append((item_id, link))
        return (item_id, *self.also.get(item_id, ()))


class View:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str):
        return lambda *args: self.calls.append((name, args))

    def last(self, name: str) -> tuple[Any, ...]:
        return [a for n, a in self.calls if n == name][-1]

    def said(self, name: str) -> list[Any]:
        return [a[0] for n, a in self.calls if n == name]


def _setup(user: UserInfo = TEAM, api: FakeReviewApi | None = None):
    clock = FakeClock()
    session = Session(clock, idle_lock_seconds=60, lock_to_logout_seconds=60)
    session.sign_in(user)
    runner, view = ManualRunner(), View()
    review = ReviewController(api or FakeReviewApi(), runner, session, view)  # type: ignore[arg-type]
    return review, runner, view, session


def shown_item(view: View) -> str:
    return view.last("show_case")[0].item_id


def test_the_queue_goes_item_by_item_and_counts_what_was_done() -> None:
    api = FakeReviewApi()
    review, runner, view, _session = _setup(api=api)
    review.open()
    runner.run()  # the queue
    runner.run()  # the first item
    assert shown_item(view) == "1" and view.last("show_case")[2:] == (1, 3)
    review.link()
    runner.run()
    runner.run()
    assert api.decided == [("1", True)]
    assert view.said("show_message")[-1] == "Linked."
    assert shown_item(view) == "2" and view.last("show_case")[2:] == (2, 3)
    review.skip()
    runner.run()
    assert shown_item(view) == "3"
    review.not_this_child()
    runner.run()
    assert api.decided[-1] == ("3", False)
    assert view.said("show_finished")[-1] == (
        "No links are waiting for review. This session: 1 linked, 1 marked not this child, "
        "1 skipped (still waiting)."
    )
    assert review.current is None


def test_rows_decided_together_leave_the_queue() -> None:
    api = FakeReviewApi(("1", "2", "3"))
    api.also["1"] = ("3",)
    review, runner, view, _session = _setup(api=api)
    review.open()
    runner.run()
    runner.run()
    review.not_this_child()
    runner.run()
    runner.run()
    assert "1 more row about the same child too" in view.said("show_message")[-1]
    assert shown_item(view) == "2"
    review.link()
    runner.run()
    assert view.said("show_finished")


def test_a_decision_while_one_is_pending_is_ignored() -> None:
    api = FakeReviewApi()
    review, runner, _view, _session = _setup(api=api)
    review.open()
    runner.run()
    runner.run()
    review.link()
    review.link()  # a double press
    review.not_this_child()
    review.skip()
    runner.run()
    assert api.decided == [("1", True)]


def test_someone_else_deciding_first_moves_on() -> None:
    api = FakeReviewApi()
    review, runner, view, _session = _setup(api=api)
    review.open()
    runner.run()
    runner.run()
    api.fail = RequestRejected("not waiting", code="CONFLICT")
    review.link()
    runner.run()
    api.fail = None
    assert "Someone else decided" in view.said("show_message")[-1]
    runner.run()
    assert shown_item(view) == "2"


def test_an_unreachable_index_says_so_and_keeps_the_item() -> None:
    api = FakeReviewApi()
    review, runner, view, _session = _setup(api=api)
    review.open()
    runner.run()
    runner.run()
    api.fail = ServerUnreachable()
    review.link()
    runner.run()
    assert view.said("show_message")[-1] == ServerUnreachable().user_message
    assert review.current is not None and review.current.item_id == "1"
    assert view.last("set_busy") == (False,)


def test_an_expired_session_signs_out() -> None:
    api = FakeReviewApi()
    api.fail = SessionExpired()
    review, runner, _view, session = _setup(api=api)
    review.open()
    runner.run()
    assert session.state is SessionState.SIGNED_OUT


def test_only_the_index_team_may_open_it() -> None:
    review, runner, view, _session = _setup(NURSE)
    assert not review.allowed
    review.open()
    assert runner.jobs == [] and view.calls == []


def test_after_close_no_answer_is_drawn() -> None:
    review, runner, view, _session = _setup()
    review.open()
    review.close()
    runner.run()
    assert [n for n, _a in view.calls if n == "show_case"] == []
    assert review.current is None


def test_when_the_index_listed_only_the_oldest_the_end_says_more_wait() -> None:
    api = FakeReviewApi(("1", "2", "3"))
    api.listed = 1
    review, runner, view, _session = _setup(api=api)
    review.open()
    runner.run()
    runner.run()
    assert view.last("show_case")[2:] == (1, 1)
    review.skip()
    assert view.said("show_finished")[-1].startswith("More links are waiting")
    review.reload()
    runner.run()
    runner.run()
    assert shown_item(view) == "1"
