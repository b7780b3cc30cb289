"""Argon2id password hashing and RFC 6238 TOTP checks (both from libraries)."""

from __future__ import annotations

import hmac
import time

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["hash_password", "new_totp_secret", "provisioning_uri", "verify_password", "verify_totp"]

_HASHER = PasswordHasher()  # Argon2id with the library's current recommended parameters
# Verified against when the username is unknown, so the answer takes as long either way.
_DUMMY_HASH = _HASHER.hash("cpindex-dummy-password-never-valid")


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


def verify_totp(secret: str, code: str, *, at: float | None = None) -> bool:
    """A 6-digit code for now or the 30-second step either side (clock drift)."""
    code = code.strip()
    if len(code) != 6 or not code.isdigit():
        return False
    totp = pyotp.TOTP(secret)
    for drift in (-1, 0, 1):
        moment = (at if at is not None else time.time()) + drift * totp.interval
        if hmac.compare_digest(totp.at(int(moment)), code):
            return True
    return False
