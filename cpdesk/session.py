"""The session state machine: signed-out → active → locked → signed-out, and nothing else.

Qt-free on purpose: every trigger (idle, Ctrl+L, panic key, OS lock, suspend, minimise,
focus loss) ends in `Session.lock(reason)`, and the UI only renders the transitions it is
told about. A lock never waits for anything: it changes state at once and tells the
subscribers synchronously, in the same event-loop turn.

Time comes from an injected `Clock` whose `now()` keeps counting while the machine sleeps,
so a laptop shut overnight with a missed suspend signal wakes up locked on the first
`tick()`, and signed out if the lock-to-logout time has also passed since the moment it
should have locked.

Unlocking is a two-step handshake because the check is slow (the password goes to the
index; a PIN is hashed with scrypt): the controller takes a token from `begin_unlock()`,
runs the check off the GUI thread, then reports
`unlock_succeeded(token)` or `unlock_failed(token)`. A `lock()` in between invalidates the
token, so an answer still in flight when the app re-locks can never unlock it.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cpdesk.clock import Clock
    from cpdesk.records import UserInfo

__all__ = ["LocalPin", "LockReason", "Session", "SessionState", "SignOutReason", "Transition"]


class SessionState(enum.Enum):
    SIGNED_OUT = "signed-out"
    ACTIVE = "active"
    LOCKED = "locked"


class LockReason(enum.Enum):
    IDLE = "idle"
    MANUAL = "manual"
    PANIC = "panic"
    OS_LOCK = "os-lock"
    SUSPEND = "suspend"
    MINIMISE = "minimise"
    FOCUS_LOSS = "focus-loss"


class SignOutReason(enum.Enum):
    USER = "user"
    LOCK_TIMEOUT = "lock-timeout"
    UNLOCK_FAILURES = "unlock-failures"
    SERVER_EXPIRED = "server-expired"
    QUIT = "quit"


@dataclass(frozen=True)
class Transition:
    """One state change, as subscribers receive it."""

    old: SessionState
    new: SessionState
    lock_reason: LockReason | None = None
    sign_out_reason: SignOutReason | None = None


class Session:
    """The one place that decides when the user is active, locked or signed out."""

    def __init__(
        self,
        clock: Clock,
        *,
        idle_lock_seconds: float,
        lock_to_logout_seconds: float,
        max_unlock_failures: int = 5,
        expiry_warning_seconds: float = 120,
    ) -> None:
        if idle_lock_seconds <= 0 or lock_to_logout_seconds < 0 or max_unlock_failures < 1:
            raise ValueError("session limits must be positive")
        self._clock = clock
        self._idle_lock_seconds = float(idle_lock_seconds)
        self._lock_to_logout_seconds = float(lock_to_logout_seconds)
        self._max_unlock_failures = max_unlock_failures
        self._expiry_warning_seconds = float(expiry_warning_seconds)
        self._subscribers: list[Callable[[Transition], None]] = []
        self._pending_events: deque[Transition] = deque()
        self._notifying = False
        self._state = SessionState.SIGNED_OUT
        self._user: UserInfo | None = None
        self._last_activity = 0.0
        self._locked_since = 0.0
        self._locked_at: dt.datetime | None = None
        self._lock_reason: LockReason | None = None
        self._absolute_deadline: float | None = None
        self._next_attempt = 1
        self._open_attempts: set[int] = set()
        self._unlocking_attempt: int | None = None
        self._unlock_failures = 0

    # -- read-only views ----------------------------------------------------------

    @property
    def state(self) -> SessionState:
        return self._state

    @property
    def user(self) -> UserInfo | None:
        return self._user

    @property
    def locked_at(self) -> dt.datetime | None:
        """Wall-clock time of the current lock, for "Locked at 14:02"; None unless locked."""
        return self._locked_at

    @property
    def lock_reason(self) -> LockReason | None:
        """Why the session is locked now; None unless locked."""
        return self._lock_reason

    @property
    def idle_lock_seconds(self) -> float:
        return self._idle_lock_seconds

    @property
    def signs_out_at(self) -> dt.datetime | None:
        """Wall-clock time a lock left alone ends in sign-out; None unless locked."""
        if self._locked_at is None:
            return None
        return self._locked_at + dt.timedelta(seconds=self._lock_to_logout_seconds)

    @property
    def unlock_failures(self) -> int:
        """Wrong unlock attempts since the last lock was lifted."""
        return self._unlock_failures

    @property
    def unlock_tries_left(self) -> int:
        """Wrong attempts still allowed before sign-out ("4 tries left")."""
        return self._max_unlock_failures - self._unlock_failures

    def subscribe(self, callback: Callable[[Transition], None]) -> None:
        """Call `callback` synchronously, in order, for every transition from now on."""
        self._subscribers.append(callback)

    def idle_seconds_left(self) -> float:
        """Seconds until the idle lock while active; 0 when locked or signed out."""
        if self._state is not SessionState.ACTIVE:
            return 0.0
        return max(0.0, self._last_activity + self._idle_lock_seconds - self._clock.now())

    def absolute_seconds_left(self) -> float | None:
        """Seconds until the server's absolute expiry, or None when unknown/signed out."""
        if self._absolute_deadline is None or self._state is SessionState.SIGNED_OUT:
            return None
        return max(0.0, self._absolute_deadline - self._clock.now())

    def expiry_warning_due(self) -> bool:
        """True once the absolute expiry is within the warning window (show the banner)."""
        left = self.absolute_seconds_left()
        return left is not None and left <= self._expiry_warning_seconds

    # -- inputs -------------------------------------------------------------------

    def sign_in(self, user: UserInfo, absolute_seconds_left: float | None = None) -> None:
        """SIGNED_OUT -> ACTIVE. Signing in over a live session is a bug, not a switch."""
        if self._state is not SessionState.SIGNED_OUT:
            raise RuntimeError("already signed in; sign out first")
        now = self._clock.now()
        self._user = user
        self._last_activity = now
        self._unlock_failures = 0
        self._open_attempts.clear()
        self._unlocking_attempt = None
        self.set_absolute_seconds_left(absolute_seconds_left)
        self._move(SessionState.ACTIVE)

    def set_absolute_seconds_left(self, seconds: float | None) -> None:
        """Refresh the absolute expiry (the server reports it on every response)."""
        self._absolute_deadline = None if seconds is None else self._clock.now() + seconds

    def tighten_idle_lock(self, seconds: float) -> None:
        """Lower the idle limit (fail closed when no OS lock signal exists); never raises it."""
        if seconds > 0:
            self._idle_lock_seconds = min(self._idle_lock_seconds, float(seconds))

    def activity(self) -> None:
        """Real user input: pushes the idle deadline back. Ignored unless ACTIVE."""
        if self._state is SessionState.ACTIVE:
            self._last_activity = self._clock.now()

    def tick(self) -> None:
        """Apply every deadline that has passed; call often and on wake."""
        self._apply_deadlines()

    def lock(self, reason: LockReason) -> None:
        """ACTIVE -> LOCKED at once. While LOCKED, voids any unlock in flight."""
        if self._state is SessionState.LOCKED:
            self._unlocking_attempt = None
        elif self._state is SessionState.ACTIVE:
            self._lock(reason, self._clock.now())

    def begin_unlock(self) -> int:
        """A token for one unlock attempt; only the latest token, if no lock followed, counts."""
        attempt = self._next_attempt
        self._next_attempt += 1
        if self._state is SessionState.LOCKED:
            self._open_attempts.add(attempt)
            self._unlocking_attempt = attempt
        return attempt

    def unlock_succeeded(self, attempt: int) -> bool:
        """LOCKED -> ACTIVE if `attempt` is still current and no deadline has passed."""
        self._open_attempts.discard(attempt)
        self._apply_deadlines()
        if self._state is not SessionState.LOCKED or attempt != self._unlocking_attempt:
            return False
        self._unlocking_attempt = None
        self._unlock_failures = 0
        self._last_activity = self._clock.now()
        self._locked_at = None
        self._lock_reason = None
        self._move(SessionState.ACTIVE)
        return True

    def unlock_failed(self, attempt: int) -> None:
        """A wrong password or PIN: counts even if re-locked since; at the limit, sign out."""
        if attempt not in self._open_attempts:
            return
        self._open_attempts.discard(attempt)
        if attempt == self._unlocking_attempt:
            self._unlocking_attempt = None
        self._unlock_failures += 1
        if self._unlock_failures >= self._max_unlock_failures:
            self.sign_out(SignOutReason.UNLOCK_FAILURES)

    def server_expired(self) -> None:
        """The server said the token is gone (401): sign out whatever the state."""
        self.sign_out(SignOutReason.SERVER_EXPIRED)

    def sign_out(self, reason: SignOutReason = SignOutReason.USER) -> None:
        """ACTIVE or LOCKED -> SIGNED_OUT; forgets the user and every deadline."""
        if self._state is SessionState.SIGNED_OUT:
            return
        self._user = None
        self._locked_at = None
        self._lock_reason = None
        self._absolute_deadline = None
        self._open_attempts.clear()
        self._unlocking_attempt = None
        self._unlock_failures = 0
        self._move(SessionState.SIGNED_OUT, sign_out_reason=reason)

    # -- internals ----------------------------------------------------------------

    def _apply_deadlines(self) -> None:
        now = self._clock.now()
        if self._state is SessionState.ACTIVE:
            idle_deadline = self._last_activity + self._idle_lock_seconds
            if now >= idle_deadline:
                # Locked since the deadline, not since this tick: after a missed sleep
                # signal the lock-to-logout time runs from when the lock was due.
                self._lock(LockReason.IDLE, idle_deadline)
        if (
            self._state is SessionState.LOCKED
            and now - self._locked_since >= self._lock_to_logout_seconds
        ):
            self.sign_out(SignOutReason.LOCK_TIMEOUT)
        if (
            self._state is not SessionState.SIGNED_OUT
            and self._absolute_deadline is not None
            and now >= self._absolute_deadline
        ):
            self.sign_out(SignOutReason.SERVER_EXPIRED)

    def _lock(self, reason: LockReason, since: float) -> None:
        self._locked_since = since
        late = dt.timedelta(seconds=self._clock.now() - since)
        self._locked_at = self._clock.wall() - late
        self._lock_reason = reason
        self._unlocking_attempt = None
        self._move(SessionState.LOCKED, lock_reason=reason)

    def _move(
        self,
        new: SessionState,
        *,
        lock_reason: LockReason | None = None,
        sign_out_reason: SignOutReason | None = None,
    ) -> None:
        old, self._state = self._state, new
        self._pending_events.append(Transition(old, new, lock_reason, sign_out_reason))
        if self._notifying:
            return  # a subscriber caused this; delivered in order once it returns
        self._notifying = True
        first_error: BaseException | None = None
        try:
            while self._pending_events:
                event = self._pending_events.popleft()
                for callback in list(self._subscribers):
                    try:
                        callback(event)
                    except Exception as exc:  # every subscriber must hear of a lock
                        first_error = first_error or exc
        finally:
            self._notifying = False
        if first_error is not None:
            raise first_error


class LocalPin:
    """A PIN for quick unlock where policy allows it: only a salted scrypt hash, in memory.

    Immutable: `make` hashes a new PIN, `verify` checks one. Both are slow on purpose
    (scrypt), so both run off the GUI thread; the holder keeps the object for one sign-in
    and drops it at sign-out. Wrong PINs count against the same limit as wrong passwords
    (report them to `Session.unlock_failed`).
    """

    MIN_DIGITS = 4
    MAX_DIGITS = 12

    def __init__(self, salt: bytes, digest: bytes) -> None:
        """Use `make`; this takes an existing hash."""
        self._salt = salt
        self._digest = digest

    def __repr__(self) -> str:
        return "LocalPin(<hash>)"

    @classmethod
    def make(cls, pin: str) -> LocalPin:
        """Hash `pin` (4-12 ASCII digits); raises ValueError for anything else."""
        if not (pin.isdigit() and pin.isascii() and cls.MIN_DIGITS <= len(pin) <= cls.MAX_DIGITS):
            raise ValueError(f"a PIN is {cls.MIN_DIGITS} to {cls.MAX_DIGITS} digits")
        import secrets  # here, not at import: OpenSSL's hashlib is slow to load at start

        salt = secrets.token_bytes(16)
        return cls(salt, _derive(pin, salt))

    def verify(self, pin: str) -> bool:
        """Constant-time check of `pin` against the hash."""
        import hmac

        return hmac.compare_digest(_derive(pin, self._salt), self._digest)


def _derive(pin: str, salt: bytes) -> bytes:
    import hashlib

    return hashlib.scrypt(pin.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
