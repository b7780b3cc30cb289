"""kill -9 during writes: the next open succeeds or discards; never plaintext, never a crash."""

from __future__ import annotations

import logging
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cpdesk.cache.store import EncryptedStore
from cpdesk.clock import FakeClock
from tests.cpdesk.cache.helpers import needles, scan

REPO = Path(__file__).resolve().parents[3]

WRITER = """
import sys
from pathlib import Path
from cpdesk.cache.store import EncryptedStore
from cpdesk.clock import SystemClock
from tests.cpdesk.cache.helpers import canary_bundle
store = EncryptedStore(Path(sys.argv[1]), bytes.fromhex(sys.argv[2]), SystemClock(), 3600)
i = 0
while True:
    store.put(f"c-{i % 700}", canary_bundle(f"c-{i}") * 4)
    if i % 50 == 0:
        store.note_offline_view(f"c-{i}")
    i += 1
    if i % 10 == 0:
        print(i, flush=True)
"""


@pytest.mark.parametrize("writes_before_kill", [20, 300, 900])
def test_killed_writer_leaves_a_cache_that_opens_or_is_discarded(
    tmp_path: Path, writes_before_kill: int, caplog: pytest.LogCaptureFixture
) -> None:
    key = secrets.token_bytes(32)
    path = tmp_path / "u.db"
    with subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), key.hex()],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    ) as child:
        assert child.stdout is not None
        while int(child.stdout.readline()) < writes_before_kill:
            pass
        os.kill(child.pid, signal.SIGKILL)  # mid-loop: most likely mid-transaction
        child.wait(timeout=30)
    assert scan([tmp_path], needles()) == []
    with caplog.at_level(logging.WARNING):
        store = EncryptedStore(path, key, FakeClock(), 3600)
    store.put("c-new", b"works on")
    assert store.get("c-new") is not None
    store.close()
    assert scan([tmp_path], needles()) == []
