"""Bearer sessions: opaque random tokens, stored only as SHA-256, with idle and absolute expiry.

Every failure to sign in looks the same to the caller (None), whether the username is
unknown, the password or code wrong, or the account disabled; an unknown username still
costs one Argon2 verification so timing does not tell either.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine, bindparam, insert, select, update

from cpindex.auth.passwords import verify_password, verify_totp
from cpindex.clock import Clock
from cpindex.store.schema import user_account, user_session

__all__ = ["SessionInfo", "SessionStore", "SessionUser", "hash_token"]


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


class SessionStore:
    """Signs users in and checks tokens; the clock is injected so tests move time."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        *,
        idle: dt.timedelta = dt.timedelta(minutes=15),
        absolute: dt.timedelta = dt.timedelta(hours=10),
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._idle = idle
        self._absolute = absolute

    @property
    def idle_timeout_seconds(self) -> int:
        return int(self._idle.total_seconds())

    def _user_by_name(self, username: str) -> tuple[SessionUser, str, str, bool] | None:
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
                ).where(user_account.c.username == username)
            ).first()
        if row is None:
            return None
        return SessionUser(row[0], row[1], row[2], row[3], row[4]), row[5], row[6], bool(row[7])

    def check_credentials(self, username: str, password: str, otp: str) -> SessionUser | None:
        """The user when all three are right and the account is enabled, else None."""
        found = self._user_by_name(username)
        password_ok = verify_password(found[1] if found else None, password)
        if found is None or not password_ok:
            return None
        user, _hash, secret, disabled = found
        if disabled or not verify_totp(secret, otp, at=self._clock.now().timestamp()):
            return None
        return user

    def sign_in(self, username: str, password: str, otp: str) -> tuple[str, SessionInfo] | None:
        """A new token and its session, or None (one answer for every kind of failure)."""
        user = self.check_credentials(username, password, otp)
        if user is None:
            return None
        token = secrets.token_urlsafe(32)
        now = self._clock.now()
        absolute = now + self._absolute
        idle = min(now + self._idle, absolute)
        with self._engine.begin() as conn:
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

    def unlock(self, session: SessionInfo, password: str) -> bool:
        """Re-check the password of the session's user (a locked client), no new session."""
        found = self._user_by_name(session.user.username)
        return verify_password(found[1] if found else None, password) and found is not None

    def revoke(self, session: SessionInfo) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(user_session)
                .where(user_session.c.id == session.session_id)
                .values(revoked_at=self._clock.now())
            )
