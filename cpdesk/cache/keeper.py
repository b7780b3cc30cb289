"""Opens, unlocks and erases each user's encrypted cache: the app's one door to it.

Two modes, decided once per run by probing the keyring:
- **kept**: a device secret lives in the keyring; each user's data key is wrapped under
  HKDF(device secret, scrypt(password)) in `<name>.key` beside `<name>.db`, so the cache
  outlives the run (offline re-view after a restart, offline sign-in).
- **run-only**: no usable keyring. Data keys live in memory for this run only, files are
  named `run-*` and deleted at start and at exit. Never a plaintext keyring.

File names are an HMAC of the username (keyed by the device secret, or by a per-run key),
so the folder does not list who used the machine. With `cache_enabled` off nothing is
written and the keyring is never touched.

Crypto-erase (sign-out, lock-to-logout, five wrong unlocks, a password that no longer
unwraps) deletes the wrapped key and the database: the pages a disk may keep are noise
without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cpdesk.cache import keys
from cpdesk.cache.base import NullCache, RecordCache
from cpdesk.cache.keyring import KeyringLike, device_secret
from cpdesk.cache.store import CacheUnavailable, EncryptedStore, remove_database

if TYPE_CHECKING:
    from collections.abc import Callable

    from cpdesk.clock import Clock

__all__ = [
    "MAX_WRONG_PASSWORDS",
    "CacheKeeper",
    "NoOfflineCache",
    "WrongPassword",
    "default_folder",
]

MAX_WRONG_PASSWORDS = 5
_RUN_PREFIX = "run-"
WrongPassword = keys.WrongPassword

log = logging.getLogger(__name__)


def default_folder() -> Path:
    """The user cache folder (platformdirs), e.g. ~/.cache/cpdesk/records on Linux."""
    import platformdirs

    return platformdirs.user_cache_path("cpdesk") / "records"


class NoOfflineCache(Exception):
    """Offline sign-in asked for a user with no kept cache on this device."""


@dataclass(frozen=True)
class _Paths:
    db: Path
    key: Path


class CacheKeeper:
    """Per-user caches in `folder`; the keyring is probed at the first open, not before.

    Args:
        keyring: a callable returning the OS keyring (or None); called at most once.
    """

    def __init__(
        self,
        folder: Path,
        keyring: Callable[[], KeyringLike | None],
        clock: Clock,
        *,
        enabled: bool,
        ttl_seconds: int,
        cost: keys.ScryptCost | None = None,
    ) -> None:
        self.folder = folder
        self._keyring = keyring
        self._clock = clock
        self.enabled = enabled
        self._ttl = ttl_seconds
        self._cost = cost or keys.ScryptCost()
        self._lock = threading.Lock()
        self._decided = False
        self._secret: bytes | None = None
        self._run_name_key = secrets.token_bytes(32)
        self._run_keys: dict[str, bytes] = {}
        if enabled:
            self._remove_run_files()

    # -- mode -----------------------------------------------------------------------------

    def _device_secret(self) -> bytes | None:
        with self._lock:
            if not self._decided:
                self._secret = device_secret(self._keyring())
                self._decided = True
                log.info("record cache mode: %s", "kept" if self._secret else "run-only")
            return self._secret

    @property
    def kept(self) -> bool:
        """True when caches outlive the run (a usable keyring holds the device secret)."""
        return self.enabled and self._device_secret() is not None

    def _paths(self, username: str) -> _Paths:
        secret = self._device_secret()
        name_key = secret if secret is not None else self._run_name_key
        tag = hmac.new(name_key, b"cpdesk cache name\0" + _norm(username), hashlib.sha256)
        stem = tag.hexdigest()[:40]
        if secret is None:
            stem = _RUN_PREFIX + stem
        return _Paths(self.folder / f"{stem}.db", self.folder / f"{stem}.key")

    # -- opening --------------------------------------------------------------------------

    def open_signed_in(self, username: str, password: str) -> RecordCache:
        """The user's cache after the index accepted `password` (sign-in or unlock).

        A wrapped key the password does not open means the password changed on the server
        (or the device secret was replaced): that cache is erased and a new one begun.
        """
        if not self.enabled:
            return NullCache()
        paths = self._paths(username)
        secret = self._device_secret()
        if secret is None:
            data_key = self._run_keys.setdefault(_norm(username).hex(), keys.new_data_key())
            return self._store(paths, data_key)
        try:
            data_key = self._kept_key(paths, secret, password)
        except OSError as exc:
            log.warning("record cache unavailable: %s", type(exc).__name__)
            return NullCache()
        return self._store(paths, data_key)

    def _kept_key(self, paths: _Paths, secret: bytes, password: str) -> bytes:
        binding = paths.key.name.encode()
        try:
            wrapped = keys.read_wrapped(paths.key)
        except keys.KeyFileError:
            wrapped = None
        if wrapped is not None:
            try:
                data_key = keys.unwrap(wrapped, secret, password, binding)
            except keys.WrongPassword:
                log.warning("record cache key no longer opens; erasing it")
            else:
                if wrapped.failures:
                    self._write_key(paths, wrapped.with_failures(0))
                return data_key
        data_key = keys.new_data_key()
        self._erase_paths(paths)
        self._write_key(paths, keys.wrap(data_key, secret, password, binding, self._cost))
        return data_key

    def open_offline(self, username: str, password: str) -> RecordCache:
        """The user's kept cache, the password proven only by unwrapping its key.

        Raises WrongPassword (the fifth in a row erases the cache) or NoOfflineCache.
        """
        secret = self._device_secret() if self.enabled else None
        if secret is None:
            raise NoOfflineCache()
        paths = self._paths(username)
        try:
            wrapped = keys.read_wrapped(paths.key)
        except keys.KeyFileError:
            wrapped = None
        if wrapped is None or not paths.db.exists():
            raise NoOfflineCache()
        try:
            data_key = keys.unwrap(wrapped, secret, password, paths.key.name.encode())
        except keys.WrongPassword:
            failures = wrapped.failures + 1
            if failures >= MAX_WRONG_PASSWORDS:
                log.warning("record cache erased after %d wrong passwords", failures)
                self._erase_paths(paths)
            else:
                self._write_key(paths, wrapped.with_failures(failures))
            raise
        if wrapped.failures:
            self._write_key(paths, wrapped.with_failures(0))
        return self._store(paths, data_key)

    def _store(self, paths: _Paths, data_key: bytes) -> RecordCache:
        try:
            return EncryptedStore(paths.db, data_key, self._clock, self._ttl, paths.key)
        except CacheUnavailable as exc:
            log.warning("record cache unavailable: %s", exc)
            return NullCache()

    def _write_key(self, paths: _Paths, wrapped: keys.WrappedKey) -> None:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        keys.write_atomic(paths.key, wrapped.to_json())

    # -- erasing --------------------------------------------------------------------------

    def erase(self, username: str) -> None:
        """Crypto-erase one user's cache (sign-out, lock-to-logout, five wrong unlocks)."""
        if not self.enabled:
            return
        paths = self._paths(username)
        self._run_keys.pop(_norm(username).hex(), None)
        self._erase_paths(paths)

    def _erase_paths(self, paths: _Paths) -> None:
        paths.key.unlink(missing_ok=True)
        remove_database(paths.db)

    def _remove_run_files(self) -> None:
        if self.folder.is_dir():
            for path in self.folder.glob(_RUN_PREFIX + "*"):
                path.unlink(missing_ok=True)

    def shutdown(self) -> None:
        """At exit: run-only caches go; kept ones stay until their owner signs out."""
        self._run_keys.clear()
        if self.enabled:
            self._remove_run_files()


def _norm(username: str) -> bytes:
    return username.strip().casefold().encode("utf-8")
