"""One user's SQLCipher 4 database: record Bundles opened today, and offline views to report.

Every byte on disk (pages, WAL, temp) is encrypted by SQLCipher under the raw data key;
the key is the first statement run, before anything reads the file. A file that will not
open with the key (corrupt, truncated, foreign, wrong key, older schema) is never trusted:
it is deleted and recreated, with one log line naming only the error class.

Times are wall-clock UTC seconds: an entry must expire after a reboot too, and a
monotonic clock restarts at boot. An entry stamped in the future (clock set back) is
treated as expired, so moving the clock back cannot stretch the time-to-live.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlcipher3

if TYPE_CHECKING:
    from cpdesk.clock import Clock

__all__ = [
    "MAX_ENTRIES",
    "SCHEMA_VERSION",
    "CacheUnavailable",
    "CachedBundle",
    "EncryptedStore",
    "OfflineView",
    "remove_database",
]

MAX_ENTRIES = 500
SCHEMA_VERSION = 1
_SIDE_FILES = ("", "-wal", "-shm", "-journal")

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE entries (
    index_id   TEXT PRIMARY KEY,
    bundle     BLOB NOT NULL,
    fetched_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX entries_fetched ON entries (fetched_at);
CREATE TABLE offline_views (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    index_id  TEXT NOT NULL,
    viewed_at REAL NOT NULL
);
"""


class CacheUnavailable(Exception):
    """The cache cannot be created at all (disk full, read-only folder): run without it."""


@dataclass(frozen=True)
class CachedBundle:
    """A record's Bundle as received from the index, and when it was fetched."""

    index_id: str
    bundle: bytes = field(repr=False)
    fetched_at: dt.datetime


@dataclass(frozen=True)
class OfflineView:
    """A record re-read from the cache while offline, waiting to be reported to the index."""

    id: int
    index_id: str
    viewed_at: dt.datetime


def _stamp(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def remove_database(path: Path) -> None:
    """Delete the database and its WAL, shared-memory and journal files, if present."""
    for suffix in _SIDE_FILES:
        Path(f"{path}{suffix}").unlink(missing_ok=True)


class EncryptedStore:
    """A SQLCipher database for one user, opened with that user's raw 256-bit data key.

    Thread-safe by one lock: the UI's worker threads put and get, a timer sweeps.
    """

    def __init__(
        self,
        path: Path,
        key: bytes,
        clock: Clock,
        ttl_seconds: int,
        key_file: Path | None = None,
    ) -> None:
        if len(key) != 32:
            raise ValueError("the data key must be 256 bits")
        self.path = path
        self._key_file = key_file
        self._clock = clock
        self._ttl = ttl_seconds
        self._lock = threading.Lock()
        self._db: Any = None
        try:
            self._db = self._open(key)
        except sqlcipher3.DatabaseError as exc:
            log.warning("record cache discarded: %s", type(exc).__name__)
            remove_database(path)
            try:
                self._db = self._open(key)
            except sqlcipher3.Error as again:
                remove_database(path)
                raise CacheUnavailable(type(again).__name__) from None
        except (sqlcipher3.Error, OSError) as exc:
            raise CacheUnavailable(type(exc).__name__) from None
        self.sweep()

    def _open(self, key: bytes) -> Any:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        db = sqlcipher3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        try:
            # The key first: nothing may touch the file before SQLCipher knows it.
            db.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
            db.execute("PRAGMA cipher_memory_security = ON")
            db.execute("PRAGMA cipher_log_level = NONE")
            db.execute("PRAGMA temp_store = MEMORY")
            db.execute("PRAGMA secure_delete = ON")
            # Reading the schema proves the key; a wrong key or foreign file raises here.
            version = db.execute("PRAGMA user_version").fetchone()[0]
            tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if tables and version != SCHEMA_VERSION:
                raise sqlcipher3.DatabaseError("schema version")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            if not tables:
                db.executescript(f"BEGIN;{_SCHEMA}PRAGMA user_version = {SCHEMA_VERSION};COMMIT;")
            elif db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise sqlcipher3.DatabaseError("quick_check")
        except BaseException:
            db.close()
            raise
        return db

    @contextlib.contextmanager
    def _tx(self) -> Iterator[Any]:
        with self._lock:
            if self._db is None:
                raise CacheUnavailable("closed")
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- entries --------------------------------------------------------------------------

    def put(self, index_id: str, bundle: bytes) -> None:
        """Keep (or replace) a record's Bundle; evict the oldest beyond MAX_ENTRIES."""
        now = self._clock.wall().timestamp()
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?)",
                (index_id, bundle, now, now + self._ttl),
            )
            db.execute(
                "DELETE FROM entries WHERE index_id IN (SELECT index_id FROM entries "
                "ORDER BY fetched_at DESC, rowid DESC LIMIT -1 OFFSET ?)",
                (MAX_ENTRIES,),
            )

    def get(self, index_id: str) -> CachedBundle | None:
        """The entry if it is still within its time-to-live, else None."""
        now = self._clock.wall().timestamp()
        with self._tx() as db:
            row = db.execute(
                "SELECT bundle, fetched_at FROM entries "
                "WHERE index_id = ? AND expires_at > ? AND fetched_at <= ?",
                (index_id, now, now),
            ).fetchone()
        return None if row is None else CachedBundle(index_id, bytes(row[0]), _stamp(row[1]))

    def recent(self) -> list[CachedBundle]:
        """Every live entry, newest first ("Records you opened today")."""
        now = self._clock.wall().timestamp()
        with self._tx() as db:
            rows = db.execute(
                "SELECT index_id, bundle, fetched_at FROM entries "
                "WHERE expires_at > ? AND fetched_at <= ? ORDER BY fetched_at DESC",
                (now, now),
            ).fetchall()
        return [CachedBundle(r[0], bytes(r[1]), _stamp(r[2])) for r in rows]

    def count(self) -> int:
        with self._tx() as db:
            result: int = db.execute("SELECT count(*) FROM entries").fetchone()[0]
        return result

    def sweep(self) -> int:
        """Delete expired (and future-stamped) entries; how many went."""
        now = self._clock.wall().timestamp()
        with self._tx() as db:
            gone: int = db.execute(
                "DELETE FROM entries WHERE expires_at <= ? OR fetched_at > ?", (now, now)
            ).rowcount
        return gone

    # -- offline views --------------------------------------------------------------------

    def note_offline_view(self, index_id: str) -> None:
        """Queue an offline re-read of a record, with the time it happened."""
        now = self._clock.wall().timestamp()
        with self._tx() as db:
            db.execute(
                "INSERT INTO offline_views (index_id, viewed_at) VALUES (?, ?)", (index_id, now)
            )

    def pending_views(self) -> list[OfflineView]:
        with self._tx() as db:
            rows = db.execute(
                "SELECT id, index_id, viewed_at FROM offline_views ORDER BY id"
            ).fetchall()
        return [OfflineView(r[0], r[1], _stamp(r[2])) for r in rows]

    def views_sent(self, ids: list[int]) -> None:
        """Forget views the index has recorded."""
        with self._tx() as db:
            db.executemany("DELETE FROM offline_views WHERE id = ?", [(i,) for i in ids])

    # -- life -----------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def purge(self) -> None:
        """Crypto-erase: close, delete the wrapped key, the database and its side files."""
        self.close()
        if self._key_file is not None:
            self._key_file.unlink(missing_ok=True)
        remove_database(self.path)
