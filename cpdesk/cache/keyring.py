"""The device secret in the OS keyring, or none when the keyring cannot be trusted with it.

Usability is decided by a set/get/delete probe, never by the backend's type: a Secret
Service daemon that is locked still reports itself as SecretService but every write fails.
Plaintext and "fail" backends are refused outright, so the secret never lands in a file
readable by anyone with the disk. No secret → the cache runs for one run only.
"""

from __future__ import annotations

import base64
import logging
import secrets
from typing import Protocol

__all__ = ["SERVICE", "KeyringLike", "device_secret", "system_keyring"]

SERVICE = "cpdesk"
_ENTRY = "device-secret"
_PROBE = "probe"
_SECRET_BYTES = 32
# Backends that keep secrets in plain or trivially reversible files, or keep nothing.
_REFUSED_MODULES = ("keyring.backends.fail", "keyrings.alt", "keyring.backends.null")

log = logging.getLogger(__name__)


class KeyringLike(Protocol):
    """The slice of the `keyring` API we use (a `keyring.backend.KeyringBackend`)."""

    def get_password(self, service: str, username: str) -> str | None: ...

    def set_password(self, service: str, username: str, password: str) -> None: ...

    def delete_password(self, service: str, username: str) -> None: ...


def system_keyring() -> KeyringLike | None:
    """The OS keyring backend, or None when only a refused backend is on offer."""
    import keyring

    backend = keyring.get_keyring()
    if _refused(backend):
        return None
    result: KeyringLike = backend
    return result


def _refused(backend: object) -> bool:
    module = type(backend).__module__
    if module.startswith(_REFUSED_MODULES):
        return True
    # keyring's ChainerBackend wraps the real ones: refuse if every inner one is refused.
    inner = getattr(backend, "backends", None)
    if isinstance(inner, list | tuple):
        return all(_refused(b) for b in inner)
    return False


def _usable(ring: KeyringLike) -> bool:
    """Set, read back and delete a random value: only a keyring that does all three is used."""
    value = secrets.token_urlsafe(16)
    try:
        ring.set_password(SERVICE, _PROBE, value)
        ok = ring.get_password(SERVICE, _PROBE) == value
        ring.delete_password(SERVICE, _PROBE)
    except Exception as exc:
        log.info("keyring not usable: %s", type(exc).__name__)
        return False
    return ok


def device_secret(ring: KeyringLike | None) -> bytes | None:
    """This device's 256-bit secret, created on first use; None when the keyring is unusable."""
    if ring is None or _refused(ring) or not _usable(ring):
        return None
    try:
        stored = ring.get_password(SERVICE, _ENTRY)
        secret = _decode(stored)
        if secret is None:
            if stored is not None:
                log.warning("device secret malformed; replacing it")
            secret = secrets.token_bytes(_SECRET_BYTES)
            ring.set_password(SERVICE, _ENTRY, base64.b64encode(secret).decode("ascii"))
            if _decode(ring.get_password(SERVICE, _ENTRY)) != secret:
                return None
    except Exception as exc:
        log.info("keyring not usable: %s", type(exc).__name__)
        return None
    return secret


def _decode(stored: str | None) -> bytes | None:
    if stored is None:
        return None
    try:
        secret = base64.b64decode(stored, validate=True)
    except ValueError:
        return None
    return secret if len(secret) == _SECRET_BYTES else None
