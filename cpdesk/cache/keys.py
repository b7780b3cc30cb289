"""Two-factor key wrapping: a user's data key opens only with the device secret AND the password.

The data key (random, 256-bit) is what SQLCipher uses. It is stored only wrapped with
AES-256-GCM under a key-encryption key = HKDF(device secret, scrypt(password, salt)), so
a lost disk (no keyring) opens nothing and the next person on a shared OS login (keyring,
no password) opens nothing. scrypt makes each password guess cost ~0.1 s; the device
secret makes guessing impossible without the keyring.

The wrapped-key file sits beside the database, written atomically with mode 0600. It holds
the salt, the scrypt cost, the nonce, the ciphertext and a wrong-password counter for
offline sign-in; never the password.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

__all__ = [
    "KEY_BYTES",
    "SCRYPT_N",
    "KeyFileError",
    "ScryptCost",
    "WrappedKey",
    "WrongPassword",
    "new_data_key",
    "read_wrapped",
    "unwrap",
    "wrap",
    "write_atomic",
]

KEY_BYTES = 32
# 2**14 x r=8 (16 MiB): ~75 ms of CPU on the 2-core build machine, ~230 ms of wall time
# there under a load average of 14 (benchmarks/cache.py): inside the 50-250 ms the design
# asks for either way, and paid only at sign-in and unlock, off the GUI thread.
SCRYPT_N = 2**14
_FORMAT = 1
_INFO = b"cpdesk cache key-encryption key v1"


class WrongPassword(Exception):
    """The password (or the device secret) does not unwrap this data key."""


class KeyFileError(Exception):
    """The wrapped-key file is missing fields or not ours: treat as no key at all."""


@dataclass(frozen=True)
class ScryptCost:
    """scrypt's cost, kept in the file so it can rise later without breaking old files."""

    n: int = SCRYPT_N
    r: int = 8
    p: int = 1


@dataclass(frozen=True)
class WrappedKey:
    """A data key as stored: salt, cost, nonce, AES-GCM ciphertext and failed tries."""

    salt: bytes = b""
    cost: ScryptCost = ScryptCost()
    nonce: bytes = b""
    ciphertext: bytes = b""
    failures: int = 0

    def to_json(self) -> bytes:
        def b64(data: bytes) -> str:
            return base64.b64encode(data).decode("ascii")

        doc = {
            "format": _FORMAT,
            "salt": b64(self.salt),
            "scrypt": {"n": self.cost.n, "r": self.cost.r, "p": self.cost.p},
            "nonce": b64(self.nonce),
            "ciphertext": b64(self.ciphertext),
            "failures": self.failures,
        }
        return json.dumps(doc, sort_keys=True).encode("ascii")

    def with_failures(self, failures: int) -> WrappedKey:
        return replace(self, failures=failures)


def new_data_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def _kek(device_secret: bytes, password: str, salt: bytes, cost: ScryptCost) -> bytes:
    stretched = Scrypt(salt=salt, length=KEY_BYTES, n=cost.n, r=cost.r, p=cost.p).derive(
        password.encode("utf-8")
    )
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, info=_INFO).derive(
        stretched + device_secret
    )


def wrap(
    data_key: bytes,
    device_secret: bytes,
    password: str,
    binding: bytes,
    cost: ScryptCost | None = None,
) -> WrappedKey:
    """Wrap `data_key` under a fresh salt; `binding` (the file's name) is authenticated too."""
    cost = cost or ScryptCost()
    salt = secrets.token_bytes(16)
    nonce = secrets.token_bytes(12)
    kek = _kek(device_secret, password, salt, cost)
    ciphertext = AESGCM(kek).encrypt(nonce, data_key, binding)
    return WrappedKey(salt, cost, nonce, ciphertext)


def unwrap(wrapped: WrappedKey, device_secret: bytes, password: str, binding: bytes) -> bytes:
    """The data key, or WrongPassword when password, device secret or binding differ."""
    kek = _kek(device_secret, password, wrapped.salt, wrapped.cost)
    try:
        return AESGCM(kek).decrypt(wrapped.nonce, wrapped.ciphertext, binding)
    except InvalidTag:
        raise WrongPassword() from None


def read_wrapped(path: Path) -> WrappedKey | None:
    """The wrapped key in `path`; None when there is none; KeyFileError when it is not ours."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        doc = json.loads(raw)
        if doc["format"] != _FORMAT:
            raise KeyFileError("unknown format")
        cost = ScryptCost(int(doc["scrypt"]["n"]), int(doc["scrypt"]["r"]), int(doc["scrypt"]["p"]))
        return WrappedKey(
            base64.b64decode(doc["salt"], validate=True),
            cost,
            base64.b64decode(doc["nonce"], validate=True),
            base64.b64decode(doc["ciphertext"], validate=True),
            int(doc["failures"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise KeyFileError(type(exc).__name__) from None


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` with mode 0600: temp file first, fsync, then replace.

    mkstemp creates the file 0600 before a byte is written, so no window is readable.
    """
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
