"""`cpindex serve`: uvicorn on a loopback port, optionally with TLS and demo sign-in codes.

Prints `cpindex ready on http(s)://HOST:PORT` once the socket accepts connections, so a
parent process (tests, `cpdesk demo`) can wait for that line. No access log: request
lines would carry search parameters, which are child data.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyotp
import uvicorn

from cpindex.api import Services, create_app
from cpindex.auth.sealing import SecretBox
from cpindex.config import ServerSettings
from cpindex.search.engine import warm_up
from cpindex.seed.demo import DEMO_ACCOUNTS
from cpindex.store.db import make_engine, upgrade

__all__ = ["demo_code_lines", "serve"]


def demo_code_lines(at: float | None = None) -> list[str]:
    moment = time.time() if at is None else at
    lines = []
    for account in DEMO_ACCOUNTS:
        code = pyotp.TOTP(account.totp_secret).at(int(moment))
        lines.append(f"Demo sign-in: {account.username} / {account.password} / code {code}")
    return lines


class _Server(uvicorn.Server):
    """uvicorn, but a graceful SIGTERM ends with exit status 0.

    uvicorn re-raises a caught SIGTERM after shutting down, so the process dies "killed by
    signal" (-15); service managers and `cpdesk demo` read that as a crash.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _announce(server: uvicorn.Server, url: str, demo_codes: bool) -> None:
    while not server.started:
        if server.should_exit:
            return
        time.sleep(0.02)
    if demo_codes:  # codes first, so whoever waits for "ready" already has them
        print("\n".join(demo_code_lines()), flush=True)
    print(f"cpindex ready on {url}", flush=True)
    if not demo_codes:
        return
    while not server.should_exit:
        wake = (int(time.time()) // 30 + 1) * 30
        while not server.should_exit and time.time() < wake:
            time.sleep(0.2)
        if not server.should_exit:
            print("\n".join(demo_code_lines()), flush=True)


def serve(
    db_url: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8800,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    settings: ServerSettings | None = None,
    demo_codes: bool = False,
    box: SecretBox | None = None,
) -> int:
    engine = make_engine(db_url)
    upgrade(engine)
    warm_up()
    app = create_app(Services.build(engine, settings or ServerSettings.from_env(), box=box))
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
        access_log=False,
        log_level="warning",
        server_header=False,
        timeout_graceful_shutdown=5,
    )
    server = _Server(config)
    scheme = "https" if tls_cert else "http"
    announcer = threading.Thread(
        target=_announce, args=(server, f"{scheme}://{host}:{port}", demo_codes), daemon=True
    )
    announcer.start()
    server.run()
    engine.dispose()
    return 0 if server.started else 1
