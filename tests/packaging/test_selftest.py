"""`cpdesk --self-test` checks the real parts and says what it found."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cpdesk import selftest


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        env[name] = str(tmp_path / name.lower())
    env.pop("CPDESK_POLICY_ROOT", None)
    return env


def _self_test(tmp_path: Path, policy_root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cpdesk", "--self-test", "--policy-root", str(policy_root)],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=120,
        check=False,
    )


def test_self_test_passes_and_prints_each_check(tmp_path: Path) -> None:
    managed = tmp_path / "policy" / "managed"
    managed.mkdir(parents=True)
    (managed / "10.json").write_text(json.dumps({"idle_lock_seconds": 60}), encoding="utf-8")
    result = _self_test(tmp_path, tmp_path / "policy")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    # --policy-root is an override folder, read below the system's managed policy
    assert (
        "ok   policy: loaded (no server_url set; 0 managed, 0 recommended, 1 from the override"
        in out
    )
    assert "ok   sign-in window: painted" in out
    assert "ok   SQLCipher: 4." in out
    assert "keyring:" in out  # ok with a keyring daemon, a warning without
    assert "ok   TLS:" in out and "pinned HTTPS to a loopback server worked" in out
    assert out.rstrip().endswith("self-test passed")


def test_an_invalid_policy_fails_the_self_test_naming_the_key(tmp_path: Path) -> None:
    managed = tmp_path / "policy" / "managed"
    managed.mkdir(parents=True)
    (managed / "10.json").write_text(json.dumps({"idle_lock_seconds": 1}), encoding="utf-8")
    result = _self_test(tmp_path, tmp_path / "policy")
    assert result.returncode == 1
    assert "FAIL policy:" in result.stdout and "idle_lock_seconds" in result.stdout
    assert "self-test failed: policy" in result.stdout


def test_a_window_that_cannot_open_fails_but_the_other_checks_still_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))

    def broken(_policy: object) -> str:
        raise RuntimeError("no Qt platform plugin")

    lines: list[str] = []
    code = selftest.run_self_test(tmp_path, window_check=broken, out=lines.append)
    assert code == 1
    assert "FAIL sign-in window: RuntimeError: no Qt platform plugin" in lines
    assert any(line.startswith("ok   SQLCipher") for line in lines)
    assert lines[-1] == "self-test failed: sign-in window"


def test_a_keyring_that_cannot_store_is_a_warning_not_a_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import keyring

    def refuse(*_args: object) -> None:
        raise keyring.errors.PasswordSetError("Prompt dismissed")

    monkeypatch.setattr(keyring, "set_password", refuse)
    finding = selftest.check_keyring()
    assert not finding.ok and not finding.required
    assert finding.line().startswith("warn keyring: not usable (PasswordSetError)")


def test_a_keyring_that_loses_the_secret_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring

    monkeypatch.setattr(keyring, "set_password", lambda *_a: None)
    monkeypatch.setattr(keyring, "get_password", lambda *_a: "something else")
    monkeypatch.setattr(keyring, "delete_password", lambda *_a: None)
    finding = selftest.check_keyring()
    assert not finding.ok and "did not return the secret" in finding.detail


def test_sqlcipher_3_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlcipher3

    class Old:
        def execute(self, sql: str) -> Old:
            self.sql = sql
            return self

        def fetchone(self) -> tuple[str]:
            return ("3.4.2",)

        def close(self) -> None:
            pass

    monkeypatch.setattr(sqlcipher3, "connect", lambda _path: Old())
    finding = selftest.check_sqlcipher()
    assert not finding.ok and "version 4 is needed" in finding.detail
