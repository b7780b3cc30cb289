"""`make index` serves HTTPS, and what it prints points a normal cpdesk at it.

cpdesk talks HTTPS only, loopback included; `make index` used to serve plain HTTP that
the client could not use.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

from cpdesk.demo import free_port
from cpdesk.net import IndexClient, make_http_session
from cpdesk.policy import load_policy
from cpindex.seed.demo import DEMO_PASSWORD
from tests.helpers.index_server import seed_index, start_index, totp_now

REPO = Path(__file__).resolve().parents[2]


def test_make_index_serves_tls_with_the_certificates_it_makes() -> None:
    plan = subprocess.run(
        ["make", "-n", "index", "INDEX_PORT=8811"], cwd=REPO, capture_output=True, text=True
    )
    assert plan.returncode == 0, plan.stderr
    steps = plan.stdout.replace("\\\n", " ")
    assert "scripts/index_certs.py .venv/index-tls --url https://127.0.0.1:8811" in steps
    serve = next(line for line in steps.splitlines() if " serve " in line).split()
    assert serve[serve.index("--port") + 1] == "8811"
    assert serve[serve.index("--tls-cert") + 1] == ".venv/index-tls/server.pem"
    assert serve[serve.index("--tls-key") + 1] == ".venv/index-tls/server-key.pem"


def test_the_printed_command_signs_in_over_pinned_tls(tmp_path: Path) -> None:
    port = free_port()
    made = subprocess.run(
        [sys.executable, "scripts/index_certs.py", str(tmp_path / "tls"),
         "--url", f"https://127.0.0.1:{port}"],
        cwd=REPO, capture_output=True, text=True, check=True,
    )  # fmt: skip
    [command] = [line for line in made.stdout.splitlines() if "cpdesk" in line and "=" in line]
    env = dict(word.split("=", 1) for word in shlex.split(command) if "=" in word)
    assert set(env) == {"CPDESK_SERVER_URL", "CPDESK_CA_BUNDLE", "CPDESK_SPKI_PINS"}
    tls = ("--tls-cert", str(tmp_path / "tls/server.pem"),
           "--tls-key", str(tmp_path / "tls/server-key.pem"))  # fmt: skip
    db = seed_index(tmp_path / "index.db", children=50, seed=3)
    with start_index(tmp_path, db_url=db, tls=False, port=port, extra_args=tls):
        policy = load_policy(environ=env)
        client = IndexClient(
            make_http_session(),
            policy.server_url,
            ca_bundle=policy.ca_bundle,
            spki_pins=policy.spki_pins,
        )
        assert client.sign_in("nurse.demo", DEMO_PASSWORD, totp_now("nurse.demo")).user
        client.sign_out()


def test_a_plain_http_url_is_refused(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "scripts/index_certs.py", str(tmp_path), "--url", "http://127.0.0.1:1"],
        cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 2
    assert "https://" in done.stderr
    assert not (tmp_path / "ca.pem").exists()
