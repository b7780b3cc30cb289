"""TOTP secrets sealed at rest with AES-GCM; the key lives in a file outside the store.

A stolen database dump or backup then holds no usable second factor. The key file is
named by `--secret-key-file` / `CPINDEX_SECRET_KEY_FILE`, else `secret.key` in the
user's data folder; `cpindex init` (and `seed`, `user add|reset`, `serve`) make it,
0600 in a 0700 folder, when it is absent and the store holds no sealed secret yet.
A store with sealed secrets and no key file is an error, never a new key.

Stored form: `v1:` + base64url(12-byte nonce + ciphertext + tag), the username as the
associated data so a sealed secret cannot be moved to another account. Plain base32
secrets (from before sealing) are read as they are until `seal_plain_secrets` runs.
"""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path

import platformdirs
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, select, update

from cpindex.store.schema import user_account

__all__ = [
    "KeyFileError",
    "SecretBox",
    "default_key_file",
    "open_secret_box",
    "seal_plain_secrets",
]

_PREFIX = "v1:"
_KEY_BYTES = 32


class KeyFileError(Exception):
    """The key file is missing (with sealed secrets in the store), unreadable or malformed."""


class SecretBox:
    """Seals and opens TOTP secrets; holds the key as bytes, never in its repr."""

    def __init__(self, key: bytes) -> None:
        if len(key) != _KEY_BYTES:
            raise KeyFileError("the secret key must be 32 bytes")
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return "SecretBox(<key hidden>)"

    def seal(self, secret: str, username: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, secret.encode("ascii"), _aad(username))
        return _PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, stored: str, username: str) -> str:
        """The plain secret; raises (cryptography's InvalidTag) on a wrong key or tampering."""
        if not is_sealed(stored):
            return stored
        raw = base64.urlsafe_b64decode(stored[len(_PREFIX) :])
        return self._aead.decrypt(raw[:12], raw[12:], _aad(username)).decode("ascii")


def _aad(username: str) -> bytes:
    return b"cpindex-totp:" + username.encode("utf-8")


def is_sealed(stored: str) -> bool:
    return stored.startswith(_PREFIX)


def open_plain(stored: str) -> str:
    """A store without a key (in-process tests, legacy rows) reads plain secrets only."""
    if is_sealed(stored):
        raise KeyFileError("this TOTP secret is sealed and no key file was given")
    return stored


def default_key_file() -> Path:
    """`CPINDEX_SECRET_KEY_FILE`, else `secret.key` in the user's data folder."""
    named = os.environ.get("CPINDEX_SECRET_KEY_FILE")
    if named:
        return Path(named)
    return Path(platformdirs.user_data_dir("cpindex", appauthor=False)) / "secret.key"


def _store_has_sealed(conn: Connection) -> bool:
    found = conn.scalar(
        select(user_account.c.id).where(user_account.c.totp_secret.like(_PREFIX + "%")).limit(1)
    )
    return found is not None


def _write_new_key(path: Path) -> bytes:
    """A fresh random key, written 0600 (in a 0700 folder when we make the folder).

    Written whole to a private temporary file, then linked into place, so a second
    process never reads half a key; FileExistsError when another was first.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = AESGCM.generate_key(bit_length=256)
    fd, temporary = tempfile.mkstemp(prefix=".secret-", dir=path.parent)  # 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(base64.b64encode(key) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, path)
    finally:
        os.unlink(temporary)
    return key


def open_secret_box(conn: Connection, path: Path | None = None) -> tuple[SecretBox, bool]:
    """The box for the key in `path` (default_key_file()); (box, True) when just made.

    A missing file is made only while the store holds no sealed secret: otherwise a new
    key would silently lock every user out.
    """
    path = path or default_key_file()
    created = False
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        if _store_has_sealed(conn):
            raise KeyFileError(
                f"no secret key file at {path}, but the store holds sealed TOTP secrets: "
                "give the right --secret-key-file"
            ) from None
        try:
            return SecretBox(_write_new_key(path)), True
        except FileExistsError:  # made by another process just now
            raw = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read the secret key file {path}: {exc.strerror}") from None
    try:
        key = base64.b64decode(raw.strip(), validate=True)
    except ValueError:
        raise KeyFileError(f"the secret key file {path} is not a cpindex key") from None
    return SecretBox(key), created


def seal_plain_secrets(conn: Connection, box: SecretBox) -> int:
    """Seal every TOTP secret still stored plain; returns how many. Idempotent."""
    rows = conn.execute(
        select(user_account.c.id, user_account.c.username, user_account.c.totp_secret).where(
            user_account.c.totp_secret.not_like(_PREFIX + "%")
        )
    ).all()
    for user_id, username, secret in rows:
        conn.execute(
            update(user_account)
            .where(user_account.c.id == user_id)
            .values(totp_secret=box.seal(secret, username))
        )
    return len(rows)
