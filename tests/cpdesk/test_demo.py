"""`cpdesk demo`'s launcher: seeds once, starts a real index over TLS, stops it."""

from __future__ import annotations

import importlib.util
import sqlite3
import stat

import pytest
import requests

from cpdesk import demo
from cpdesk.demo import DemoError, free_port, index_missing, start_demo_index


def test_free_port_is_a_loopback_port() -> None:
    assert 1024 < free_port() < 65536


def test_missing_index_is_said_clearly(monkeypatch, tmp_path) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        demo.importlib.util, "find_spec", lambda name: None if name == "fastapi" else real(name)
    )
    assert index_missing() == ["fastapi"]
    with pytest.raises(DemoError, match=r"pip install 'cpdesk\[index\]'"):
        start_demo_index(data_dir=tmp_path)


def test_data_dir_override(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("CPDESK_DEMO_DIR", str(tmp_path))
    assert demo.demo_data_dir() == tmp_path


@pytest.mark.slow
def test_starts_over_tls_prints_codes_reuses_the_seed_and_stops(tmp_path) -> None:
    said: list[str] = []
    with start_demo_index(children=300, data_dir=tmp_path, say=said.append) as index:
        assert index.base_url.startswith("https://127.0.0.1:")
        assert index.running
        answer = requests.get(f"{index.base_url}/metadata", verify=str(index.ca_cert), timeout=10)
        assert answer.status_code == 200
        assert any(line.startswith("Demo sign-in: nurse.demo / ") for line in said)
        assert any("first run only" in line for line in said)
        cert_dir = index.cert_dir
    assert not index.running
    assert not cert_dir.exists()  # the throwaway keys are gone
    said.clear()
    with start_demo_index(children=300, data_dir=tmp_path, say=said.append) as again:
        assert again.running
    assert not any("first run only" in line for line in said)
    # the demo keeps its own key (0600) beside its store, and its TOTP secrets are sealed
    key = tmp_path / "secret.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    with sqlite3.connect(tmp_path / "index.sqlite3") as db:
        secrets = [row[0] for row in db.execute("SELECT totp_secret FROM user_account")]
    assert secrets and all(secret.startswith("v1:") for secret in secrets)
    # the demo feed left links for the index team's review screen, loaded once
    with sqlite3.connect(tmp_path / "index.sqlite3") as db:
        pending = db.execute("SELECT count(*) FROM feed_review WHERE status = 'pending'")
        feeds = db.execute("SELECT count(*) FROM feed").fetchone()[0]
        assert pending.fetchone()[0] == 3
    assert feeds == 1


def test_a_server_that_cannot_start_is_reported(tmp_path) -> None:
    with pytest.raises(DemoError, match="did not start"):
        start_demo_index(
            children=300, data_dir=tmp_path, say=lambda _: None, extra_args=("--no-such-flag",)
        )
