"""The device secret through a real Secret Service (gnome-keyring under its own D-Bus).

The keyring daemon stores its collection under XDG_DATA_HOME, encrypted with the unlock
password; the secret must round-trip, be the same in a second process, and appear
nowhere on disk in plain form (raw, base64 or hex).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.cpdesk.cache.helpers import scan

REPO = Path(__file__).resolve().parents[3]

PROBE = """
import base64, json, keyring, sys
from cpdesk.cache.keyring import device_secret, system_keyring
ring = system_keyring()
secret = device_secret(ring)
print(json.dumps({
    "backend": type(keyring.get_keyring()).__module__,
    "secret": None if secret is None else base64.b64encode(secret).decode(),
}))
"""

SESSION = """
set -e
echo -n unlock-pass | gnome-keyring-daemon --unlock --components=secrets >/dev/null
"$PY" -c "$PROBE"
"$PY" -c "$PROBE"
"""


def run_session(tmp_path: Path, *, unlock: bool = True) -> list[dict[str, str | None]]:
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path / "home"),
        "XDG_RUNTIME_DIR": str(runtime),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "TMPDIR": str(tmp_path / "tmp"),
        "PY": sys.executable,
        "PROBE": PROBE,
        "PYTHONPATH": str(REPO),
    }
    for name in ("home", "data", "config", "cache", "tmp"):
        (tmp_path / name).mkdir(exist_ok=True)
    script = (
        SESSION
        if unlock
        else SESSION.replace("echo -n unlock-pass | ", "").replace("--unlock ", "")
    )
    out = subprocess.run(
        ["dbus-run-session", "--", "bash", "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def test_device_secret_round_trips_through_secret_service(tmp_path: Path) -> None:
    assert shutil.which("dbus-run-session") and shutil.which("gnome-keyring-daemon")
    first, second = run_session(tmp_path)
    assert first["backend"] == "keyring.backends.SecretService"
    assert first["secret"] is not None and first["secret"] == second["secret"]
    raw = base64.b64decode(first["secret"])
    wanted = [raw, first["secret"].encode(), raw.hex().encode(), raw.hex().upper().encode()]
    keyrings = list((tmp_path / "data").rglob("*.keyring"))
    assert keyrings, "the daemon kept its collection on disk"
    assert scan([tmp_path], wanted) == []


def test_locked_secret_service_means_run_only(tmp_path: Path) -> None:
    results = run_session(tmp_path, unlock=False)
    # It reports SecretService, but every write fails: the probe, not the type, decides.
    assert results and all(r["backend"] == "keyring.backends.SecretService" for r in results)
    assert all(r["secret"] is None for r in results)
