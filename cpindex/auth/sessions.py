"""Bearer sessions: opaque random tokens, stored only as SHA-256, with idle and absolute expiry.

Every failure to sign in looks the same to the caller (None), whether the username is
unknown, the password or code wrong, the account disabled or locked out; an unknown
username still costs one Argon2 verification so timing does not tell either.

Lock-out: `lockout_failures` wrong sign-ins (or wrong unlock passwords) in a row lock the
account for `lockout_minutes`; the count and the lock live in user_account, so every
server process on the database sees them. Only the audit log tells the attempts apart.

The lock-out holds however requests are timed: a password check first takes a slot in
the account's row inside a serialised transaction, and is refused unchecked when the
failures counted plus the checks in flight already reach `lockout_failures`. The result
is written back in a second serialised transaction that re-reads the row: the slot
becomes a counted failure, or (right password, right and unspent code, not locked, not
disabled) it is given back and the session is opened there. Every failure counts, any
error while checking is a failure, and a code's time step is spent once (RFC 6238 §5.2).
A slot left by a process that died mid-check stops counting after `_STALE_SLOTS`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import secrets
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, insert, select, update

from cpindex.auth.passwords import totp_step, verify_password
from cpindex.auth.sealing import SecretBox, open_plain
from cpindex.auth.usernames import audit_name, is_acceptable
from cpindex.clock import Clock
from cpindex.store.db import serialised
from cpindex.store.schema import user_account, user_session

__all__ = ["Attempt", "SessionInfo", "SessionStore", "SessionUser", "hash_token"]


# The idle expiry is rewritten only when it would move by this much, so a burst of calls
# costs one write, not one each; the expiry reported is always the stored one.
_TOUCH_STEP = dt.timedelta(seconds=10)
_MAX_SLIDES_HELD = 10_000
# An Argon2 check takes well under a second; a slot older than this was left by a crash.
_STALE_SLOTS = dt.timedelta(minutes=2)


# Built once: every authenticated request runs these.
_BY_TOKEN = (
    select(
        user_session.c.id,
        user_session.c.idle_expires_at,
        user_session.c.absolute_expires_at,
        user_session.c.revoked_at,
        user_account.c.id,
        user_account.c.username,
        user_account.c.display_name,
        user_account.c.role,
        user_account.c.organisation,
        user_account.c.disabled,
    )
    .join(user_account, user_account.c.id == user_session.c.user_id)
    .where(user_session.c.token_hash == bindparam("token_hash"))
)
_SLIDE = (
    update(user_session)
    .where(user_session.c.id == bindparam("session_id"))
    .values(idle_expires_at=bindparam("idle_expires_at"))
)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SessionUser:
    user_id: int
    username: str
    display_name: str
    role: str
    organisation: str


@dataclass(frozen=True)
class SessionInfo:
    session_id: int
    user: SessionUser
    idle_expires_at: dt.datetime
    absolute_expires_at: dt.datetime
    idle_timeout_seconds: int


@dataclass(frozen=True)
class Attempt:
    """What a sign-in came to. `failure`: None, "credentials", "locked" (refused without
    a check) or "locked-now" (this failure locked the account). The caller answers all
    failures alike; `audit_name` is the username as the audit may hold it."""

    token: str | None
    info: SessionInfo | None
    failure: str | None
    user: SessionUser | None = None
    audit_name: str = ""


@dataclass(frozen=True)
class _Slot:
    """An account whose password check holds a slot (see the module docstring)."""

    user: SessionUser
    password_hash: str
    totp_secret: str


_ACCOUNT = select(
    user_account.c.id,
    user_account.c.username,
    user_account.c.display_name,
    user_account.c.role,
    user_account.c.organisation,
    user_account.c.password_hash,
    user_account.c.totp_secret,
    user_account.c.disabled,
    user_account.c.locked_until,
    user_account.c.failed_count,
    user_account.c.checks_in_flight,
    user_account.c.check_started_at,
    user_account.c.totp_last_step,
).with_for_update()


class SessionStore:
    """Signs users in and checks tokens; the clock is injected so tests move time.

    `box` opens sealed TOTP secrets (cpindex.auth.sealing); without one only plain
    secrets can be read (in-process tests).
    """

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        *,
        idle: dt.timedelta = dt.timedelta(minutes=15),
        absolute: dt.timedelta = dt.timedelta(hours=10),
        lockout_failures: int = 5,
        lockout: dt.timedelta = dt.timedelta(minutes=15),
        box: SecretBox | None = None,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._idle = idle
        self._absolute = absolute
        self._lockout_failures = max(1, lockout_failures)
        self._lockout = lockout
        self._box = box
        self._slides_lock = threading.Lock()
        self._slid: dict[int, dt.datetime] = {}  # session id -> idle expiry this process set

    @property
    def idle_timeout_seconds(self) -> int:
        return int(self._idle.total_seconds())

    def _take_slot(self, where: Any) -> tuple[_Slot | None, bool]:
        """(account, admitted): a slot is taken only while the lock-out leaves room."""
        with serialised(self._engine) as conn:
            row = conn.execute(_ACCOUNT.where(where)).first()
            if row is None:
                return None, False
            now = self._clock.now()  # read once the row is ours: a waiter's clock moved on
            slot = _Slot(
                SessionUser(row.id, row.username, row.display_name, row.role, row.organisation),
                row.password_hash,
                row.totp_secret,
            )
            in_flight = int(row.checks_in_flight or 0)
            if row.check_started_at is None or now - row.check_started_at > _STALE_SLOTS:
                in_flight = 0
            locked = row.locked_until is not None and now < row.locked_until
            if locked or int(row.failed_count or 0) + in_flight >= self._lockout_failures:
                return slot, False
            conn.execute(
                update(user_account)
                .where(user_account.c.id == row.id)
                .values(checks_in_flight=in_flight + 1, check_started_at=now)
            )
        return slot, True

    def _secret(self, slot: _Slot) -> str:
        if self._box is None:
            return open_plain(slot.totp_secret)
        return self._box.open(slot.totp_secret, slot.user.username)

    def _check(self, slot: _Slot, password: str, otp: str | None) -> tuple[bool, int | None]:
        """(password right, the code's time step); any error is a wrong answer."""
        try:
            if not verify_password(slot.password_hash, password):
                return False, None
            if otp is None:
                return True, None
            return True, totp_step(self._secret(slot), otp, at=self._clock.now().timestamp())
        except Exception:  # a crash in a check must read as a failure
            return False, None

    def _finish(
        self, conn: Connection, user_id: int, *, ok: bool, step: int | None, end_sessions: bool
    ) -> tuple[bool, bool]:
        """Give the slot back: (accepted, locked_now). `step`: a code to spend, if any."""
        now = self._clock.now()
        row = conn.execute(_ACCOUNT.where(user_account.c.id == user_id)).one()
        in_flight = max(0, int(row.checks_in_flight or 0) - 1)
        locked = row.locked_until is not None and now < row.locked_until
        spent = (
            step is not None and row.totp_last_step is not None and step <= int(row.totp_last_step)
        )
        if ok and not locked and not bool(row.disabled) and not spent:
            values: dict[str, Any] = {"checks_in_flight": in_flight}
            if step is not None:
                values.update(failed_count=0, totp_last_step=step)
            conn.execute(update(user_account).where(user_account.c.id == user_id).values(values))
            return True, False
        failures = int(row.failed_count or 0) + 1
        locks = failures >= self._lockout_failures
        conn.execute(
            update(user_account)
            .where(user_account.c.id == user_id)
            .values(
                checks_in_flight=in_flight,
                failed_count=0 if locks else failures,
                locked_until=now + self._lockout if locks else row.locked_until,
            )
        )
        if locks and end_sessions:
            conn.execute(
                update(user_session)
                .where(user_session.c.user_id == user_id, user_session.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        return False, locks

    def attempt(self, username: str, password: str, otp: str) -> Attempt:
        """Sign in, counting failures towards the lock-out of an existing account."""
        name = audit_name(username)
        slot, admitted = None, False
        if is_acceptable(username):
            slot, admitted = self._take_slot(user_account.c.username == username)
        if slot is None or not admitted:
            verify_password(None, password)  # refused unchecked, in the time a check takes
            failure = "locked" if slot is not None else "credentials"
            return Attempt(None, None, failure, slot.user if slot else None, name)
        password_ok, step = self._check(slot, password, otp)
        with serialised(self._engine) as conn:
            ok, locked_now = self._finish(
                conn, slot.user.user_id, ok=password_ok and step is not None, step=step,
                end_sessions=False,
            )  # fmt: skip
            if not ok:
                failure = "locked-now" if locked_now else "credentials"
                return Attempt(None, None, failure, slot.user, name)
            token, info = self._open_session(conn, slot.user)
        return Attempt(token, info, None, slot.user, name)

    def sign_in(self, username: str, password: str, otp: str) -> tuple[str, SessionInfo] | None:
        """A new token and its session, or None (one answer for every kind of failure)."""
        result = self.attempt(username, password, otp)
        if result.token is None or result.info is None:
            return None
        return result.token, result.info

    def _open_session(self, conn: Connection, user: SessionUser) -> tuple[str, SessionInfo]:
        token = secrets.token_urlsafe(32)
        now = self._clock.now()
        absolute = now + self._absolute
        idle = min(now + self._idle, absolute)
        result = conn.execute(
            insert(user_session).values(
                token_hash=hash_token(token),
                user_id=user.user_id,
                created_at=now,
                idle_expires_at=idle,
                absolute_expires_at=absolute,
                revoked_at=None,
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        session_id = int(key[0])
        return token, SessionInfo(session_id, user, idle, absolute, self.idle_timeout_seconds)

    def authenticate(
        self, token: str, *, touch: bool = True, conn: Connection | None = None
    ) -> SessionInfo | None:
        """The live session for `token` (sliding its idle expiry), or None.

        With `conn` (a route's read connection) the lookup is one more statement on it and
        nothing is written: the caller slides the session with `touch` once it has given
        that connection back (a thread holding one pooled connection while it waits for a
        second can starve the pool when many do it at once).
        """
        if not token or len(token) > 200:
            return None
        values = {"token_hash": hash_token(token)}
        if conn is None:
            with self._engine.connect() as own:
                row = own.execute(_BY_TOKEN, values).first()
        else:
            row = conn.execute(_BY_TOKEN, values).first()
        if row is None or row[3] is not None or bool(row[9]):
            return None
        idle_at, absolute_at = row[1], row[2]
        now = self._clock.now()
        if now >= idle_at or now >= absolute_at:
            return None
        user = SessionUser(row[4], row[5], row[6], row[7], row[8])
        info = SessionInfo(row[0], user, idle_at, absolute_at, self.idle_timeout_seconds)
        return self.touch(info) if touch and conn is None else info

    def touch(self, info: SessionInfo) -> SessionInfo:
        """Slide the idle expiry when it has moved on by a step (a short write of its own).

        Requests in flight together on one session find the slide due together: the first
        writes it, the others are told its result (one write, not a queue on the row lock).
        """
        slid = min(self._clock.now() + self._idle, info.absolute_expires_at)
        with self._slides_lock:
            known = max(info.idle_expires_at, self._slid.get(info.session_id, info.idle_expires_at))
            if slid - known < _TOUCH_STEP:
                return dataclasses.replace(info, idle_expires_at=known)
            if len(self._slid) >= _MAX_SLIDES_HELD:
                self._slid.clear()  # only saves writes: forgetting costs one write each
            self._slid[info.session_id] = slid
        try:
            with self._engine.begin() as write:
                write.execute(_SLIDE, {"session_id": info.session_id, "idle_expires_at": slid})
        except BaseException:
            with self._slides_lock:  # not written: the next request tries again
                if self._slid.get(info.session_id) == slid:
                    self._slid[info.session_id] = known
            raise
        return dataclasses.replace(info, idle_expires_at=slid)

    def unlock(self, session: SessionInfo, password: str) -> tuple[bool, bool]:
        """Re-check the password of a locked client, no new session.

        Returns (ok, locked_now): a wrong password takes a slot and counts towards the
        lock-out like a failed sign-in, and the lock-out ends the user's sessions.
        """
        slot, admitted = self._take_slot(user_account.c.id == session.user.user_id)
        if slot is None or not admitted:
            verify_password(None, password)
            return False, False
        password_ok, _ = self._check(slot, password, None)
        with serialised(self._engine) as conn:
            return self._finish(
                conn, slot.user.user_id, ok=password_ok, step=None, end_sessions=True
            )

    def revoke(self, session: SessionInfo) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(user_session)
                .where(user_session.c.id == session.session_id)
                .values(revoked_at=self._clock.now())
            )
