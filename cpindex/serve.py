"""`cpindex serve`: uvicorn on a loopback port, optionally with TLS and demo sign-in codes.

Prints `cpindex ready on http(s)://HOST:PORT` once the socket accepts connections, so a
parent process (tests, `cpdesk demo`) can wait for that line. No access log: request
lines would carry search parameters, which are child data.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator

import pyotp
import uvicorn

from cpindex.api import Services, create_app
from cpindex.api.connections import ConnectionLimits, guarded_protocol
from cpindex.auth.sealing import SecretBox
from cpindex.config import ServerSettings
from cpindex.search.engine import warm_up
from cpindex.seed.demo import DEMO_ACCOUNTS
from cpindex.store.db import check_postgres_settings, make_engine, upgrade
from cpindex.workers import serve_workers

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


def _announce(
    started: Callable[[], bool], stopping: Callable[[], bool], url: str, demo_codes: bool
) -> None:
    while not started():
        if stopping():
            return
        time.sleep(0.02)
    if demo_codes:  # codes first, so whoever waits for "ready" already has them
        print("\n".join(demo_code_lines()), flush=True)
    print(f"cpindex ready on {url}", flush=True)
    if not demo_codes:
        return
    while not stopping():
        wake = (int(time.time()) // 30 + 1) * 30
        while not stopping() and time.time() < wake:
            time.sleep(0.2)
        if not stopping():
            print("\n".join(demo_code_lines()), flush=True)


def _hardened_tls(_config: uvicorn.Config, default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
    context = default()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(AEAD_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    return context


def serve(
    db_url: str,
    *,
    settings: ServerSettings | None = None,
    demo_codes: bool = False,
    box: SecretBox | None = None,
) -> int:
    """Serve until SIGTERM/SIGINT; with `workers` above 1, as that many processes."""
    settings = settings or ServerSettings.from_env()
    engine = make_engine(db_url)
    upgrade(engine)
    check_postgres_settings(engine)
    engine.dispose()
    url = f"{'https' if settings.tls_cert else 'http'}://{settings.host}:{settings.port}"
    if settings.workers > 1:
        return serve_workers(
            settings, url, demo_codes, lambda sock, ready: _serve_one(db_url, settings, box, sock,
                                                                       ready, url, False),
        )  # fmt: skip
    return _serve_one(db_url, settings, box, None, None, url, demo_codes)


def _serve_one(
    db_url: str,
    settings: ServerSettings,
    box: SecretBox | None,
    sock: socket.socket | None,
    ready: Callable[[], None] | None,
    url: str,
    demo_codes: bool,
) -> int:
    """One server process: its own engine, app and audit group writer."""
    engine = make_engine(db_url)
    warm_up()
    services = Services.build(engine, settings, box=box)
    app = create_app(services)
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
    if ready is None:
        announcer = threading.Thread(
            target=_announce,
            args=(lambda: server.started, lambda: server.should_exit, url, demo_codes),
            daemon=True,
        )
    else:
        announcer = threading.Thread(target=_signal_ready, args=(server, ready), daemon=True)
    announcer.start()
    server.run(sockets=[sock] if sock is not None else None)
    services.audit_log.close()
    engine.dispose()
    return 0 if server.started else 1


def _signal_ready(server: uvicorn.Server, ready: Callable[[], None]) -> None:
    while not server.started:
        if server.should_exit:
            return
        time.sleep(0.02)
    ready()
