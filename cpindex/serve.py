"""`cpindex serve`: uvicorn on a loopback port, optionally with TLS and demo sign-in codes.

Prints `cpindex ready on http(s)://HOST:PORT` once the socket accepts connections, so a
parent process (tests, `cpdesk demo`) can wait for that line. No access log: request
lines would carry search parameters, which are child data.
"""

from __future__ import annotations

import contextlib
import signal
import ssl
import threading
import time
from collections.abc import Callable, Iterator

import pyotp
import uvicorn

from cpindex.api import Services, create_app
from cpindex.api.connections import ConnectionLimits, guarded_protocol
from cpindex.config import ServerSettings
from cpindex.search.engine import warm_up
from cpindex.seed.demo import DEMO_ACCOUNTS
from cpindex.store.db import make_engine, upgrade

__all__ = ["AEAD_CIPHERS", "demo_code_lines", "serve"]

# TLS 1.2: forward-secret AEAD suites only (no CBC, no RSA key exchange); TLS 1.3 suites
# are all AEAD, and 1.3 is chosen whenever the client offers it.
AEAD_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL"


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


def _hardened_tls(_config: uvicorn.Config, default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
    context = default()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(AEAD_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    return context


def serve(db_url: str, *, settings: ServerSettings | None = None, demo_codes: bool = False) -> int:
    settings = settings or ServerSettings.from_env()
    engine = make_engine(db_url)
    upgrade(engine)
    warm_up()
    app = create_app(Services.build(engine, settings))
    limits = ConnectionLimits(
        max_header_bytes=settings.max_header_bytes,
        max_headers=settings.max_headers,
        idle_timeout=settings.keep_alive_timeout,
        read_timeout=settings.read_timeout,
    )
    tls = bool(settings.tls_cert)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=guarded_protocol(limits),
        ssl_certfile=settings.tls_cert or None,
        ssl_keyfile=settings.tls_key or None,
        ssl_context_factory=_hardened_tls if tls else None,
        limit_concurrency=settings.max_connections,
        timeout_keep_alive=settings.keep_alive_timeout,
        access_log=False,
        log_level="warning",
        server_header=False,
        proxy_headers=False,  # X-Forwarded-For is read by the app, from trusted proxies only
        timeout_graceful_shutdown=5,
    )
    server = _Server(config)
    scheme = "https" if tls else "http"
    url = f"{scheme}://{settings.host}:{settings.port}"
    announcer = threading.Thread(target=_announce, args=(server, url, demo_codes), daemon=True)
    announcer.start()
    server.run()
    engine.dispose()
    return 0 if server.started else 1
