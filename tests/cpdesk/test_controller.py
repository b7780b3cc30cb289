"""The work page's decisions, without Qt: a fake clock, a runner the test drives by hand,
a fake index and a view that records what it is told to draw."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from cpdesk.cache import NullCache
from cpdesk.clock import FakeClock
from cpdesk.controller import (
    CANCELLED_SEARCH,
    CANCELLED_SIGN_IN,
    GENERIC_ERROR,
    LOCKOUT_HINT,
    OFFLINE_SIGNED_IN,
    RELOCKED_MESSAGE,
    SIGN_OUT_MESSAGES,
    SWEEP_SECONDS,
    LockedPanel,
    Meaning,
    NotCachedOffline,
    Opened,
    WorkController,
    WorkView,
    busy_text,
    explain,
    format_time_left,
    offline_banner,
    opened_today,
    read_bundle,
    send_offline_views,
    shows_offline_copy,
)
from cpdesk.errors import (
    Cancelled,
    CertificateError,
    Forbidden,
    ServerError,
    ServerTimeout,
    ServerUnreachable,
    SessionExpired,
    SignInFailed,
    TooManyMatches,
)
from cpdesk.records import AccessReason, SearchQuery
from cpdesk.session import LocalPin, LockReason, Session, SessionState, SignOutReason
from tests.helpers.fake_api import JAYDEN_RECORD, OLIVIA_RECORD, USER, FakeApi, MemoryCache
from tests.helpers.recording_view import RecordingView

QUERY = SearchQuery(family="Zebedeeson", given=("Olivia",), birthdate=dt.date(2011, 3, 14))
ER = AccessReason.EMERGENCY_CARE


# -- fakes ----------------------------------------------------------------------------------


@dataclass
class _Job:
    channel: str
    fn: Callable[[], Any]
    on_done: Callable[[Any], None]
    on_error: Callable[[BaseException], None]
    live: bool = True


class ManualRunner:
    """A `Runner` whose jobs run when the test says (`run()`), as TaskRunner would: a newer
    job on a channel supersedes the older one's answer; `drop` and `cancel` void them all."""

    def __init__(self) -> None:
        self.jobs: list[_Job] = []
        self.cancelled = 0

    def submit(self, channel, fn, on_done, on_error) -> int:
        for job in self.jobs:
            if job.channel == channel:
                job.live = False
        self.jobs.append(_Job(channel, fn, on_done, on_error))
        return len(self.jobs)

    def drop(self) -> None:
        for job in self.jobs:
            job.live = False

    def cancel(self) -> None:
        self.drop()
        self.cancelled += 1

    @property
    def channels(self) -> list[str]:
        """Channels of the jobs not yet run."""
        return [job.channel for job in self.jobs]

    def run(self) -> None:
        """Run every job (each one's work happens even when its answer is void)."""
        jobs, self.jobs = self.jobs, []
        for job in jobs:
            try:
                result = job.fn()
            except BaseException as exc:
                if job.live:
                    job.on_error(exc)
            else:
                if job.live:
                    job.on_done(result)


@dataclass
class Rig:
    controller: WorkController
    session: Session
    view: RecordingView
    api: FakeApi
    clock: FakeClock
    runner: ManualRunner
    auth: ManualRunner
    cache: MemoryCache
    clipboard_clears: list[int]
    started: list[int]

    def sign_in(self) -> None:
        self.controller.sign_in("nurse.test", "right", "123456")
        self.auth.run()
        assert self.session.state is SessionState.ACTIVE

    def search(self, query: SearchQuery = QUERY) -> None:
        self.controller.search(query)
        self.runner.run()

    def open(self, index_id: str = "c-olivia") -> None:
        self.controller.open_record(index_id, ER, "")
        self.runner.run()


def make_rig(**options: Any) -> Rig:
    clock = FakeClock()
    session = Session(clock, idle_lock_seconds=120, lock_to_logout_seconds=900)
    api, view, runner, auth, cache = (
        FakeApi(),
        RecordingView(WorkView),
        ManualRunner(),
        ManualRunner(),
        MemoryCache(),
    )
    clears: list[int] = []
    started: list[int] = []
    controller = WorkController(
        api=api,
        session=session,
        clock=clock,
        runner=runner,
        auth_runner=auth,
        cache=cache,
        clear_clipboard=lambda: clears.append(1),
        before_sign_in=lambda: started.append(1),
        reader=api.read_bundle,
        **options,
    )
    controller.attach(view)
    return Rig(controller, session, view, api, clock, runner, auth, cache, clears, started)


@pytest.fixture
def rig() -> Rig:
    return make_rig()


@pytest.fixture
def time_zone(monkeypatch) -> Iterator[Callable[[str], None]]:
    """Set the process's local time zone for one test."""
    import time

    def use(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield use
    monkeypatch.undo()
    time.tzset()


# -- sign-in --------------------------------------------------------------------------------


def test_sign_in_finishes_start_up_first_then_signs_in_off_thread(rig: Rig) -> None:
    rig.api.expires = rig.clock.wall() + dt.timedelta(hours=10)
    rig.controller.sign_in("nurse.test", "right", "123456")
    assert rig.started == [1]
    assert rig.api.calls == []  # not on this thread: a job
    assert rig.auth.channels == ["sign-in"]
    assert rig.view.calls == [("set_sign_in_busy", (True,))]
    rig.auth.run()
    assert rig.session.state is SessionState.ACTIVE
    assert rig.session.user == USER
    assert rig.view.names() == ["set_sign_in_busy", "set_sign_in_busy", "show_workspace"]
    assert rig.view.last("show_workspace") == (USER,)
    assert rig.session.absolute_seconds_left() == 10 * 3600


def test_start_up_that_fails_lets_no_sign_in_out() -> None:
    def broken() -> None:
        raise RuntimeError("no lock listener")

    rig = make_rig()
    rig.controller._before_sign_in = broken
    with pytest.raises(RuntimeError):
        rig.controller.sign_in("nurse.test", "right", "123456")
    assert rig.auth.jobs == [] and rig.view.calls == []


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (SignInFailed(), SignInFailed.default_message + " " + LOCKOUT_HINT),
        (ServerUnreachable(), ServerUnreachable.default_message),
        (CertificateError(), CertificateError.default_message),
        (ServerError(), ServerError.default_message),
        (KeyError("Olivia"), GENERIC_ERROR),
    ],
)
def test_each_sign_in_failure_says_its_own_message(rig: Rig, error, shown) -> None:
    rig.api.fail_next = error
    rig.controller.sign_in("nurse.test", "right", "123456")
    rig.auth.run()
    assert rig.view.said("show_sign_in_error") == [shown]
    assert rig.view.said("set_sign_in_busy") == [True, False]
    assert rig.session.state is SessionState.SIGNED_OUT


def test_the_lock_out_hint_names_no_length_the_server_decides_it() -> None:
    assert not any(ch.isdigit() for ch in LOCKOUT_HINT)
    assert "minute" not in LOCKOUT_HINT


@pytest.mark.parametrize("error", [Cancelled(), SessionExpired()])
def test_a_cancelled_or_expired_sign_in_says_nothing(rig: Rig, error) -> None:
    rig.api.fail_next = error
    rig.controller.sign_in("nurse.test", "right", "123456")
    rig.auth.run()
    assert "show_sign_in_error" not in rig.view.names()
    assert rig.view.said("set_sign_in_busy") == [True, False]


def test_a_bug_is_logged_by_class_only(rig: Rig, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    rig.api.fail_next = KeyError("Olivia Zebedeeson")
    rig.controller.sign_in("nurse.test", "right", "123456")
    rig.auth.run()
    assert [r.getMessage() for r in caplog.records] == ["unexpected KeyError during sign-in"]


def test_a_sign_in_answer_after_a_session_began_changes_nothing(rig: Rig) -> None:
    rig.controller.sign_in("nurse.test", "right", "123456")
    rig.session.sign_in(USER)  # e.g. another path got there first
    rig.view.clear()
    rig.auth.run()
    assert rig.view.names() == ["set_sign_in_busy"]


def test_cancel_sign_in(rig: Rig) -> None:
    rig.controller.sign_in("nurse.test", "right", "123456")
    rig.controller.cancel_sign_in()
    assert rig.auth.cancelled == 1
    rig.auth.run()
    assert rig.session.state is SessionState.SIGNED_OUT
    assert rig.view.said("set_sign_in_busy") == [True, False]
    assert rig.view.said("show_sign_in_error") == [CANCELLED_SIGN_IN]


# -- search and record ------------------------------------------------------------------


def test_search_shows_waiting_then_results_and_remembers_them(rig: Rig) -> None:
    rig.sign_in()
    rig.api.expires = rig.clock.wall() + dt.timedelta(minutes=30)
    rig.view.clear()
    rig.controller.search(QUERY)
    assert rig.view.calls == [("show_notice", ("",)), ("show_waiting", ("Searching…",))]
    assert rig.runner.channels == ["search"]
    rig.runner.run()
    assert rig.view.last("show_results") == (QUERY, rig.api.results)
    assert rig.controller.state.results == rig.api.results
    assert rig.session.absolute_seconds_left() == 1800  # every answer refreshes the expiry


def test_nothing_is_fetched_unless_active(rig: Rig) -> None:
    rig.controller.search(QUERY)
    rig.controller.open_record("c-olivia", ER)
    assert rig.runner.jobs == [] and rig.view.calls == []


def test_too_many_matches_says_what_to_add(rig: Rig) -> None:
    rig.sign_in()
    rig.search()
    rig.api.fail_next = TooManyMatches()
    rig.search()
    assert rig.view.last("show_too_many") == (QUERY,)
    assert rig.controller.state.too_many and rig.controller.state.results is None


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (ServerTimeout(), [ServerTimeout.default_message]),
        (Cancelled(), []),
        (OSError(), [GENERIC_ERROR]),
    ],
)
def test_a_failed_search_says_why(rig: Rig, error, shown) -> None:
    rig.sign_in()
    rig.api.fail_next = error
    rig.search()
    assert rig.view.said("show_search_error") == shown
    assert rig.session.state is SessionState.ACTIVE


def test_an_expired_token_ends_the_session_and_drops_every_child_datum(rig: Rig) -> None:
    rig.sign_in()
    rig.search()
    rig.open()
    rig.api.fail_next = SessionExpired()
    rig.search()
    assert rig.session.state is SessionState.SIGNED_OUT
    assert rig.view.said("show_sign_in") == [SIGN_OUT_MESSAGES[SignOutReason.SERVER_EXPIRED]]
    assert rig.controller.state.results is None and rig.controller.state.opened is None
    assert "show_search_error" not in rig.view.names()


def test_a_newer_search_supersedes_an_older_one(rig: Rig) -> None:
    rig.sign_in()
    rig.controller.search(QUERY)
    newer = SearchQuery(family="Zebedeeson", birthdate=QUERY.birthdate)
    rig.controller.search(newer)
    rig.runner.run()
    assert [args[0] for n, args in rig.view.calls if n == "show_results"] == [newer]


def test_open_record_with_a_reason_stores_it_and_shows_it(rig: Rig) -> None:
    rig.sign_in()
    rig.search()
    rig.controller.open_record("c-olivia", AccessReason.SAFEGUARDING, "called by the ward")
    assert rig.api.calls[-1][0] == "search"  # the record is fetched by a job, not here
    rig.runner.run()
    assert rig.api.calls[-1] == (
        "record",
        ("c-olivia", AccessReason.SAFEGUARDING, "called by the ward"),
    )
    assert rig.view.last("show_record") == (OLIVIA_RECORD, "")
    assert rig.controller.state.opened == Opened(OLIVIA_RECORD)
    assert rig.controller.state.last_reason is AccessReason.SAFEGUARDING
    assert "c-olivia" in rig.cache.records
    rig.controller.back_to_results()
    assert rig.view.names()[-1] == "close_record"
    assert rig.controller.state.opened is None and not rig.controller.state.showing_record


def test_offline_a_record_opened_earlier_shows_from_the_cache_marked(rig: Rig, time_zone) -> None:
    time_zone("Europe/London")
    rig.sign_in()
    rig.search()
    rig.open()
    rig.api.fail_next = ServerUnreachable()
    rig.open()
    banner = "Offline copy from 14:02 — may be out of date"
    assert rig.view.last("show_record") == (OLIVIA_RECORD, banner)
    assert rig.controller.state.opened == Opened(OLIVIA_RECORD, MemoryCache.STORED)


def test_offline_a_record_never_opened_says_so_plainly_and_lists_today(rig: Rig) -> None:
    rig.sign_in()
    rig.open("c-jayden")
    rig.api.fail_next = ServerUnreachable()
    rig.open()
    assert rig.view.said("show_notice")[-1] == NotCachedOffline.default_message
    assert "not available offline" in NotCachedOffline.default_message
    assert rig.runner.channels == ["opened-today"]
    rig.runner.run()
    assert rig.view.last("show_opened_today") == ((JAYDEN_RECORD.summary,),)
    assert len([n for n in rig.view.names() if n == "show_record"]) == 1


def test_a_refusal_is_never_answered_from_the_cache(rig: Rig) -> None:
    rig.sign_in()
    rig.open()
    rig.api.fail_next = Forbidden()
    rig.open()
    assert rig.view.said("show_notice")[-1] == Forbidden.default_message
    assert len([n for n in rig.view.names() if n == "show_record"]) == 1


def test_cancel_drops_the_answers_and_says_so(rig: Rig) -> None:
    rig.sign_in()
    rig.controller.search(QUERY)
    rig.controller.cancel()
    rig.runner.run()
    assert rig.runner.cancelled == 1
    assert rig.view.said("show_waiting")[-1] == CANCELLED_SEARCH
    assert "show_results" not in rig.view.names()


# -- lock and unlock --------------------------------------------------------------------


def test_a_lock_drops_answers_in_flight_clears_the_clipboard_and_shows_the_panel(rig: Rig) -> None:
    rig.sign_in()
    rig.controller.search(QUERY)
    rig.view.clear()
    rig.controller.lock()
    assert rig.session.lock_reason is LockReason.MANUAL
    assert rig.clipboard_clears == [1]
    panel = LockedPanel(USER, rig.clock.wall(), rig.session.signs_out_at, allow_pin=False)
    assert rig.view.calls == [("show_locked", (panel,))]
    rig.runner.run()  # the search's answer arrives after the lock
    assert rig.view.names() == ["show_locked"]
    assert rig.controller.state.results is None


def test_unlock_redraws_from_memory_without_fetching(rig: Rig) -> None:
    rig.sign_in()
    rig.search()
    rig.open()
    rig.controller.lock()
    calls = len(rig.api.calls)
    rig.view.clear()
    rig.controller.unlock("right")
    assert rig.view.calls == [("set_unlock_checking", (True,))]
    rig.auth.run()
    assert rig.session.state is SessionState.ACTIVE
    assert rig.view.calls[1:] == [
        ("show_workspace", (USER,)),
        ("fill_search_form", (QUERY,)),
        ("show_results", (QUERY, rig.api.results)),
        ("show_record", (OLIVIA_RECORD, "")),
    ]
    assert [c[0] for c in rig.api.calls[calls:]] == ["unlock"]


@pytest.mark.parametrize("screen", ["nothing", "results", "too many"])
def test_unlock_redraws_what_was_on_screen(rig: Rig, screen: str) -> None:
    rig.sign_in()
    if screen == "too many":
        rig.api.fail_next = TooManyMatches()
    if screen != "nothing":
        rig.search()
    rig.controller.lock()
    rig.view.clear()
    rig.controller.unlock("right")
    rig.auth.run()
    expected = {
        "nothing": ["show_workspace", "close_record"],
        "results": ["show_workspace", "fill_search_form", "show_results", "close_record"],
        "too many": ["show_workspace", "fill_search_form", "show_too_many", "close_record"],
    }[screen]
    assert rig.view.names()[1:] == expected


def test_wrong_passwords_count_down_then_sign_out(rig: Rig) -> None:
    rig.sign_in()
    rig.search()
    rig.controller.lock()
    for left in (4, 3, 2, 1):
        rig.controller.unlock("wrong")
        rig.auth.run()
        assert rig.view.said("show_unlock_message")[-1] == (
            f"That password is not right. {left} {'try' if left == 1 else 'tries'} left "
            "before you are signed out."
        )
    rig.view.clear()
    rig.controller.unlock("wrong")
    rig.auth.run()
    assert rig.session.state is SessionState.SIGNED_OUT
    assert rig.view.names() == ["set_unlock_checking", "show_sign_in"]
    assert rig.view.said("show_sign_in") == [SIGN_OUT_MESSAGES[SignOutReason.UNLOCK_FAILURES]]
    assert rig.controller.state.results is None


def test_a_right_password_checked_while_it_relocked_unlocks_nothing(rig: Rig) -> None:
    rig.sign_in()
    rig.controller.lock()
    rig.controller.unlock("right")
    rig.controller.lock(LockReason.OS_LOCK)  # locked again while the index checks
    rig.auth.run()
    assert rig.session.state is SessionState.LOCKED
    assert rig.view.said("show_unlock_message") == [RELOCKED_MESSAGE]
    assert rig.view.said("set_unlock_checking") == [True, False]


@pytest.mark.parametrize(
    ("error", "state", "message"),
    [
        (ServerUnreachable(), SessionState.LOCKED, [ServerUnreachable.default_message]),
        (Cancelled(), SessionState.LOCKED, []),
        (SessionExpired(), SessionState.SIGNED_OUT, []),
    ],
)
def test_an_unlock_that_cannot_be_checked(rig: Rig, error, state, message) -> None:
    rig.sign_in()
    rig.controller.lock()
    rig.api.fail_next = error
    rig.controller.unlock("right")
    rig.auth.run()
    assert rig.session.state is state
    assert rig.view.said("show_unlock_message") == message
    assert rig.session.unlock_failures == 0  # not a wrong password


def test_the_locked_panel_says_when_it_signs_out(rig: Rig) -> None:
    rig.sign_in()
    rig.clock.advance(10)
    rig.controller.lock()
    (panel,) = rig.view.said("show_locked")
    assert panel.locked_at == rig.clock.wall()
    assert panel.signs_out_at == rig.clock.wall() + dt.timedelta(seconds=900)


# -- PIN ------------------------------------------------------------------------------------


def pin_rig() -> Rig:
    rig = make_rig(allow_pin_unlock=True)
    rig.sign_in()
    assert rig.view.names()[-1] == "offer_pin"
    return rig


def test_a_pin_is_hashed_and_checked_only_in_jobs(monkeypatch) -> None:
    """The GUI thread never hashes: every scrypt call happens inside a runner job."""
    hashed: list[str] = []
    real_make, real_verify = LocalPin.make, LocalPin.verify
    inside = [False]
    monkeypatch.setattr(
        LocalPin,
        "make",
        classmethod(lambda cls, p: (hashed.append(f"make {inside[0]}"), real_make(p))[1]),
    )
    monkeypatch.setattr(
        LocalPin,
        "verify",
        lambda self, p: (hashed.append(f"verify {inside[0]}"), real_verify(self, p))[1],
    )
    rig = pin_rig()
    real_run = rig.auth.run

    def run_marked() -> None:
        inside[0] = True
        try:
            real_run()
        finally:
            inside[0] = False

    rig.auth.run = run_marked  # type: ignore[method-assign]
    rig.controller.set_pin("2468")
    assert hashed == [] and not rig.controller.pin_is_set
    rig.auth.run()
    assert rig.controller.pin_is_set
    rig.controller.lock()
    rig.controller.unlock_with_pin("2468")
    assert hashed == ["make True"] and rig.session.state is SessionState.LOCKED
    rig.auth.run()
    assert hashed == ["make True", "verify True"]
    assert rig.session.state is SessionState.ACTIVE


def test_the_lock_panel_offers_the_pin_once_one_is_set() -> None:
    rig = pin_rig()
    rig.controller.lock()
    assert rig.view.last("show_locked")[0].allow_pin is False  # none set yet
    rig.controller.unlock("right")
    rig.auth.run()
    assert rig.view.names()[-1] != "offer_pin"  # an unlock does not offer it again
    rig.controller.set_pin("2468")
    rig.auth.run()
    rig.controller.lock()
    assert rig.view.last("show_locked")[0].allow_pin is True


def test_wrong_pins_count_with_wrong_passwords() -> None:
    rig = pin_rig()
    rig.controller.set_pin("2468")
    rig.auth.run()
    rig.controller.lock()
    rig.controller.unlock("wrong")
    rig.auth.run()
    rig.controller.unlock_with_pin("1111")
    rig.auth.run()
    assert rig.view.said("show_unlock_message")[-1].startswith(
        "That PIN is not right. 3 tries left"
    )


def test_a_pin_set_for_an_earlier_sign_in_does_not_count() -> None:
    rig = pin_rig()
    rig.controller.set_pin("2468")
    rig.controller.sign_out()  # before the hash is ready
    rig.auth.run()
    assert not rig.controller.pin_is_set
    rig.sign_in()
    assert not rig.controller.pin_is_set
    assert rig.view.names()[-1] == "offer_pin"


def test_a_pin_is_set_only_while_active_and_bad_pins_are_logged(caplog) -> None:
    rig = pin_rig()
    rig.controller.lock()
    rig.controller.set_pin("2468")
    assert rig.auth.jobs == []
    rig.controller.unlock("right")
    rig.auth.run()
    rig.controller.set_pin("12")  # the dialog checks first; the hash refuses too
    rig.auth.run()
    assert not rig.controller.pin_is_set
    assert "PIN not set (ValueError)" in caplog.text
    assert "12" not in caplog.text.replace("PIN not set", "")


def test_a_pin_unlock_without_a_pin_is_a_wrong_try(rig: Rig) -> None:
    rig.sign_in()
    rig.controller.lock()
    rig.controller.unlock_with_pin("2468")
    rig.auth.run()
    assert rig.session.unlock_failures == 1


# -- other lock triggers, the tick, sign-out ---------------------------------------------


def test_escape_twice_quickly_is_the_panic_lock(rig: Rig) -> None:
    rig.sign_in()
    rig.controller.escape_pressed()
    rig.clock.advance(0.01)  # the same press seen by another receiver
    rig.controller.escape_pressed()
    rig.clock.advance(0.5)
    rig.controller.escape_pressed()
    assert rig.session.lock_reason is LockReason.PANIC


def test_escape_twice_slowly_does_not_lock(rig: Rig) -> None:
    rig.sign_in()
    rig.controller.escape_pressed()
    rig.clock.advance(2)
    rig.controller.escape_pressed()
    assert rig.session.state is SessionState.ACTIVE


@pytest.mark.parametrize("on", [True, False])
def test_minimise_and_focus_loss_lock_as_policy_says(on: bool) -> None:
    rig = make_rig(lock_on_minimise=on, lock_on_focus_loss=False)
    rig.sign_in()
    rig.controller.focus_left_app()
    assert rig.session.state is SessionState.ACTIVE
    rig.controller.window_minimised()
    assert (rig.session.lock_reason is LockReason.MINIMISE) is on
    rig = make_rig(lock_on_focus_loss=on)
    rig.sign_in()
    rig.controller.focus_left_app()
    assert (rig.session.lock_reason is LockReason.FOCUS_LOSS) is on


def test_tick_shows_the_time_left_and_warns_before_the_end(rig: Rig) -> None:
    assert rig.controller.tick() is None  # signed out: nothing to show
    rig.sign_in()
    assert rig.controller.tick() == 120
    assert rig.view.last("show_time_left") == ("locks after 2 min without input", "")
    rig.session.set_absolute_seconds_left(90)
    rig.clock.advance(65)
    assert rig.controller.tick() == 55
    assert rig.view.last("show_time_left") == (
        "Session ends in less than 1 min · locks after 55 s without input",
        "Your session ends in less than 1 min. Save what you need; you will have to sign in again.",
    )
    rig.clock.advance(30)
    assert rig.controller.tick() is None
    assert rig.session.state is SessionState.SIGNED_OUT


def test_tick_after_a_night_asleep_locks_and_signs_out(rig: Rig) -> None:
    rig.sign_in()
    rig.clock.advance(8 * 3600)  # a missed suspend signal
    assert rig.controller.tick() is None
    assert rig.view.said("show_sign_in") == [SIGN_OUT_MESSAGES[SignOutReason.LOCK_TIMEOUT]]


def test_sign_out_purges_the_cache_and_revokes_the_token_in_jobs(rig: Rig) -> None:
    rig.sign_in()
    rig.open()
    rig.controller.sign_out()
    assert rig.auth.channels == ["purge", "sign-out"]
    assert rig.clipboard_clears == [1]
    assert rig.cache.purged == 0
    rig.auth.run()
    assert rig.cache.purged == 1 and rig.api.calls[-1] == ("sign_out", None)
    assert rig.view.said("show_sign_in") == [SIGN_OUT_MESSAGES[SignOutReason.USER]]


def test_quit_signs_out_quietly(rig: Rig) -> None:
    rig.sign_in()
    rig.controller.quit()
    assert rig.view.said("show_sign_in") == [""]


# -- pure parts --------------------------------------------------------------------------


def test_explain() -> None:
    assert explain(Cancelled(), "x") == Meaning("")
    assert explain(SessionExpired(), "x") == Meaning("", ends_session=True)
    assert explain(Forbidden(), "x") == Meaning(Forbidden.default_message)
    assert explain(ValueError("Olivia"), "x") == Meaning(GENERIC_ERROR)


def test_offline_banner_is_in_local_time(time_zone) -> None:
    time_zone("America/New_York")
    stored = dt.datetime(2026, 11, 26, 14, 2, tzinfo=dt.UTC)
    assert offline_banner(stored) == "Offline copy from 09:02 — may be out of date"
    assert offline_banner(None) == ""


def test_format_time_left() -> None:
    assert format_time_left(None) == ""
    assert format_time_left(30) == "less than 1 min"
    assert format_time_left(5 * 60 + 5) == "5 min"
    assert format_time_left(9 * 3600 + 58 * 60) == "9 h 58 min"


def test_no_child_data_in_a_repr(rig: Rig) -> None:
    rig.sign_in()
    rig.search()
    rig.open()
    for value in (rig.controller.state, rig.controller.state.opened):
        assert "Olivia" not in repr(value) and "Zebedeeson" not in repr(value)


def test_busy_text() -> None:
    assert busy_text("search") == "Searching…"
    assert busy_text("record") == "Opening the record…"
    assert busy_text("sign-out") == "Working…"


def test_today_is_the_local_date(rig: Rig) -> None:
    assert rig.controller.today() == rig.clock.wall().astimezone().date()


def test_a_controller_without_a_view_says_so() -> None:
    controller = WorkController(
        api=FakeApi(),
        session=Session(FakeClock(), idle_lock_seconds=60, lock_to_logout_seconds=60),
        clock=FakeClock(),
        runner=ManualRunner(),
        auth_runner=ManualRunner(),
        cache=NullCache(),
    )
    with pytest.raises(RuntimeError):
        controller.sign_in("u", "p", "1")


def test_the_shielded_record_is_shown_as_the_index_sent_it(rig: Rig) -> None:
    rig.sign_in()
    rig.open("c-jayden")
    assert rig.view.last("show_record") == (JAYDEN_RECORD, "")


def test_importing_the_controller_loads_no_qt() -> None:
    code = (
        "import sys, cpdesk.controller; "
        "print(sorted(m for m in sys.modules if m.startswith(('PySide6', 'shiboken6'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )  # fmt: skip
    assert out.stdout.strip() == "[]"


# -- the per-user encrypted cache ------------------------------------------------------------


class FakeCaches:
    """A `CacheDoor`: one MemoryCache per user, opened only with that user's password."""

    def __init__(self, password: str = "right") -> None:
        self.password = password
        self.caches: dict[str, MemoryCache] = {}
        self.erased: list[str] = []
        self.calls: list[str] = []
        self.broken = False

    def open_signed_in(self, username: str, password: str) -> MemoryCache:
        self.calls.append("signed-in")
        if self.broken:
            raise RuntimeError("bug")
        return self.caches.setdefault(username, MemoryCache())

    def open_offline(self, username: str, password: str) -> MemoryCache:
        from cpdesk.cache.keeper import NoOfflineCache, WrongPassword

        self.calls.append("offline")
        if username not in self.caches:
            raise NoOfflineCache()
        if password != self.password:
            raise WrongPassword()
        return self.caches[username]

    def erase(self, username: str) -> None:
        self.erased.append(username)
        self.caches.pop(username, None)


def cache_rig(**options: Any) -> tuple[Rig, FakeCaches]:
    caches = FakeCaches()
    return make_rig(caches=caches, **options), caches


def test_sign_in_opens_the_users_cache_in_the_job_and_records_go_into_it() -> None:
    rig, caches = cache_rig()
    rig.controller.sign_in("nurse.test", "right", "123456")
    assert caches.calls == []  # not on the GUI thread
    rig.auth.run()
    assert caches.calls == ["signed-in"]
    rig.open()
    assert "c-olivia" in caches.caches["nurse.test"].records
    assert rig.cache.records == {}  # the shared fallback is not used


def test_lock_drops_the_cache_and_unlock_opens_it_again() -> None:
    rig, caches = cache_rig()
    rig.sign_in()
    rig.auth.run()  # views queued in an earlier run: none
    rig.controller.lock()
    assert rig.auth.channels == ["cache-close"]
    rig.auth.run()
    assert caches.caches["nurse.test"].closed == 1
    rig.controller.unlock("right")
    rig.auth.run()
    assert caches.calls == ["signed-in", "signed-in"]
    rig.open()
    assert "c-olivia" in caches.caches["nurse.test"].records


@pytest.mark.parametrize(
    "reason", [SignOutReason.USER, SignOutReason.LOCK_TIMEOUT, SignOutReason.UNLOCK_FAILURES]
)
def test_sign_out_lock_to_logout_and_wrong_unlocks_crypto_erase(reason: SignOutReason) -> None:
    rig, caches = cache_rig()
    rig.sign_in()
    rig.session.sign_out(reason)
    rig.auth.run()
    assert caches.erased == ["nurse.test"]


def test_five_wrong_unlocks_erase_the_cache() -> None:
    rig, caches = cache_rig()
    rig.sign_in()
    rig.controller.lock()
    for _ in range(5):
        rig.controller.unlock("wrong")
        rig.auth.run()
    assert rig.session.state is SessionState.SIGNED_OUT
    rig.auth.run()
    assert caches.erased == ["nurse.test"]


def test_quit_keeps_the_cache_closed_for_the_next_run() -> None:
    rig, caches = cache_rig()
    rig.sign_in()
    rig.controller.quit()
    rig.auth.run()
    assert caches.erased == [] and caches.caches["nurse.test"].closed == 1


def test_a_cache_that_fails_to_open_never_blocks_sign_in(caplog) -> None:
    rig, caches = cache_rig()
    caches.broken = True
    rig.sign_in()
    assert "record cache not opened (RuntimeError)" in caplog.text
    rig.open()
    assert rig.view.last("show_record") == (OLIVIA_RECORD, "")


def test_offline_views_are_queued_and_sent_when_the_index_answers() -> None:
    rig, caches = cache_rig()
    rig.sign_in()
    rig.auth.run()  # views queued in an earlier run: none
    rig.open()
    rig.api.fail_next = ServerUnreachable()
    rig.open()
    cache = caches.caches["nurse.test"]
    assert [v.index_id for v in cache.views] == ["c-olivia"]
    rig.api.fail_next = ServerUnreachable()
    rig.search()  # still offline: the search fails, today's records are offered
    assert rig.runner.channels == ["opened-today"]
    rig.runner.run()
    assert rig.view.last("show_opened_today") == ((OLIVIA_RECORD.summary,),)
    assert rig.auth.channels == []
    rig.search()  # the index is back
    assert rig.auth.channels == ["send-views"]
    rig.api.fail_next = ServerUnreachable()
    rig.auth.run()  # sending failed: kept, and tried after the next answer
    assert len(cache.views) == 1
    rig.search()
    rig.auth.run()
    assert ("offline_view", ("c-olivia", MemoryCache.STORED)) in rig.api.calls
    assert cache.views == []
    rig.search()
    assert rig.auth.channels == []  # nothing waiting: nothing sent


def test_offline_sign_in_with_the_cache_key_and_its_limits() -> None:
    rig, _ = cache_rig(offline_sign_in=True)
    rig.sign_in()
    rig.open()
    rig.controller.quit()
    rig.auth.run()
    rig.api.fail_next = ServerUnreachable()
    rig.controller.sign_in("nurse.test", "right", "")
    rig.auth.run()
    assert rig.session.state is SessionState.ACTIVE and rig.controller.offline
    assert rig.view.said("show_notice")[-1] == OFFLINE_SIGNED_IN
    rig.runner.run()
    assert rig.view.last("show_opened_today") == ((OLIVIA_RECORD.summary,),)
    # Locked while offline: the password is checked by the cache key, not the index.
    rig.controller.lock()
    rig.controller.unlock("wrong")
    rig.auth.run()
    assert rig.session.state is SessionState.LOCKED
    rig.controller.unlock("right")
    rig.auth.run()
    assert rig.session.state is SessionState.ACTIVE
    assert ("unlock", None) not in rig.api.calls[-3:]


def test_offline_sign_in_refuses_a_wrong_password_and_an_unknown_user() -> None:
    rig, caches = cache_rig(offline_sign_in=True)
    caches.caches["nurse.test"] = MemoryCache()
    rig.api.fail_next = ServerTimeout()
    rig.controller.sign_in("nurse.test", "wrong", "")
    rig.auth.run()
    assert rig.view.said("show_sign_in_error")[-1].startswith(SignInFailed.default_message)
    rig.api.fail_next = ServerUnreachable()
    rig.controller.sign_in("someone.else", "right", "")
    rig.auth.run()
    assert rig.view.said("show_sign_in_error")[-1] == ServerUnreachable.default_message
    assert rig.session.state is SessionState.SIGNED_OUT


def test_offline_sign_in_is_off_unless_policy_turns_it_on() -> None:
    rig, caches = cache_rig()
    caches.caches["nurse.test"] = MemoryCache()
    rig.api.fail_next = ServerUnreachable()
    rig.controller.sign_in("nurse.test", "right", "")
    rig.auth.run()
    assert caches.calls == [] and rig.session.state is SessionState.SIGNED_OUT


def test_a_sign_in_answer_after_another_sign_in_closes_its_cache() -> None:
    rig, caches = cache_rig()
    rig.controller.sign_in("nurse.test", "right", "1")
    rig.controller.sign_in("nurse.test", "right", "2")
    jobs = rig.auth.jobs
    rig.auth.jobs = []
    for job in jobs:
        job.on_done(job.fn())  # both answers arrive
    assert caches.caches["nurse.test"].closed == 1


def test_expired_entries_are_swept_every_ten_minutes_in_a_job() -> None:
    rig, caches = cache_rig()
    rig.sign_in()
    rig.controller.tick()
    assert "cache-sweep" not in rig.runner.channels
    rig.clock.advance(SWEEP_SECONDS)
    rig.session.activity()
    rig.controller.tick()
    assert rig.runner.channels == ["cache-sweep"]
    rig.runner.run()
    assert caches.caches["nurse.test"].swept == 1


def test_the_real_bundle_reader_and_a_bad_entry_in_todays_list() -> None:
    from tests.cpdesk.net import samples

    cache = MemoryCache()
    cache.put("c-1", json.dumps(samples.everything("c-1")).encode())
    cache.put("c-2", b"{broken")
    children = opened_today(cache)
    assert [c.index_id for c in children] == ["c-1"]
    assert read_bundle(cache.records["c-1"].bundle, "c-1").index_id == "c-1"


def test_send_offline_views_keeps_what_failed() -> None:
    cache, api = MemoryCache(), FakeApi()
    cache.note_offline_view("c-1")
    cache.note_offline_view("c-2")
    calls = []

    def flaky(index_id: str, viewed_at: dt.datetime) -> None:
        calls.append(index_id)
        if index_id == "c-2":
            raise ServerUnreachable()

    api.report_offline_view = flaky  # type: ignore[method-assign]
    with pytest.raises(ServerUnreachable):
        send_offline_views(api, cache)
    assert [v.index_id for v in cache.views] == ["c-2"]
    assert send_offline_views(FakeApi(), cache) == 1


def test_only_an_unreachable_index_shows_an_offline_copy() -> None:
    assert shows_offline_copy(ServerUnreachable()) and shows_offline_copy(ServerTimeout())
    assert not shows_offline_copy(CertificateError())
    assert not shows_offline_copy(Forbidden()) and not shows_offline_copy(SessionExpired())
