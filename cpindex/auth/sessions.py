"""Bearer sessions: opaque random tokens, stored only as SHA-256, with idle and absolute expiry.

Every failure to sign in looks the same to the caller (None), whether the username is
unknown, the password or code wrong, the account disabled or locked out; an unknown
username still costs one Argon2 verification so timing does not tell either.

Lock-out: `lockout_failures` wrong sign-ins (or wrong unlock passwords) in a row lock the
account for `lockout_minutes`; the count and the lock live in user_account, so every
server process on the database sees them. Only the audit log tells the attempts apart.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, bindparam, insert, select, update

from cpindex.auth.passwords import verify_password, verify_totp
from cpindex.clock import Clock
from cpindex.store.db import serialised
from cpindex.store.schema import user_account, user_session

__all__ = ["Attempt", "SessionInfo", "SessionStore", "SessionUser", "hash_token"]


# The idle expiry is rewritten only when it would move by this much, so a burst of calls
# costs one write, not one each; the expiry reported is always the stored one.
_TOUCH_STEP = dt.timedelta(seconds=10)


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
    """What a sign-in came to. `failure`: None, "credentials", "locked" or "locked-now"
    (this failure locked the account). The caller answers all failures alike."""

    token: str | None
    info: SessionInfo | None
    failure: str | None
    user: SessionUser | None = None


@dataclass(frozen=True)
class _Found:
    user: SessionUser
    password_hash: str
    totp_secret: str
    disabled: bool
    locked_until: dt.datetime | None


class SessionStore:
    """Signs users in and checks tokens; the clock is injected so tests move time."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        *,
        idle: dt.timedelta = dt.timedelta(minutes=15),
        absolute: dt.timedelta = dt.timedelta(hours=10),
        lockout_failures: int = 5,
        lockout: dt.timedelta = dt.timedelta(minutes=15),
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._idle = idle
        self._absolute = absolute
        self._lockout_failures = max(1, lockout_failures)
        self._lockout = lockout

    @property
    def idle_timeout_seconds(self) -> int:
        return int(self._idle.total_seconds())

    def _user_by_name(self, username: str) -> _Found | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(
                    user_account.c.id,
                    user_account.c.username,
                    user_account.c.display_name,
                    user_account.c.role,
                    user_account.c.organisation,
                    user_account.c.password_hash,
                    user_account.c.totp_secret,
                    user_account.c.disabled,
                    user_account.c.locked_until,
                ).where(user_account.c.username == username)
            ).first()
        if row is None:
            return None
        user = SessionUser(row[0], row[1], row[2], row[3], row[4])
        return _Found(user, row[5], row[6], bool(row[7]), row[8])

    def _locked(self, found: _Found) -> bool:
        return found.locked_until is not None and self._clock.now() < found.locked_until

    def check_credentials(self, username: str, password: str, otp: str) -> SessionUser | None:
        """The user when all three are right and the account is enabled, else None."""
        found = self._user_by_name(username)
        password_ok = verify_password(found.password_hash if found else None, password)
        if found is None or not password_ok or found.disabled:
            return None
        if not verify_totp(found.totp_secret, otp, at=self._clock.now().timestamp()):
            return None
        return found.user

    def attempt(self, username: str, password: str, otp: str) -> Attempt:
        """Sign in, counting failures towards the lock-out of an existing account."""
        found = self._user_by_name(username)
        password_ok = verify_password(found.password_hash if found else None, password)
        if found is None:
            return Attempt(None, None, "credentials")
        if self._locked(found):
            return Attempt(None, None, "locked", found.user)
        now = self._clock.now()
        ok = (
            password_ok
            and not found.disabled
            and verify_totp(found.totp_secret, otp, at=now.timestamp())
        )
        if not ok:
            locked_now = self.register_failure(found.user.user_id)
            return Attempt(None, None, "locked-now" if locked_now else "credentials", found.user)
        token, info = self._open_session(found.user)
        return Attempt(token, info, None, found.user)

    def register_failure(self, user_id: int, *, end_sessions: bool = False) -> bool:
        """Count one failure; True when it locks the account (the count starts again).

        `end_sessions`: the lock-out also revokes the user's sessions (wrong unlock
        passwords come from the session's holder; wrong sign-ins may come from anyone,
        and must not throw the real user out).
        """
        now = self._clock.now()
        with serialised(self._engine) as conn:
            return self._count_failure(conn, user_id, now, end_sessions)

    def _count_failure(
        self, conn: Connection, user_id: int, now: dt.datetime, end_sessions: bool
    ) -> bool:
        row = conn.execute(
            select(user_account.c.failed_count, user_account.c.locked_until)
            .where(user_account.c.id == user_id)
            .with_for_update()
        ).one()
        if row[1] is not None and now < row[1]:
            return False
        failures = int(row[0] or 0) + 1
        if failures >= self._lockout_failures:
            conn.execute(
                update(user_account)
                .where(user_account.c.id == user_id)
                .values(failed_count=0, locked_until=now + self._lockout)
            )
            if end_sessions:
                conn.execute(
                    update(user_session)
                    .where(user_session.c.user_id == user_id, user_session.c.revoked_at.is_(None))
                    .values(revoked_at=now)
                )
            return True
        conn.execute(
            update(user_account).where(user_account.c.id == user_id).values(failed_count=failures)
        )
        return False

    def sign_in(self, username: str, password: str, otp: str) -> tuple[str, SessionInfo] | None:
        """A new token and its session, or None (one answer for every kind of failure)."""
        result = self.attempt(username, password, otp)
        if result.token is None or result.info is None:
            return None
        return result.token, result.info

    def _open_session(self, user: SessionUser) -> tuple[str, SessionInfo]:
        token = secrets.token_urlsafe(32)
        now = self._clock.now()
        absolute = now + self._absolute
        idle = min(now + self._idle, absolute)
        with self._engine.begin() as conn:
            conn.execute(
                update(user_account)
                .where(user_account.c.id == user.user_id, user_account.c.failed_count != 0)
                .values(failed_count=0)
            )
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

    def authenticate(self, token: str, *, touch: bool = True) -> SessionInfo | None:
        """The live session for `token` (sliding its idle expiry), or None."""
        if not token or len(token) > 200:
            return None
        now = self._clock.now()
        with self._engine.begin() as conn:
            row = conn.execute(_BY_TOKEN, {"token_hash": hash_token(token)}).first()
            if row is None or row[3] is not None or bool(row[9]):
                return None
            idle_at, absolute_at = row[1], row[2]
            if now >= idle_at or now >= absolute_at:
                return None
            slid = min(now + self._idle, absolute_at)
            if touch and slid - idle_at >= _TOUCH_STEP:
                idle_at = slid
                conn.execute(_SLIDE, {"session_id": row[0], "idle_expires_at": idle_at})
        user = SessionUser(row[4], row[5], row[6], row[7], row[8])
        return SessionInfo(row[0], user, idle_at, absolute_at, self.idle_timeout_seconds)

    def unlock(self, session: SessionInfo, password: str) -> tuple[bool, bool]:
        """Re-check the password of a locked client, no new session.

        Returns (ok, locked_now): a wrong password counts towards the lock-out like a
        failed sign-in, and the lock-out ends the user's sessions.
        """
        found = self._user_by_name(session.user.username)
        ok = verify_password(found.password_hash if found else None, password)
        if found is None:
            return False, False
        if self._locked(found) or found.disabled:
            return False, False
        if ok:
            return True, False
        return False, self.register_failure(found.user.user_id, end_sessions=True)

    def revoke(self, session: SessionInfo) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(user_session)
                .where(user_session.c.id == session.session_id)
                .values(revoked_at=self._clock.now())
            )
