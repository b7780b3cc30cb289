"""`cpdesk demo`: an embedded index of synthetic children on loopback, over real TLS.

Qt-free, so it is tested without a display. The client never imports `cpindex`: it runs
`python -m cpindex` as a child process, exactly as an operator would run the index. The
index database (at least 20,000 children) is seeded once into the user's data folder
and reused. Each start makes a throwaway certificate authority (`cpdesk.demo_certs`),
whose server key the client pins; the private keys live in a temporary folder removed at
stop. The server prints the demo sign-in details and the current one-time codes
(`--demo-codes`); they are passed through to this terminal, so a newcomer signs in
without an authenticator app. A small council feed (`cpindex feed demo`) leaves a few
links for the index team's review screen.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import platformdirs

from cpdesk.demo_certs import make_demo_certificates

__all__ = [
    "DEMO_CHILDREN",
    "DEMO_SEED",
    "DemoError",
    "DemoIndex",
    "demo_data_dir",
    "free_port",
    "index_missing",
    "start_demo_index",
    "stop_server_process",
]

DEMO_CHILDREN = 20_000
DEMO_SEED = 1
READY_PREFIX = "cpindex ready on "
INDEX_MODULES = ("cpindex", "fastapi", "uvicorn", "sqlalchemy")
INSTALL_HINT = (
    "cpdesk demo needs the index server, which is not installed here. "
    "Install it with:  pip install 'cpdesk[index]'  (or run `make demo`, which does)."
)


class DemoError(Exception):
    """The embedded index could not be started; the message says why and what to do."""


def index_missing() -> list[str]:
    """The index's modules that cannot be found (looked up, not imported)."""
    return [name for name in INDEX_MODULES if importlib.util.find_spec(name) is None]


def demo_data_dir() -> Path:
    """Where the seeded demo database lives between runs (CPDESK_DEMO_DIR overrides)."""
    override = os.environ.get("CPDESK_DEMO_DIR")
    return Path(override) if override else Path(platformdirs.user_data_dir("cpdesk")) / "demo"


def free_port() -> int:
    """A port nobody listens on right now (the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """Linux: the index gets SIGTERM if cpdesk dies without stopping it (kill -9, crash)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("CPINDEX_DATABASE_URL", None)  # the demo uses its own database, always
    env["PYTHONUNBUFFERED"] = "1"
    return env


def stop_server_process(
    process: subprocess.Popen[str], reader: threading.Thread | None, timeout: float
) -> None:
    """SIGTERM (the index exits cleanly on it), kill if it hangs, then drain its output."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    if reader is not None:
        reader.join(timeout=5)
    if process.stdout is not None:
        process.stdout.close()


@dataclass
class DemoIndex:
    """A running embedded index. Stop it (or leave the `with` block) to end it."""

    base_url: str
    ca_cert: Path
    spki_pin: str
    process: subprocess.Popen[str]
    cert_dir: Path
    output: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then kill if it does not exit; remove the throwaway keys."""
        stop_server_process(self.process, self.reader, timeout)
        shutil.rmtree(self.cert_dir, ignore_errors=True)

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def __enter__(self) -> DemoIndex:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _key_args(folder: Path) -> list[str]:
    """The demo's own key sealing its TOTP secrets, beside its database (made 0600)."""
    return ["--secret-key-file", str(folder / "secret.key")]


def _seed(db_path: Path, children: int, seed: int, say: Callable[[str], None]) -> str:
    """Seed once: a marker file records a finished seed, so later starts skip it."""
    url = f"sqlite:///{db_path}"
    marker = db_path.with_name(f"{db_path.name}.seeded-{children}-{seed}")
    if marker.exists() and db_path.exists():
        return url
    say(f"Creating the demo index: {children:,} synthetic children (first run only)…")
    result = subprocess.run(  # noqa: S603 (our own interpreter, fixed arguments)
        [sys.executable, "-m", "cpindex", "seed", "--children", str(children),
         "--seed", str(seed), "--db", url, "--quiet", *_key_args(db_path.parent)],
        env=_child_env(),
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )  # fmt: skip
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-5:])
        raise DemoError(f"Seeding the demo index failed:\n{tail}")
    marker.touch()
    return url


def _demo_feed(db_path: Path, say: Callable[[str], None]) -> None:
    """Load the demo council feed once (`cpindex feed demo`): a few links for the index
    team to review. Best effort: the demo runs without it."""
    marker = db_path.with_name(f"{db_path.name}.demo-feed-1")
    if marker.exists():
        return
    result = subprocess.run(  # noqa: S603 (our own interpreter, fixed arguments)
        [sys.executable, "-m", "cpindex", "feed", "demo", "--db", f"sqlite:///{db_path}"],
        env=_child_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        say("The demo feed (links for the index team to review) could not be loaded.")
        return


# In the demo, social.demo receives the notices of Olivia's and Jayden's social workers
# (their lead professionals), so a notice sent as nurse.demo, or relayed by the index
# team, has someone to reach (docs/index.md, "Demo accounts").
DEMO_NOTICE_LINKS = (
    ("social.demo", "hannah.lowe@example.gov.uk"),
    ("social.demo", "gareth.price@example.gov.uk"),
)


def _link_demo_recipients(db_path: Path) -> None:
    """Link the demo's notice recipients once (a marker file, as for the seed)."""
    marker = db_path.with_name(f"{db_path.name}.notice-links-1")
    if marker.exists():
        return
    url = f"sqlite:///{db_path}"
    for user, email in DEMO_NOTICE_LINKS:
        result = subprocess.run(  # noqa: S603 (our own interpreter, fixed arguments)
            [sys.executable, "-m", "cpindex", "user", "link", user,
             "--practitioner-email", email, "--db", url],
            env=_child_env(), capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            tail = "\n".join(result.stderr.strip().splitlines()[-5:])
            raise DemoError(f"Linking the demo's notice recipients failed:\n{tail}")
    marker.touch()


def start_demo_index(
    *,
    children: int = DEMO_CHILDREN,
    seed: int = DEMO_SEED,
    data_dir: Path | None = None,
    say: Callable[[str], None] = print,
    ready_timeout: float = 120.0,
    extra_args: tuple[str, ...] = (),
) -> DemoIndex:
    """Seed if needed, start `cpindex serve --demo-codes` over TLS, wait until it is ready.

    Every line the server prints (including the demo codes) goes to `say`.
    """
    missing = index_missing()
    if missing:
        raise DemoError(INSTALL_HINT)
    folder = data_dir or demo_data_dir()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    url = _seed(folder / "index.sqlite3", children, seed, say)
    _demo_feed(folder / "index.sqlite3", say)
    _link_demo_recipients(folder / "index.sqlite3")
    cert_dir = Path(tempfile.mkdtemp(prefix="cpdesk-demo-"))
    certs = make_demo_certificates(cert_dir / "certs")
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 (our own interpreter, fixed arguments)
        [sys.executable, "-m", "cpindex", "serve", "--db", url, "--host", "127.0.0.1",
         "--port", str(port), "--tls-cert", str(certs.server_cert),
         "--tls-key", str(certs.server_key), "--demo-codes", *_key_args(folder), *extra_args],
        env=_child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
    )  # fmt: skip
    index = DemoIndex(f"https://127.0.0.1:{port}", certs.ca_cert, certs.spki_pin, process, cert_dir)
    ready = threading.Event()
    saw_ready: list[bool] = []

    def relay() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            text = line.rstrip("\n")
            index.output.append(text)
            del index.output[:-200]
            if text.startswith(READY_PREFIX):
                saw_ready.append(True)
                ready.set()
            say(text)
        ready.set()  # the process ended: stop waiting

    index.reader = threading.Thread(target=relay, name="cpindex-output", daemon=True)
    index.reader.start()
    if not ready.wait(ready_timeout) or not saw_ready or process.poll() is not None:
        index.stop()
        tail = "\n".join(index.output[-10:])
        raise DemoError(f"The demo index did not start:\n{tail}")
    return index
