"""The inbox's decisions without Qt: a fake clock, a runner driven by hand, a fake index of
notices and a view that records what it is told."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

import pytest

from cpdesk.clock import FakeClock
from cpdesk.errors import Forbidden, RateLimited, RequestRejected, ServerUnreachable, SessionExpired
from cpdesk.inbox import POLL_SECONDS, InboxController, InboxView
from cpdesk.notices import MAX_NOTICE_TEXT, Category, check_notice_text, count_text
from cpdesk.records import AccessReason, UserInfo
from cpdesk.session import LockReason, Session, SessionState, SignOutReason
from tests.cpdesk.test_controller import ManualRunner
from tests.helpers.fake_api import JAYDEN_RECORD, OLIVIA_RECORD, USER
from tests.helpers.fake_notices import ATTENDANCE, CANARY_TEXT, QUEUED, FakeNoticeApi
from tests.helpers.recording_view import RecordingView

TEAM = UserInfo("team.test", "Alex Tester", "index-team", "National Index Team")


@dataclass
class Rig:
    inbox: InboxController
    session: Session
    api: FakeNoticeApi
    view: RecordingView
    runner: ManualRunner
    clock: FakeClock
    offline: list[bool]

    def count(self) -> int | None:
        shown = self.view.calls_of("show_notice_count")
        return shown[-1][1] if shown else None


def make_rig(user: UserInfo = USER, **api: Any) -> Rig:
    clock = FakeClock()
    session = Session(clock, idle_lock_seconds=120, lock_to_logout_seconds=900)
    fake, view, runner, offline = (
        FakeNoticeApi(**api),
        RecordingView(InboxView),
        ManualRunner(),
        [False],
    )
    inbox = InboxController(
        api=lambda: fake, session=session, clock=clock, runner=runner,
        is_offline=lambda: offline[0],
    )  # fmt: skip
    inbox.attach(view)
    session.sign_in(user)
    return Rig(inbox, session, fake, view, runner, clock, offline)


@pytest.fixture
def rig() -> Rig:
    return make_rig()


def test_sign_in_asks_for_the_count_at_once_and_the_view_shows_it(rig: Rig) -> None:
    assert rig.runner.channels == ["notice-count"]
    rig.runner.run()
    assert rig.count() == 1
    assert rig.view.calls_of("show_notice_count")[-1] == ("1 new notice", 1)
    assert rig.api.named("list") == []  # only a number: the list is fetched on demand


def test_polling_asks_for_a_number_every_minute_and_never_for_the_list(rig: Rig) -> None:
    rig.runner.run()
    rig.inbox.tick()
    assert rig.runner.channels == []  # not due yet
    rig.clock.advance(POLL_SECONDS)
    rig.inbox.tick()
    assert rig.runner.channels == ["notice-count"]
    rig.api.mine.append(dataclasses.replace(ATTENDANCE, id="102"))
    rig.runner.run()
    assert rig.count() == 2
    assert rig.api.named("list") == []


def test_the_team_counts_its_own_notices_and_the_queue() -> None:
    rig = make_rig(TEAM, queue=[QUEUED])
    rig.runner.run()
    assert rig.count() == 2
    assert rig.api.named("count") == [False, True]
    rig.inbox.open_inbox()
    rig.runner.run()
    [(notices, team)] = rig.view.calls_of("show_inbox")
    assert team and [n.id for n in notices] == [QUEUED.id, ATTENDANCE.id]  # the queue first


def test_open_a_notice_then_mark_it_done(rig: Rig) -> None:
    rig.runner.run()
    rig.inbox.open_inbox()
    rig.runner.run()
    assert rig.api.named("list") == [False]
    rig.inbox.open_notice(ATTENDANCE.id)
    rig.runner.run()
    [(opened, _team)] = rig.view.calls_of("show_open_notice")
    assert opened.read and opened.text == CANARY_TEXT
    rig.runner.run()  # the count that follows a read
    assert rig.count() == 0  # read: no longer new
    assert rig.inbox.reason_for(opened) is AccessReason.HEALTH_CARE
    rig.inbox.mark_done(ATTENDANCE.id)
    rig.runner.run()
    assert rig.view.calls_of("show_inbox")[-1][0] == ()
    assert rig.view.calls_of("show_inbox_message")[-1] == ("Marked as done.",)
    assert rig.inbox.notices == ()


@pytest.mark.parametrize(
    ("category", "reason"),
    [
        (Category.ATTENDANCE, AccessReason.HEALTH_CARE),
        (Category.SAFEGUARDING, AccessReason.SAFEGUARDING),
        (Category.REQUEST_CONTACT, AccessReason.SAFEGUARDING),
        (Category.OTHER, None),  # the last reason stays preselected
    ],
)
def test_each_category_suggests_its_reason(category: Category, reason: object) -> None:
    assert category.suggested_reason is reason


def test_a_lock_forgets_every_notice_and_empties_the_view_in_its_own_turn(rig: Rig) -> None:
    rig.runner.run()
    rig.inbox.open_inbox()
    rig.runner.run()
    rig.inbox.open_notice(ATTENDANCE.id)
    rig.inbox.mark_done(ATTENDANCE.id)  # in flight at the lock
    rig.view.calls.clear()
    rig.session.lock(LockReason.MANUAL)
    assert [n for n, _ in rig.view.calls] == ["clear_inbox", "show_notice_count"]
    assert rig.inbox.notices is None and rig.inbox.opened is None and not rig.inbox.showing
    rig.runner.run()  # the answers that come back draw nothing
    assert [n for n, _ in rig.view.calls] == ["clear_inbox", "show_notice_count"]
    assert CANARY_TEXT not in repr(rig.inbox.__dict__)


def test_unlock_asks_for_the_count_again_not_the_list(rig: Rig) -> None:
    rig.runner.run()
    rig.inbox.open_inbox()
    rig.runner.run()
    lists = len(rig.api.named("list"))
    rig.session.lock(LockReason.MANUAL)
    attempt = rig.session.begin_unlock()
    rig.session.unlock_succeeded(attempt)
    assert [j.channel for j in rig.runner.jobs if j.live] == ["notice-count"]
    rig.runner.run()
    assert len(rig.api.named("list")) == lists


def test_sign_out_hides_the_count(rig: Rig) -> None:
    rig.runner.run()
    rig.session.sign_out(SignOutReason.USER)
    assert rig.view.calls_of("show_notice_count")[-1] == ("", None)
    assert rig.inbox.unread is None


def test_no_polling_while_locked_signed_out_or_offline(rig: Rig) -> None:
    rig.runner.run()
    rig.session.lock(LockReason.MANUAL)
    rig.clock.advance(POLL_SECONDS * 2)
    rig.inbox.tick()
    rig.inbox.open_inbox()
    assert rig.runner.channels == []
    rig.session.sign_out(SignOutReason.USER)
    rig.inbox.tick()
    assert rig.runner.channels == []
    offline = make_rig()
    offline.runner.jobs.clear()
    offline.offline[0] = True
    offline.clock.advance(POLL_SECONDS)
    offline.inbox.tick()
    assert offline.runner.channels == []


def test_a_failed_poll_says_nothing_a_refused_token_ends_the_session(rig: Rig) -> None:
    rig.api.fail_next = ServerUnreachable()
    rig.runner.run()
    assert rig.view.calls_of("show_notice_count") == []
    rig.clock.advance(POLL_SECONDS)
    rig.inbox.tick()
    rig.api.fail_next = SessionExpired()
    rig.runner.run()
    assert rig.session.state is SessionState.SIGNED_OUT


def test_the_count_changing_while_the_list_is_open_refreshes_it(rig: Rig) -> None:
    rig.runner.run()
    rig.inbox.open_inbox()
    rig.runner.run()
    rig.runner.run()  # the count the list asks for: unchanged, no second list
    assert rig.api.named("list") == [False]
    rig.api.mine.append(dataclasses.replace(ATTENDANCE, id="103"))
    rig.clock.advance(POLL_SECONDS)
    rig.inbox.tick()
    rig.runner.run()
    rig.runner.run()
    assert rig.api.named("list") == [False, False]


def test_send_from_a_record_goes_to_the_chosen_people(rig: Rig) -> None:
    rig.runner.run()
    rig.inbox.send(
        OLIVIA_RECORD, Category.ATTENDANCE, "  Seen tonight.  ", ("PractitionerRole/x-1",)
    )
    rig.runner.run()
    assert rig.api.named("send") == [
        ("c-olivia", Category.ATTENDANCE, "Seen tonight.", ("PractitionerRole/x-1",))
    ]
    assert rig.view.calls_of("notice_sent") == [("Notice sent to 1 person.",)]


def test_a_shielded_childs_notice_names_nobody_and_goes_to_the_team(rig: Rig) -> None:
    rig.runner.run()
    rig.inbox.send(JAYDEN_RECORD, Category.REQUEST_CONTACT, "Put me in touch.", ("Practitioner/y",))
    rig.runner.run()
    [(_patient, _category, _text, recipients)] = rig.api.named("send")
    assert recipients == ()
    assert rig.view.calls_of("notice_sent") == [("Notice sent to the national index team.",)]


@pytest.mark.parametrize(
    ("text", "message"),
    [("   ", "empty"), ("x" * (MAX_NOTICE_TEXT + 1), "too long")],
)
def test_bad_text_is_refused_before_the_index_and_nothing_is_sent(
    rig: Rig, text: str, message: str
) -> None:
    rig.runner.run()
    rig.inbox.send(OLIVIA_RECORD, Category.OTHER, text)
    assert rig.runner.channels == []
    assert message in rig.view.calls_of("notice_send_failed")[-1][0]


@pytest.mark.parametrize(
    "error",
    [RequestRejected("That practitioner has no account on the index: phone them instead."),
     RateLimited(30.0), Forbidden("Open the child's record before sending a notice about it.")],
)  # fmt: skip
def test_the_index_refusing_a_notice_is_said_in_the_dialog(rig: Rig, error: Exception) -> None:
    rig.runner.run()
    rig.api.fail_next = error
    rig.inbox.send(OLIVIA_RECORD, Category.OTHER, "A notice.")
    rig.runner.run()
    assert rig.view.calls_of("notice_send_failed") == [(error.user_message,)]  # type: ignore[attr-defined]
    assert rig.view.calls_of("notice_sent") == []


def test_the_team_relays_and_answers_a_queued_notice() -> None:
    rig = make_rig(TEAM, mine=[], queue=[QUEUED, dataclasses.replace(QUEUED, id="203")])
    rig.runner.run()
    rig.inbox.open_inbox()
    rig.runner.run()
    rig.inbox.relay(QUEUED.id)
    rig.runner.run()
    assert rig.api.named("relay") == [(QUEUED.id, ())]  # the lead professional, by default
    assert [n.id for n in rig.inbox.notices or ()] == ["203"]
    rig.inbox.answer("203", "  Passed on; they will call you.  ")
    rig.runner.run()
    assert rig.api.named("answer") == [("203", "Passed on; they will call you.")]
    assert rig.inbox.notices == ()
    rig.inbox.answer("203", "")
    assert "empty" in rig.view.calls_of("notice_send_failed")[-1][0]


def test_notices_keep_their_text_out_of_repr_and_logs(rig: Rig, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    rig.runner.run()
    rig.inbox.open_inbox()
    rig.runner.run()
    rig.inbox.open_notice(ATTENDANCE.id)
    rig.runner.run()
    assert repr(ATTENDANCE) == "Notice(id='101')"
    assert "Xyloquent" not in caplog.text and "Quillbrook" not in caplog.text


def test_check_notice_text_and_count_text() -> None:
    assert check_notice_text("  a\nb ") == "a\nb"
    with pytest.raises(RequestRejected):
        check_notice_text("")
    assert count_text(None) == ""
    assert count_text(0) == "No new notices"
    assert count_text(1) == "1 new notice"
    assert count_text(3) == "3 new notices"
