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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

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

T = TypeVar("T")

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
CREATE INDEX entries_expires ON entries (expires_at);
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

    Thread-safe by one lock: the UI's worker threads put and get, a timer sweeps. Never
    raises once open: a damaged page met later (SQLCipher checks each page's HMAC when it
    reads it) discards the file and starts again; a full disk logs and reads as a miss.
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
        self._key = key
        self._key_file = key_file
        self._clock = clock
        self._ttl = ttl_seconds
        self._lock = threading.Lock()
        self._db: Any = None
        with self._lock:
            self._open_or_recreate()
        self.sweep()

    def _open_or_recreate(self) -> None:
        try:
            self._db = self._open()
        except sqlcipher3.DatabaseError as exc:
            log.warning("record cache discarded: %s", type(exc).__name__)
            self._recreate()
        except (sqlcipher3.Error, OSError) as exc:
            raise CacheUnavailable(type(exc).__name__) from None

    def _recreate(self) -> None:
        remove_database(self.path)
        try:
            self._db = self._open()
        except sqlcipher3.Error as again:
            remove_database(self.path)
            raise CacheUnavailable(type(again).__name__) from None

    def _open(self) -> Any:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        db = sqlcipher3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        try:
            # The key first: nothing may touch the file before SQLCipher knows it.
            db.execute(f"PRAGMA key = \"x'{self._key.hex()}'\"")
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
        except BaseException:
            db.close()
            raise
        return db

    def _run(self, work: Callable[[Any], T], default: T, *, write: bool = False) -> T:
        """Run `work` on the connection under the lock; a write in one transaction."""
        with self._lock:
            if self._db is None:
                return default
            db = self._db
            try:
                if not write:
                    return work(db)
                db.execute("BEGIN IMMEDIATE")
                try:
                    result = work(db)
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
                return result
            except sqlcipher3.Error as exc:
                self._failed(exc)
                return default

    def _failed(self, exc: Exception) -> None:
        """A damaged page discards the file (one log line); anything else is logged."""
        if type(exc) is sqlcipher3.DatabaseError:
            log.warning("record cache discarded: %s", type(exc).__name__)
            self._db.close()
            self._db = None
            with contextlib.suppress(CacheUnavailable):
                self._recreate()
        else:
            log.warning("record cache not used: %s", type(exc).__name__)

    # -- entries --------------------------------------------------------------------------

    def put(self, index_id: str, bundle: bytes) -> None:
        """Keep (or replace) a record's Bundle; evict the oldest beyond MAX_ENTRIES."""
        now = self._clock.wall().timestamp()

        def work(db: Any) -> None:
            db.execute(
                "INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?)",
                (index_id, bundle, now, now + self._ttl),
            )
            db.execute(
                "DELETE FROM entries WHERE index_id IN (SELECT index_id FROM entries "
                "ORDER BY fetched_at DESC, rowid DESC LIMIT -1 OFFSET ?)",
                (MAX_ENTRIES,),
            )

        self._run(work, None, write=True)

    def get(self, index_id: str) -> CachedBundle | None:
        """The entry if it is still within its time-to-live, else None."""
        now = self._clock.wall().timestamp()

        def work(db: Any) -> CachedBundle | None:
            row = db.execute(
                "SELECT bundle, fetched_at FROM entries "
                "WHERE index_id = ? AND expires_at > ? AND fetched_at <= ?",
                (index_id, now, now),
            ).fetchone()
            return None if row is None else CachedBundle(index_id, bytes(row[0]), _stamp(row[1]))

        return self._run(work, None)

    def recent(self) -> list[CachedBundle]:
        """Every live entry, newest first ("Records you opened today")."""
        now = self._clock.wall().timestamp()

        def work(db: Any) -> list[CachedBundle]:
            rows = db.execute(
                "SELECT index_id, bundle, fetched_at FROM entries "
                "WHERE expires_at > ? AND fetched_at <= ? ORDER BY fetched_at DESC",
                (now, now),
            ).fetchall()
            return [CachedBundle(r[0], bytes(r[1]), _stamp(r[2])) for r in rows]

        return self._run(work, [])

    def count(self) -> int:
        return self._run(
            lambda db: int(db.execute("SELECT count(*) FROM entries").fetchone()[0]), 0
        )

    def sweep(self) -> int:
        """Delete expired (and future-stamped) entries; how many went. Indexed: no full scan."""
        now = self._clock.wall().timestamp()

        def work(db: Any) -> int:
            old = db.execute("DELETE FROM entries WHERE expires_at <= ?", (now,)).rowcount
            ahead = db.execute("DELETE FROM entries WHERE fetched_at > ?", (now,)).rowcount
            return int(old + ahead)

        return self._run(work, 0, write=True)

    # -- offline views --------------------------------------------------------------------

    def note_offline_view(self, index_id: str) -> None:
        """Queue an offline re-read of a record, with the time it happened."""
        now = self._clock.wall().timestamp()
        self._run(
            lambda db: db.execute(
                "INSERT INTO offline_views (index_id, viewed_at) VALUES (?, ?)", (index_id, now)
            ),
            None,
            write=True,
        )

    def pending_views(self) -> list[OfflineView]:
        def work(db: Any) -> list[OfflineView]:
            rows = db.execute(
                "SELECT id, index_id, viewed_at FROM offline_views ORDER BY id"
            ).fetchall()
            return [OfflineView(r[0], r[1], _stamp(r[2])) for r in rows]

        return self._run(work, [])

    def views_sent(self, ids: list[int]) -> None:
        """Forget views the index has recorded."""
        self._run(
            lambda db: db.executemany(
                "DELETE FROM offline_views WHERE id = ?", [(i,) for i in ids]
            ),
            None,
            write=True,
        )

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
