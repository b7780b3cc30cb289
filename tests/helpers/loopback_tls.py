"""A tiny real HTTPS (or plain TCP) server on loopback, in threads, that records every byte.

For the network failure paths that need a real socket: a key that does not match the
pin, a certificate from another CA, malformed JSON, a server that stalls (in the TLS
handshake or after reading the request), a closed port. `respond` gets each parsed
request and returns raw response bytes, or `STALL` to hold the connection open until
`stop()`. `received` is everything any connection sent, so a test can prove a password
never reached the server.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cpdesk.demo_certs import DemoCertificates

STALL = b"__stall__"


@dataclass
class RawRequest:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


Responder = Callable[[RawRequest], bytes]


def http_response(
    status: int, body: bytes | str | Any, *, headers: dict[str, str] | None = None
) -> bytes:
    """Raw HTTP/1.1 response bytes; a non-bytes, non-str body is sent as JSON."""
    if isinstance(body, str):
        payload = body.encode()
    elif isinstance(body, bytes):
        payload = body
    else:
        payload = json.dumps(body).encode()
    head = [f"HTTP/1.1 {status} X", "Content-Type: application/fhir+json"]
    head += [f"Content-Length: {len(payload)}", "Connection: keep-alive"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + payload


@dataclass
class LoopbackServer:
    respond: Responder
    certs: DemoCertificates | None = None
    stall_handshake: bool = False
    host: str = "127.0.0.1"
    received: bytearray = field(default_factory=bytearray)
    requests: list[RawRequest] = field(default_factory=list)
    request_seen: threading.Event = field(default_factory=threading.Event)
    connected: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._listener = socket.create_server((self.host, 0))
        self.port: int = self._listener.getsockname()[1]
        self._context: ssl.SSLContext | None = None
        if self.certs is not None:
            self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._context.load_cert_chain(self.certs.server_cert, self.certs.server_key)
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()

    @property
    def base_url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop accepting, wake every connection thread, and wait for each to close."""
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._acceptor.join(5)
        for thread in list(self._threads):
            thread.join(5)

    def _track(self, conn: socket.socket) -> bool:
        """Remember `conn` so stop() can wake it; False if stop() has already begun."""
        with self._lock:
            self._conns.append(conn)
        return not self._stop.is_set()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, raw: socket.socket) -> None:
        conn: socket.socket = raw
        try:
            if not self._track(raw):
                return
            self.connected.set()
            if self.stall_handshake:
                self._stop.wait()
                return
            if self._context is not None:
                try:
                    conn = self._context.wrap_socket(raw, server_side=True)
                except (OSError, ssl.SSLError):
                    return  # the client refused our certificate
                if not self._track(conn):
                    return
            self._converse(conn)
        finally:
            conn.close()
            raw.close()

    def _converse(self, conn: socket.socket) -> None:
        buffer = b""
        while not self._stop.is_set():
            try:
                chunk = conn.recv(65536)
            except (OSError, ssl.SSLError):
                return
            if not chunk:
                return
            with self._lock:
                self.received.extend(chunk)
            buffer += chunk
            while True:
                parsed = _parse(buffer)
                if parsed is None:
                    break
                request, buffer = parsed
                self.requests.append(request)
                self.request_seen.set()
                reply = self.respond(request)
                if reply == STALL:
                    self._stop.wait()
                    return
                try:
                    conn.sendall(reply)
                except OSError:
                    return


def _parse(buffer: bytes) -> tuple[RawRequest, bytes] | None:
    head, sep, rest = buffer.partition(b"\r\n\r\n")
    if not sep:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    if len(rest) < length:
        return None
    return RawRequest(method, target, headers, rest[:length]), rest[length:]


def closed_port() -> int:
    """A loopback port with nothing listening (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
