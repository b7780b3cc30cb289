"""Every transition of the session state machine, driven by a fake clock."""

from __future__ import annotations

import datetime as dt

import pytest

from cpdesk.clock import FakeClock
from cpdesk.records import UserInfo
from cpdesk.session import (
    LocalPin,
    LockReason,
    Session,
    SessionState,
    SignOutReason,
    Transition,
)

USER = UserInfo("nurse.demo", "Sam Okafor", "practitioner", "Northgate General Hospital A&E")
A, L, S = SessionState.ACTIVE, SessionState.LOCKED, SessionState.SIGNED_OUT


class Recorder:
    def __init__(self, session: Session) -> None:
        self.events: list[Transition] = []
        session.subscribe(self.events.append)

    def pairs(self) -> list[tuple[SessionState, SessionState]]:
        return [(e.old, e.new) for e in self.events]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def session(clock: FakeClock) -> Session:
    return Session(clock, idle_lock_seconds=120, lock_to_logout_seconds=900)


@pytest.fixture
def rec(session: Session) -> Recorder:
    return Recorder(session)


def signed_in(session: Session, seconds: float | None = None) -> Session:
    session.sign_in(USER, seconds)
    return session


def test_starts_signed_out(session: Session) -> None:
    assert session.state is S
    assert session.user is None
    assert session.locked_at is None
    assert session.lock_reason is None
    assert session.idle_seconds_left() == 0.0
    assert session.absolute_seconds_left() is None
    assert not session.expiry_warning_due()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"idle_lock_seconds": 0, "lock_to_logout_seconds": 10},
        {"idle_lock_seconds": 10, "lock_to_logout_seconds": -1},
        {"idle_lock_seconds": 10, "lock_to_logout_seconds": 10, "max_unlock_failures": 0},
    ],
)
def test_rejects_nonsense_limits(clock: FakeClock, kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Session(clock, **kwargs)  # type: ignore[arg-type]


def test_sign_in_makes_active(session: Session, rec: Recorder) -> None:
    signed_in(session)
    assert session.state is A
    assert session.user == USER
    assert rec.events == [Transition(S, A)]
    assert session.idle_seconds_left() == 120


def test_sign_in_twice_is_a_bug(session: Session) -> None:
    signed_in(session)
    with pytest.raises(RuntimeError):
        session.sign_in(USER)


def test_idle_tick_locks(session: Session, clock: FakeClock, rec: Recorder) -> None:
    signed_in(session)
    clock.advance(119.9)
    session.tick()
    assert session.state is A
    assert session.idle_seconds_left() == pytest.approx(0.1)
    clock.advance(0.1)
    session.tick()
    assert session.state is L
    assert rec.events[-1] == Transition(A, L, lock_reason=LockReason.IDLE)
    assert session.lock_reason is LockReason.IDLE
    assert session.locked_at == clock.wall()
    assert session.idle_seconds_left() == 0.0


def test_activity_resets_idle_deadline(session: Session, clock: FakeClock) -> None:
    signed_in(session)
    clock.advance(100)
    session.activity()
    clock.advance(100)
    session.tick()
    assert session.state is A
    assert session.idle_seconds_left() == pytest.approx(20)
    clock.advance(20)
    session.tick()
    assert session.state is L


def test_activity_ignored_unless_active(session: Session, clock: FakeClock) -> None:
    session.activity()  # signed out: nothing happens
    signed_in(session)
    session.lock(LockReason.MANUAL)
    clock.advance(899)
    session.activity()  # input on the lock screen does not postpone the sign-out
    clock.advance(1)
    session.tick()
    assert session.state is S


def test_tick_when_signed_out_does_nothing(session: Session, rec: Recorder) -> None:
    session.tick()
    assert rec.events == []


@pytest.mark.parametrize("reason", list(LockReason))
def test_every_lock_reason_locks_at_once(
    session: Session, clock: FakeClock, rec: Recorder, reason: LockReason
) -> None:
    signed_in(session)
    clock.advance(5)
    session.lock(reason)
    assert session.state is L
    assert rec.events[-1] == Transition(A, L, lock_reason=reason)
    assert session.locked_at == clock.wall()


def test_lock_when_signed_out_is_a_no_op(session: Session, rec: Recorder) -> None:
    session.lock(LockReason.MANUAL)
    assert session.state is S
    assert rec.events == []


def test_second_lock_keeps_first_reason_and_time(
    session: Session, clock: FakeClock, rec: Recorder
) -> None:
    signed_in(session)
    session.lock(LockReason.MANUAL)
    first = session.locked_at
    clock.advance(10)
    session.lock(LockReason.OS_LOCK)
    assert session.lock_reason is LockReason.MANUAL
    assert session.locked_at == first
    assert rec.pairs() == [(S, A), (A, L)]


def test_locked_too_long_signs_out(session: Session, clock: FakeClock, rec: Recorder) -> None:
    signed_in(session)
    session.lock(LockReason.MANUAL)
    clock.advance(899)
    session.tick()
    assert session.state is L
    clock.advance(1)
    session.tick()
    assert session.state is S
    assert rec.events[-1] == Transition(L, S, sign_out_reason=SignOutReason.LOCK_TIMEOUT)
    assert session.user is None
    assert session.locked_at is None


def test_clock_jump_locks_on_wake(session: Session, clock: FakeClock, rec: Recorder) -> None:
    """Laptop slept past the idle limit with the suspend signal missed."""
    signed_in(session)
    clock.advance(300)
    session.tick()
    assert session.state is L
    assert rec.events[-1].lock_reason is LockReason.IDLE
    # "Locked at" shows when the lock was due, not when the lid was opened.
    assert session.locked_at == clock.wall() - dt.timedelta(seconds=180)


def test_clock_jump_past_lock_to_logout_signs_out(
    session: Session, clock: FakeClock, rec: Recorder
) -> None:
    """A night's sleep: locked, then signed out, in one tick and in that order."""
    signed_in(session)
    clock.advance(120 + 900)
    session.tick()
    assert session.state is S
    assert rec.events[1:] == [
        Transition(A, L, lock_reason=LockReason.IDLE),
        Transition(L, S, sign_out_reason=SignOutReason.LOCK_TIMEOUT),
    ]


def test_clock_jump_just_short_of_logout_stays_locked(session: Session, clock: FakeClock) -> None:
    signed_in(session)
    clock.advance(120 + 899)
    session.tick()
    assert session.state is L


def test_right_unlock(session: Session, clock: FakeClock, rec: Recorder) -> None:
    signed_in(session)
    session.lock(LockReason.MANUAL)
    attempt = session.begin_unlock()
    clock.advance(3)
    assert session.unlock_succeeded(attempt) is True
    assert session.state is A
    assert rec.events[-1] == Transition(L, A)
    assert session.locked_at is None
    assert session.lock_reason is None
    assert session.idle_seconds_left() == 120  # the idle timer restarts at unlock


def test_unlock_token_cannot_be_reused(session: Session) -> None:
    signed_in(session)
    session.lock(LockReason.MANUAL)
    attempt = session.begin_unlock()
    assert session.unlock_succeeded(attempt)
    session.lock(LockReason.MANUAL)
    assert session.unlock_succeeded(attempt) is False
    assert session.state is L


def test_unlock_in_flight_when_relocked_cannot_unlock(session: Session) -> None:
    signed_in(session)
    session.lock(LockReason.IDLE)
    attempt = session.begin_unlock()
    session.lock(LockReason.OS_LOCK)  # OS locked while the server was checking
    assert session.unlock_succeeded(attempt) is False
    assert session.state is L


def test_unlock_in_flight_across_unlock_and_relock(session: Session) -> None:
    """Two attempts race: the later wins, and a lock after it voids the earlier one."""
    signed_in(session)
    session.lock(LockReason.IDLE)
    early = session.begin_unlock()
    late = session.begin_unlock()
    assert session.unlock_succeeded(late)
    session.lock(LockReason.MANUAL)
    assert session.unlock_succeeded(early) is False
    assert session.state is L


def test_unlock_while_not_locked_fails(session: Session) -> None:
    attempt = session.begin_unlock()  # signed out
    assert session.unlock_succeeded(attempt) is False
    signed_in(session)
    attempt = session.begin_unlock()  # active
    assert session.unlock_succeeded(attempt) is False
    assert session.state is A


def test_unlock_after_lock_to_logout_passed_signs_out_instead(
    session: Session, clock: FakeClock, rec: Recorder
) -> None:
    """No tick since the deadline: the late right password must not revive the session."""
    signed_in(session)
    session.lock(LockReason.MANUAL)
    attempt = session.begin_unlock()
    clock.advance(900)
    assert session.unlock_succeeded(attempt) is False
    assert session.state is S
    assert rec.events[-1].sign_out_reason is SignOutReason.LOCK_TIMEOUT


def test_wrong_unlock_counts_and_stays_locked(session: Session) -> None:
    signed_in(session)
    session.lock(LockReason.MANUAL)
    attempt = session.begin_unlock()
    session.unlock_failed(attempt)
    assert session.state is L
    assert session.unlock_failures == 1
    assert session.unlock_tries_left == 4
    session.unlock_failed(attempt)  # reported twice: counted once
    assert session.unlock_failures == 1


def test_five_wrong_signs_out(session: Session, rec: Recorder) -> None:
    signed_in(session)
    session.lock(LockReason.MANUAL)
    for _ in range(4):
        session.unlock_failed(session.begin_unlock())
    assert session.state is L
    session.unlock_failed(session.begin_unlock())
    assert session.state is S
    assert rec.events[-1] == Transition(L, S, sign_out_reason=SignOutReason.UNLOCK_FAILURES)


def test_wrong_answer_after_relock_still_counts(session: Session) -> None:
    signed_in(session)
    session.lock(LockReason.MANUAL)
    attempt = session.begin_unlock()
    session.lock(LockReason.OS_LOCK)
    session.unlock_failed(attempt)
    assert session.unlock_failures == 1


def test_right_unlock_resets_failures(session: Session) -> None:
    signed_in(session)
    session.lock(LockReason.MANUAL)
    for _ in range(4):
        session.unlock_failed(session.begin_unlock())
    assert session.unlock_succeeded(session.begin_unlock())
    assert session.unlock_failures == 0
    session.lock(LockReason.MANUAL)
    for _ in range(4):
        session.unlock_failed(session.begin_unlock())
    assert session.state is L


def test_failures_from_unknown_or_stale_tokens_are_ignored(session: Session) -> None:
    signed_in(session)
    active_attempt = session.begin_unlock()  # begun while active: never counts
    session.lock(LockReason.MANUAL)
    session.unlock_failed(active_attempt)
    session.unlock_failed(12345)
    assert session.unlock_failures == 0


def test_failures_do_not_carry_over_a_sign_in(session: Session) -> None:
    signed_in(session)
    session.lock(LockReason.MANUAL)
    old = session.begin_unlock()
    session.sign_out()
    signed_in(session)
    session.lock(LockReason.MANUAL)
    session.unlock_failed(old)
    assert session.unlock_failures == 0


def test_max_unlock_failures_is_configurable(clock: FakeClock) -> None:
    session = Session(clock, idle_lock_seconds=60, lock_to_logout_seconds=60, max_unlock_failures=1)
    session.sign_in(USER)
    session.lock(LockReason.PANIC)
    session.unlock_failed(session.begin_unlock())
    assert session.state is S


@pytest.mark.parametrize("lock_first", [False, True])
def test_server_expired_signs_out_from_any_state(
    session: Session, rec: Recorder, lock_first: bool
) -> None:
    signed_in(session)
    if lock_first:
        session.lock(LockReason.MANUAL)
    session.server_expired()
    assert session.state is S
    assert rec.events[-1].sign_out_reason is SignOutReason.SERVER_EXPIRED


def test_server_expired_when_signed_out_is_a_no_op(session: Session, rec: Recorder) -> None:
    session.server_expired()
    assert rec.events == []


@pytest.mark.parametrize("reason", list(SignOutReason))
def test_sign_out_reasons(session: Session, rec: Recorder, reason: SignOutReason) -> None:
    signed_in(session)
    session.sign_out(reason)
    assert rec.events[-1] == Transition(A, S, sign_out_reason=reason)
    session.sign_out(reason)  # twice: nothing more
    assert len(rec.events) == 2


def test_sign_out_default_reason_is_user(session: Session, rec: Recorder) -> None:
    signed_in(session)
    session.lock(LockReason.MANUAL)
    session.sign_out()
    assert rec.events[-1] == Transition(L, S, sign_out_reason=SignOutReason.USER)


def test_absolute_expiry_and_warning(session: Session, clock: FakeClock, rec: Recorder) -> None:
    signed_in(session, seconds=600)
    assert session.absolute_seconds_left() == 600
    assert not session.expiry_warning_due()
    clock.advance(100)
    session.activity()
    clock.advance(380)
    session.activity()
    assert session.expiry_warning_due()  # 120 s left
    clock.advance(119)
    session.activity()
    session.tick()
    assert session.state is A
    clock.advance(1)
    session.tick()
    assert session.state is S
    assert rec.events[-1].sign_out_reason is SignOutReason.SERVER_EXPIRED
    assert session.absolute_seconds_left() is None


def test_absolute_expiry_while_locked(session: Session, clock: FakeClock, rec: Recorder) -> None:
    signed_in(session, seconds=60)
    session.lock(LockReason.MANUAL)
    clock.advance(60)
    session.tick()
    assert rec.events[-1] == Transition(L, S, sign_out_reason=SignOutReason.SERVER_EXPIRED)


def test_absolute_expiry_refreshed(session: Session, clock: FakeClock) -> None:
    signed_in(session, seconds=60)
    clock.advance(50)
    session.set_absolute_seconds_left(300)
    assert session.absolute_seconds_left() == 300
    session.set_absolute_seconds_left(None)
    assert session.absolute_seconds_left() is None
    assert not session.expiry_warning_due()


def test_absolute_seconds_left_never_negative(session: Session, clock: FakeClock) -> None:
    signed_in(session, seconds=10)
    clock.advance(20)
    assert session.absolute_seconds_left() == 0.0


def test_tighten_idle_lock_only_lowers(session: Session, clock: FakeClock) -> None:
    session.tighten_idle_lock(600)
    assert session.idle_lock_seconds == 120
    session.tighten_idle_lock(0)
    assert session.idle_lock_seconds == 120
    session.tighten_idle_lock(60)
    assert session.idle_lock_seconds == 60
    signed_in(session)
    clock.advance(60)
    session.tick()
    assert session.state is L


def test_subscriber_that_reacts_sees_events_in_order(session: Session) -> None:
    """A subscriber that signs out on lock must not reorder what others hear."""
    seen: list[tuple[SessionState, SessionState]] = []

    def first(event: Transition) -> None:
        if event.new is L:
            session.sign_out(SignOutReason.QUIT)

    session.subscribe(first)
    session.subscribe(lambda e: seen.append((e.old, e.new)))
    signed_in(session)
    session.lock(LockReason.MANUAL)
    assert seen == [(S, A), (A, L), (L, S)]
    assert session.state is S


def test_failing_subscriber_does_not_stop_the_others(session: Session) -> None:
    seen: list[Transition] = []

    def broken(event: Transition) -> None:
        raise OSError("renderer broke")

    session.subscribe(broken)
    session.subscribe(seen.append)
    with pytest.raises(OSError):
        signed_in(session)
    assert session.state is A
    assert seen == [Transition(S, A)]
    with pytest.raises(OSError):
        session.lock(LockReason.MANUAL)
    assert session.state is L  # the lock happened even though a subscriber failed
    assert len(seen) == 2


def test_local_pin_round_trip() -> None:
    pin = LocalPin.make("4821")
    assert pin.verify("4821")
    assert not pin.verify("4822")
    assert "4821" not in repr(pin)
    assert "4821" not in repr(vars(pin))
    assert LocalPin.make("4821") != pin  # a new salt each time


@pytest.mark.parametrize("bad", ["123", "1234567890123", "12a4", "", "١٢٣٤"])
def test_local_pin_rejects_non_pins(bad: str) -> None:
    with pytest.raises(ValueError):
        LocalPin.make(bad)


def test_signs_out_at_is_the_lock_time_plus_the_lock_to_logout_limit(
    session: Session, clock: FakeClock
) -> None:
    assert session.signs_out_at is None
    signed_in(session).lock(LockReason.MANUAL)
    assert session.signs_out_at == clock.wall() + dt.timedelta(seconds=900)
    session.sign_out()
    assert session.signs_out_at is None
