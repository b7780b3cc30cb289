"""Argon2id password hashing and RFC 6238 TOTP checks (both from libraries: argon2-cffi, pyotp)."""

from __future__ import annotations

import datetime as dt
import re
import time

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = [
    "hash_password",
    "new_totp_secret",
    "provisioning_uri",
    "totp_step",
    "verify_password",
    "verify_totp",
]

_HASHER = PasswordHasher()  # Argon2id with the library's current recommended parameters
# Verified against when the username is unknown, so the answer takes as long either way.
_DUMMY_HASH = _HASHER.hash("cpindex-dummy-password-never-valid")
_CODE = re.compile(r"[0-9]{6}", re.ASCII)


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when `password` matches; with no stored hash it still spends the same time."""
    try:
        return _HASHER.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_totp_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str) -> str:
    return str(pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name="cpindex"))


def totp_step(secret: str, code: str, *, at: float | None = None) -> int | None:
    """The time step a 6-digit code belongs to (now or one step either side), or None.

    Only ASCII digits count: other scripts' digits pass `str.isdigit()` and pyotp folds
    them (NFKC), which would turn them into a second spelling of the same code.
    """
    code = code.strip(" ")
    if not _CODE.fullmatch(code):
        return None
    totp = pyotp.TOTP(secret)
    moment = dt.datetime.fromtimestamp(at if at is not None else time.time(), dt.UTC)
    for drift in (-1, 0, 1):
        when = moment + dt.timedelta(seconds=drift * totp.interval)
        if totp.verify(code, for_time=when):
            return int(totp.timecode(when))
    return None


def verify_totp(secret: str, code: str, *, at: float | None = None) -> bool:
    """A 6-digit code for now or the 30-second step either side (clock drift)."""
    return totp_step(secret, code, at=at) is not None
