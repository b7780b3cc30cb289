"""A real `cpindex serve` on a free loopback port, for end-to-end tests.

`start_index` seeds a database (a no-op when it is already seeded with the same
arguments), makes throwaway TLS certificates, starts the server as a subprocess and
waits for its "cpindex ready on" line. Use it as a context manager or call `.stop()`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import pyotp
import requests

from cpdesk.demo import free_port, stop_server_process
from cpdesk.demo_certs import make_demo_certificates
from cpindex.seed.demo import DEMO_PASSWORD, demo_account
from tests.helpers.spent_codes import forget_spent_code_at

__all__ = [
    "TEST_LIMITS",
    "RunningIndex",
    "free_port",
    "seed_index",
    "sign_in_token",
    "start_index",
    "totp_now",
]

# Raised (never disabled) limits for test servers: suites sign in and search many times.
TEST_LIMITS = {
    "CPINDEX_SEARCH_LIMIT": "100000",
    "CPINDEX_VIEW_LIMIT": "100000",
    "CPINDEX_LOCKOUT_FAILURES": "1000",
}

_READY_TIMEOUT = 60.0
_REPO = Path(__file__).resolve().parents[2]


# The test servers this process started (see totp_now).
_STARTED: list[RunningIndex] = []


def totp_now(username: str) -> str:
    """The current TOTP code of a demo account (nurse.demo, social.demo, ...).

    Made usable again first in every store a test server of this run uses: each code's
    step is spent once, and suites sign the same account in many times a minute
    (tests.helpers.spent_codes).
    """
    for url in {index.db_url for index in _STARTED if index.process.poll() is None}:
        forget_spent_code_at(url, username)
    return str(pyotp.TOTP(demo_account(username).totp_secret).now())


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("CPINDEX_DATABASE_URL", None)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(TEST_LIMITS)
    env.update(extra or {})
    return env


def _key_beside(db_url: str, folder: Path) -> Path:
    if db_url.startswith("sqlite:///"):
        return Path(db_url.removeprefix("sqlite:///") + ".key")
    return folder / "secret.key"


def seed_index(
    db_path: Path, *, children: int = 2000, seed: int = 1, db_url: str | None = None
) -> str:
    """Seed a SQLite file, or `db_url` (fast no-op when already seeded alike); its URL."""
    url = db_url or f"sqlite:///{db_path}"
    subprocess.run(
        [sys.executable, "-m", "cpindex", "seed", "--children", str(children), "--seed", str(seed),
         "--db", url, "--quiet"],
        check=True,
        cwd=_REPO,
        env={"CPINDEX_SECRET_KEY_FILE": str(_key_beside(url, db_path.parent)), **_env(None)},
        stdout=subprocess.DEVNULL,
        timeout=600,
    )  # fmt: skip
    return url


@dataclass
class RunningIndex:
    """A started server. `ca_cert` and `spki_pin` are None/"" without TLS."""

    base_url: str
    ca_cert: Path | None
    spki_pin: str
    db_url: str
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    @property
    def verify(self) -> str | bool:
        """What to pass as requests' `verify=`."""
        return str(self.ca_cert) if self.ca_cert else True

    def stop(self) -> None:
        stop_server_process(self.process, self.reader, timeout=15)

    def __enter__(self) -> RunningIndex:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_index(
    tmp_path: Path,
    *,
    children: int = 2000,
    seed: int = 1,
    tls: bool = True,
    env: dict[str, str] | None = None,
    extra_args: tuple[str, ...] = (),
    db_url: str | None = None,
    port: int | None = None,
    same_as: RunningIndex | None = None,
) -> RunningIndex:
    """Seed (unless `db_url` is given) and start `cpindex serve --demo-codes` on loopback.

    `same_as`: a stopped index to start again where its clients expect it (same port,
    database, certificate and pin).
    """
    tmp_path.mkdir(parents=True, exist_ok=True)
    if same_as is not None:
        db_url = same_as.db_url
        tls = same_as.ca_cert is not None
    url = db_url or seed_index(tmp_path / "index.db", children=children, seed=seed)
    port = int(same_as.base_url.rsplit(":", 1)[1]) if same_as else (port or free_port())
    args = [sys.executable, "-m", "cpindex", "serve", "--db", url, "--host", "127.0.0.1",
            "--port", str(port), "--demo-codes", *extra_args]  # fmt: skip
    ca_cert: Path | None = None
    pin = ""
    if same_as is not None and same_as.ca_cert is not None:
        folder = same_as.ca_cert.parent
        args += [
            "--tls-cert",
            str(folder / "server.pem"),
            "--tls-key",
            str(folder / "server-key.pem"),
        ]
        ca_cert, pin = same_as.ca_cert, same_as.spki_pin
    elif tls:
        certs = make_demo_certificates(tmp_path / f"certs-{port}")
        args += ["--tls-cert", str(certs.server_cert), "--tls-key", str(certs.server_key)]
        ca_cert, pin = certs.ca_cert, certs.spki_pin
    server_env = _env(env)
    # outside pytest (benchmarks) the key sealing TOTP secrets sits beside the store
    server_env.setdefault("CPINDEX_SECRET_KEY_FILE", str(_key_beside(url, tmp_path)))
    process = subprocess.Popen(
        args,
        cwd=_REPO,
        env=server_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    scheme = "https" if tls else "http"
    running = RunningIndex(f"{scheme}://127.0.0.1:{port}", ca_cert, pin, url, process)
    _STARTED.append(running)
    ready = threading.Event()

    def drain() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            running.output.append(line.rstrip("\n"))
            del running.output[:-200]
            if line.startswith("cpindex ready on"):
                ready.set()
        ready.set()

    running.reader = threading.Thread(target=drain, daemon=True)
    running.reader.start()
    if not ready.wait(_READY_TIMEOUT) or process.poll() is not None:
        running.stop()
        tail = "\n".join(running.output[-20:])
        raise RuntimeError(f"cpindex serve did not start:\n{tail}")
    return running


def sign_in_token(index: RunningIndex, username: str = "nurse.demo") -> str:
    """Sign a demo account in and return its bearer token."""
    response = requests.post(
        f"{index.base_url}/auth/session",
        json={"username": username, "password": DEMO_PASSWORD, "otp": totp_now(username)},
        verify=index.verify,
        timeout=30,
    )
    response.raise_for_status()
    return str(response.json()["token"])
