"""CacheKeeper: per-user caches, kept or run-only, offline sign-in and crypto-erase."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from cpdesk.cache import NullCache
from cpdesk.cache.keeper import MAX_WRONG_PASSWORDS, CacheKeeper, NoOfflineCache, WrongPassword
from cpdesk.cache.keyring import KeyringLike
from cpdesk.clock import FakeClock
from tests.cpdesk.cache.helpers import FAST, DictKeyring, LockedKeyring, canary_bundle

TTL = 8 * 3600


def keeper(
    folder: Path, ring: KeyringLike | None, *, enabled: bool = True, clock: FakeClock | None = None
) -> CacheKeeper:
    return CacheKeeper(
        folder, lambda: ring, clock or FakeClock(), enabled=enabled, ttl_seconds=TTL, cost=FAST
    )


def with_entry(k: CacheKeeper, username: str = "alice", password: str = "pw") -> None:
    """Sign in, keep record c-1, close."""
    cache = k.open_signed_in(username, password)
    cache.put("c-1", b"x")
    cache.close()


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_disabled_writes_nothing_and_never_touches_the_keyring(tmp_path: Path) -> None:
    ring = DictKeyring()
    k = keeper(tmp_path / "c", ring, enabled=False)
    cache = k.open_signed_in("alice", "pw")
    assert isinstance(cache, NullCache)
    cache.put("c-1", b"x")
    k.erase("alice")
    k.shutdown()
    with pytest.raises(NoOfflineCache):
        k.open_offline("alice", "pw")
    assert not k.kept
    assert ring.calls == 0 and ring.items == {}
    assert not (tmp_path / "c").exists()


def test_kept_cache_survives_the_run_and_hides_the_username(tmp_path: Path) -> None:
    ring = DictKeyring()
    clock = FakeClock()
    k = keeper(tmp_path, ring, clock=clock)
    assert k.kept
    cache = k.open_signed_in("Alice.Smith", "pw")
    cache.put("c-1", canary_bundle())
    cache.close()
    k.shutdown()
    names = files(tmp_path)
    assert len(names) == 2 and not any("alice" in n.lower() for n in names)
    again = keeper(tmp_path, ring, clock=clock).open_signed_in(" alice.smith ", "pw")
    assert again.get("c-1") is not None


def test_keyring_is_probed_once_and_only_when_needed(tmp_path: Path) -> None:
    calls = []

    def ring() -> KeyringLike:
        calls.append(1)
        return DictKeyring()

    k = CacheKeeper(tmp_path, ring, FakeClock(), enabled=True, ttl_seconds=TTL, cost=FAST)
    assert calls == []
    k.open_signed_in("a", "pw").close()
    k.open_signed_in("b", "pw").close()
    assert calls == [1]


def test_password_changed_on_the_server_erases_and_begins_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    k = keeper(tmp_path, DictKeyring())
    with_entry(k, "alice", "old")
    with caplog.at_level(logging.WARNING):
        cache = k.open_signed_in("alice", "new")
    assert "no longer opens" in caplog.text
    assert cache.get("c-1") is None
    cache.put("c-2", b"y")
    cache.close()
    assert k.open_signed_in("alice", "new").get("c-2") is not None


def test_foreign_key_file_is_replaced(tmp_path: Path) -> None:
    k = keeper(tmp_path, DictKeyring())
    k.open_signed_in("alice", "pw").close()
    key_file = next(tmp_path.glob("*.key"))
    key_file.write_bytes(b"garbage")
    cache = k.open_signed_in("alice", "pw")
    cache.put("c-1", b"x")
    assert k.open_offline("alice", "pw").get("c-1") is not None


def test_two_users_on_one_os_account_cannot_read_each_other(tmp_path: Path) -> None:
    ring = DictKeyring()
    k = keeper(tmp_path, ring)
    a = k.open_signed_in("alice", "alice-pw")
    a.put("c-1", canary_bundle())
    a.close()
    b = k.open_signed_in("bob", "bob-pw")
    assert b.get("c-1") is None and b.recent() == []
    b.close()
    # Bob's password with this device's secret, tried on Alice's name, does not unwrap.
    with pytest.raises(WrongPassword):
        k.open_offline("alice", "bob-pw")
    assert k.open_offline("alice", "alice-pw").get("c-1") is not None


def test_offline_sign_in_five_wrong_passwords_erase(tmp_path: Path) -> None:
    k = keeper(tmp_path, DictKeyring())
    with_entry(k, "alice", "pw")
    for _ in range(MAX_WRONG_PASSWORDS - 1):
        with pytest.raises(WrongPassword):
            k.open_offline("alice", "guess")
    # The count survives a restart of the app, so restarting does not reset it.
    k = keeper(tmp_path, k._keyring())
    with pytest.raises(WrongPassword):
        k.open_offline("alice", "guess")
    assert files(tmp_path) == []
    with pytest.raises(NoOfflineCache):
        k.open_offline("alice", "pw")


def test_a_right_password_resets_the_count(tmp_path: Path) -> None:
    ring = DictKeyring()
    k = keeper(tmp_path, ring)
    k.open_signed_in("alice", "pw").close()
    for _ in range(MAX_WRONG_PASSWORDS - 1):
        with pytest.raises(WrongPassword):
            k.open_offline("alice", "guess")
    k.open_offline("alice", "pw").close()
    with pytest.raises(WrongPassword):
        k.open_offline("alice", "guess")
    k.open_signed_in("alice", "pw").close()  # online sign-in resets it too
    for _ in range(MAX_WRONG_PASSWORDS - 1):
        with pytest.raises(WrongPassword):
            k.open_offline("alice", "guess")
    assert k.open_offline("alice", "pw") is not None


def test_offline_sign_in_needs_a_kept_cache(tmp_path: Path) -> None:
    with pytest.raises(NoOfflineCache):
        keeper(tmp_path, DictKeyring()).open_offline("nobody", "pw")
    with pytest.raises(NoOfflineCache):
        keeper(tmp_path, None).open_offline("alice", "pw")
    k = keeper(tmp_path, DictKeyring())
    k.open_signed_in("alice", "pw").close()
    next(tmp_path.glob("*.key")).write_bytes(b"garbage")
    with pytest.raises(NoOfflineCache):
        k.open_offline("alice", "pw")


def test_erase_deletes_wrapped_key_and_database(tmp_path: Path) -> None:
    k = keeper(tmp_path, DictKeyring())
    with_entry(k, "alice", "pw")
    k.open_signed_in("bob", "pw").close()
    k.erase("alice")
    assert len(files(tmp_path)) == 2  # bob's
    with pytest.raises(NoOfflineCache):
        k.open_offline("alice", "pw")


def test_purge_through_the_seam_erases_the_key_too(tmp_path: Path) -> None:
    k = keeper(tmp_path, DictKeyring())
    cache = k.open_signed_in("alice", "pw")
    cache.put("c-1", b"x")
    cache.purge()
    assert files(tmp_path) == []


@pytest.mark.parametrize("ring", [None, LockedKeyring()])
def test_run_only_without_a_usable_keyring(tmp_path: Path, ring: KeyringLike | None) -> None:
    (tmp_path / "run-leftover.db").write_bytes(b"from a crashed run")
    (tmp_path / "run-leftover.db-wal").write_bytes(b"from a crashed run")
    k = keeper(tmp_path, ring)
    assert files(tmp_path) == []  # deleted at start
    assert not k.kept
    with_entry(k, "alice", "pw")
    assert all(n.startswith("run-") for n in files(tmp_path))
    assert not list(tmp_path.glob("*.key"))
    # Same run (lock, then unlock): still readable.
    assert k.open_signed_in("alice", "pw").get("c-1") is not None
    k.shutdown()
    assert files(tmp_path) == []
    k.erase("alice")


def test_run_only_cache_is_gone_for_the_next_run(tmp_path: Path) -> None:
    k = keeper(tmp_path, None)
    with_entry(k, "alice", "pw")
    # Killed: no shutdown. The next run deletes the file and cannot read it anyway.
    assert keeper(tmp_path, None).open_signed_in("alice", "pw").get("c-1") is None


@pytest.mark.parametrize("ring", [None, DictKeyring()])
def test_unwritable_folder_runs_without_a_cache(tmp_path: Path, ring: KeyringLike | None) -> None:
    (tmp_path / "c").write_bytes(b"a file where the folder should be")
    cache = keeper(tmp_path / "c", ring).open_signed_in("alice", "pw")
    assert isinstance(cache, NullCache)
    assert (tmp_path / "c").read_bytes() == b"a file where the folder should be"
