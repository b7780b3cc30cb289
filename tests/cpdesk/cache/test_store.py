"""EncryptedStore: entries, time-to-live, eviction, offline-view queue, and bad files."""

from __future__ import annotations

import logging
import os
import secrets
import sqlite3
from pathlib import Path

import pytest
import sqlcipher3

from cpdesk.cache.store import (
    MAX_ENTRIES,
    CachedBundle,
    CacheUnavailable,
    EncryptedStore,
    remove_database,
)
from cpdesk.clock import FakeClock
from tests.cpdesk.cache.helpers import CANARY, canary_bundle, needles, scan

TTL = 8 * 3600


@pytest.fixture
def key() -> bytes:
    return secrets.token_bytes(32)


def open_store(
    path: Path, key: bytes, clock: FakeClock, key_file: Path | None = None
) -> EncryptedStore:
    return EncryptedStore(path, key, clock, TTL, key_file)


def test_put_then_get_returns_the_bundle_as_received(tmp_path: Path, key: bytes) -> None:
    clock = FakeClock()
    store = open_store(tmp_path / "u.db", key, clock)
    store.put("c-1", canary_bundle())
    got = store.get("c-1")
    assert got == CachedBundle("c-1", canary_bundle(), clock.wall())
    assert CANARY["family"] not in repr(got)
    assert store.get("c-2") is None
    store.close()


def test_fresh_fetch_replaces_the_entry(tmp_path: Path, key: bytes) -> None:
    clock = FakeClock()
    store = open_store(tmp_path / "u.db", key, clock)
    store.put("c-1", b"old")
    clock.advance(60)
    store.put("c-1", b"new")
    got = store.get("c-1")
    assert got is not None and got.bundle == b"new" and got.fetched_at == clock.wall()
    assert store.count() == 1


def test_expired_entries_are_never_returned_and_are_swept(tmp_path: Path, key: bytes) -> None:
    clock = FakeClock()
    store = open_store(tmp_path / "u.db", key, clock)
    store.put("c-1", b"a")
    clock.advance(TTL - 1)
    store.put("c-2", b"b")
    assert store.get("c-1") is not None
    clock.advance(1)
    assert store.get("c-1") is None
    assert [e.index_id for e in store.recent()] == ["c-2"]
    assert store.count() == 2
    assert store.sweep() == 1
    assert store.count() == 1


def test_expired_entries_are_deleted_at_open(tmp_path: Path, key: bytes) -> None:
    clock = FakeClock()
    store = open_store(tmp_path / "u.db", key, clock)
    store.put("c-1", b"a")
    store.close()
    clock.advance(TTL)
    store = open_store(tmp_path / "u.db", key, clock)
    assert store.count() == 0


def test_clock_set_back_cannot_stretch_the_ttl(tmp_path: Path, key: bytes) -> None:
    clock = FakeClock()
    store = open_store(tmp_path / "u.db", key, clock)
    store.put("c-1", b"a")
    clock.advance(-60)
    assert store.get("c-1") is None
    assert store.recent() == []


def test_recent_is_newest_first(tmp_path: Path, key: bytes) -> None:
    clock = FakeClock()
    store = open_store(tmp_path / "u.db", key, clock)
    for name in ("c-1", "c-2", "c-3"):
        store.put(name, name.encode())
        clock.advance(1)
    assert [e.index_id for e in store.recent()] == ["c-3", "c-2", "c-1"]


def test_at_most_500_entries_oldest_evicted(tmp_path: Path, key: bytes) -> None:
    clock = FakeClock()
    store = open_store(tmp_path / "u.db", key, clock)
    for i in range(MAX_ENTRIES + 3):
        store.put(f"c-{i}", b"x")
        clock.advance(1)
    assert store.count() == MAX_ENTRIES
    assert store.get("c-0") is None and store.get("c-2") is None
    assert store.get("c-3") is not None and store.get(f"c-{MAX_ENTRIES + 2}") is not None


def test_offline_views_queue_with_their_times(tmp_path: Path, key: bytes) -> None:
    clock = FakeClock()
    store = open_store(tmp_path / "u.db", key, clock)
    store.note_offline_view("c-1")
    first = clock.wall()
    clock.advance(90)
    store.note_offline_view("c-2")
    store.close()
    store = open_store(tmp_path / "u.db", key, clock)
    views = store.pending_views()
    assert [(v.index_id, v.viewed_at) for v in views] == [("c-1", first), ("c-2", clock.wall())]
    store.views_sent([views[0].id])
    assert [v.index_id for v in store.pending_views()] == ["c-2"]


def test_plain_sqlite3_cannot_open_the_file(tmp_path: Path, key: bytes) -> None:
    store = open_store(tmp_path / "u.db", key, FakeClock())
    store.put("c-1", canary_bundle())
    store.close()
    with pytest.raises(sqlite3.DatabaseError, match="not a database"):
        sqlite3.connect(tmp_path / "u.db").execute("SELECT * FROM sqlite_master").fetchall()


def test_no_child_data_in_any_file_while_open_and_after(tmp_path: Path, key: bytes) -> None:
    store = open_store(tmp_path / "u.db", key, FakeClock())
    for i in range(20):
        store.put(f"c-{i}", canary_bundle(f"c-{i}"))
    assert len(list(tmp_path.iterdir())) == 3  # db, WAL, shared memory
    assert scan([tmp_path], needles()) == []
    store.close()
    assert scan([tmp_path], needles()) == []
    (tmp_path / "copy.json").write_bytes(canary_bundle())
    assert scan([tmp_path], needles())  # the scan can fail


def test_purge_deletes_database_side_files_and_key_file(tmp_path: Path, key: bytes) -> None:
    key_file = tmp_path / "u.key"
    key_file.write_bytes(b"wrapped")
    store = open_store(tmp_path / "u.db", key, FakeClock(), key_file)
    store.put("c-1", b"x")
    store.purge()
    assert list(tmp_path.iterdir()) == []
    assert store.get("c-1") is None and store.recent() == []  # a stale handle: misses
    store.put("c-1", b"x")
    assert list(tmp_path.iterdir()) == []
    store.close()


def test_purge_without_key_file(tmp_path: Path, key: bytes) -> None:
    store = open_store(tmp_path / "u.db", key, FakeClock())
    store.purge()
    assert list(tmp_path.iterdir()) == []


def test_key_must_be_256_bits(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="256 bits"):
        EncryptedStore(tmp_path / "u.db", b"short", FakeClock(), TTL)


def _discarded(path: Path, key: bytes, caplog: pytest.LogCaptureFixture) -> EncryptedStore:
    with caplog.at_level(logging.WARNING, logger="cpdesk.cache.store"):
        store = open_store(path, key, FakeClock())
    lines = [r for r in caplog.records if r.name == "cpdesk.cache.store"]
    assert len(lines) == 1 and "discarded" in lines[0].getMessage()
    assert store.count() == 0
    store.put("c-1", b"works on")
    assert store.get("c-1") is not None
    return store


def _filled(path: Path, key: bytes) -> None:
    store = open_store(path, key, FakeClock())
    for i in range(30):
        store.put(f"c-{i}", canary_bundle(f"c-{i}"))
    store.close()


def test_wrong_key_discards_and_recreates(
    tmp_path: Path, key: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    _filled(tmp_path / "u.db", key)
    _discarded(tmp_path / "u.db", secrets.token_bytes(32), caplog)


def test_truncated_file_discards_and_recreates(
    tmp_path: Path, key: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "u.db"
    _filled(path, key)
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size // 2 + 100)
    _discarded(path, key, caplog)


def test_corrupt_page_discards_and_recreates(
    tmp_path: Path, key: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "u.db"
    _filled(path, key)
    data = bytearray(path.read_bytes())
    for offset in range(4096 + 200, len(data), 4096):
        data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    _discarded(path, key, caplog)


@pytest.mark.parametrize(
    "content", [b"SQLite format 3\x00" + b"\x00" * 4000, os.urandom(8192), b"hello"]
)
def test_foreign_file_discards_and_recreates(
    tmp_path: Path, key: bytes, caplog: pytest.LogCaptureFixture, content: bytes
) -> None:
    (tmp_path / "u.db").write_bytes(content)
    _discarded(tmp_path / "u.db", key, caplog)


def test_plain_sqlite_database_is_discarded(
    tmp_path: Path, key: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    plain = sqlite3.connect(tmp_path / "u.db")
    plain.execute("CREATE TABLE entries (x)")
    plain.commit()
    plain.close()
    _discarded(tmp_path / "u.db", key, caplog)


def test_older_schema_discards_and_recreates(
    tmp_path: Path, key: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    db = sqlcipher3.connect(str(tmp_path / "u.db"))
    db.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    db.execute("CREATE TABLE entries (index_id TEXT)")
    db.execute("PRAGMA user_version = 0")
    db.commit()
    db.close()
    _discarded(tmp_path / "u.db", key, caplog)


def test_a_damaged_page_met_later_discards_and_works_on(
    tmp_path: Path, key: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "u.db"
    _filled(path, key)
    store = open_store(path, key, FakeClock())
    store.close()
    data = bytearray(path.read_bytes())
    data[-1000] ^= 0xFF  # an entry's page, not read at open
    path.write_bytes(bytes(data))
    Path(f"{path}-wal").unlink(missing_ok=True)
    store = open_store(path, key, FakeClock())
    with caplog.at_level(logging.WARNING, logger="cpdesk.cache.store"):
        assert len(store.recent()) < 30
    assert [r.getMessage() for r in caplog.records] == ["record cache discarded: DatabaseError"]
    store.put("c-1", b"works on")
    assert store.get("c-1") is not None


def test_damage_that_cannot_be_recreated_leaves_no_cache(
    tmp_path: Path, key: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(tmp_path / "u.db", key, FakeClock())

    class Broken:
        def execute(self, *args: object) -> object:
            raise sqlcipher3.DatabaseError("database disk image is malformed")

        def close(self) -> None:
            pass

    store._db = Broken()
    monkeypatch.setattr(sqlcipher3, "connect", lambda *a, **k: Broken())
    assert store.get("c-1") is None
    assert store.get("c-1") is None  # no cache now: misses, never errors
    store.put("c-1", b"x")
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_is_logged_and_reads_as_a_miss(
    tmp_path: Path, key: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    store = open_store(tmp_path / "u.db", key, FakeClock())
    real = store._db

    class Full:
        def execute(self, sql: str, *args: object) -> object:
            if sql.startswith("INSERT"):
                raise sqlcipher3.OperationalError("database or disk is full")
            return real.execute(sql, *args)

    store._db = Full()
    with caplog.at_level(logging.WARNING):
        store.put("c-1", b"x")
    assert "record cache not used: OperationalError" in caplog.text
    store._db = real
    assert store.get("c-1") is None
    store.put("c-2", b"fine")
    assert store.count() == 1


def test_unwritable_folder_is_unavailable_not_a_crash(tmp_path: Path, key: bytes) -> None:
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(CacheUnavailable):
        open_store(tmp_path / "file" / "u.db", key, FakeClock())


def test_cannot_recreate_is_unavailable(
    tmp_path: Path, key: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> object:
        raise sqlcipher3.DatabaseError("file is not a database")

    monkeypatch.setattr(sqlcipher3, "connect", refuse)
    with pytest.raises(CacheUnavailable):
        open_store(tmp_path / "u.db", key, FakeClock())
    assert list(tmp_path.iterdir()) == []


def test_failed_write_rolls_back(tmp_path: Path, key: bytes) -> None:
    store = open_store(tmp_path / "u.db", key, FakeClock())
    store.put("c-1", object())  # type: ignore[arg-type]
    store.put("c-2", b"fine")
    assert store.count() == 1


def test_write_interrupted_by_a_non_database_error_rolls_back(tmp_path: Path, key: bytes) -> None:
    store = open_store(tmp_path / "u.db", key, FakeClock())

    class Interrupted:
        def __iter__(self) -> object:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.views_sent(Interrupted())  # type: ignore[arg-type]
    store.put("c-2", b"fine")
    assert store.count() == 1


def test_remove_database_ignores_missing_files(tmp_path: Path) -> None:
    remove_database(tmp_path / "none.db")
