"""What a lost disk holds: no child data in any file the cache touches, and nothing after sign-out.

The app's data, cache and config folders and the temp folder are pointed at private
folders, a user opens records (kept mode, then offline re-view), and every file there is
scanned for the canary child's names, date of birth, phones and NHS number as UTF-8 and
UTF-16. The same scan over a deliberate plaintext copy hits, so the check can fail.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from cpdesk.cache.keeper import CacheKeeper, default_folder
from cpdesk.clock import FakeClock
from tests.cpdesk.cache.helpers import FAST, DictKeyring, canary_bundle, needles, scan


@pytest.fixture
def folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    made = []
    for name in ("XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "TMPDIR"):
        folder = tmp_path / name.lower()
        folder.mkdir()
        monkeypatch.setenv(name, str(folder))
        made.append(folder)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmpdir"))
    return made


def test_default_folder_is_the_user_cache_folder(folders: list[Path]) -> None:
    assert default_folder() == folders[1] / "cpdesk" / "records"


def test_no_child_data_on_disk_and_nothing_after_sign_out(folders: list[Path]) -> None:
    ring = DictKeyring()
    clock = FakeClock()
    keeper = CacheKeeper(
        default_folder(), lambda: ring, clock, enabled=True, ttl_seconds=3600, cost=FAST
    )
    cache = keeper.open_signed_in("nurse.demo", "pw")
    for i in range(40):
        cache.put(f"c-{i}", canary_bundle(f"c-{i}"))
        cache.note_offline_view(f"c-{i}")
    assert scan(folders, needles()) == []  # while open (WAL in use)
    cache.close()
    keeper.shutdown()
    cache = CacheKeeper(
        default_folder(), lambda: ring, clock, enabled=True, ttl_seconds=3600, cost=FAST
    ).open_offline("nurse.demo", "pw")
    assert len(cache.recent()) == 40
    assert scan(folders, needles()) == []
    assert all(b"nurse" not in p.name.encode() for p in folders[1].rglob("*"))

    (folders[3] / "plain-copy.json").write_bytes(canary_bundle())
    (folders[3] / "plain-copy-utf16.txt").write_bytes(canary_bundle().decode().encode("utf-16"))
    hits = scan(folders, needles())
    assert {n for _, n in hits} == set(needles())  # every needle, both encodings, can hit

    cache.purge()  # sign-out: crypto-erase
    assert list(default_folder().iterdir()) == []
