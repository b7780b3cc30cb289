"""Slow, oversized and exposed requests against a real `cpindex serve` over real sockets.

Issue 12 items 9 and 14 (TLS), and items 8, 10, 13, 14 again over the wire. The guarded
server runs plain HTTP on loopback with short timeouts set through the documented
environment variables; the assertions are about what happens (closed, 431, 503), and the
30-second socket timeouts only bound how long a broken server can hold the test.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.helpers.index_server import RunningIndex, sign_in_token, start_index

GIVE_UP = 30.0  # far beyond the 2-second limits below; only a broken server gets here


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningIndex]:
    env = {
        "CPINDEX_READ_TIMEOUT": "2",
        "CPINDEX_KEEP_ALIVE_TIMEOUT": "2",
        "CPINDEX_MAX_CONNECTIONS": "6",
        "CPINDEX_MAX_HEADERS": "40",
        "CPINDEX_MAX_HEADER_BYTES": "8192",
    }
    with start_index(tmp_path_factory.mktemp("guarded"), children=200, tls=False, env=env) as idx:
        yield idx


def _connect(index: RunningIndex) -> socket.socket:
    parts = urlsplit(index.base_url)
    sock = socket.create_connection((parts.hostname or "", parts.port or 0), timeout=GIVE_UP)
    return sock


def _read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes; raises socket.timeout if it never does."""
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def _request(path: str, *headers: str, body: bytes = b"", method: str = "GET") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *headers]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def test_a_normal_request_still_works(guarded: RunningIndex) -> None:
    with _connect(guarded) as sock:
        sock.sendall(_request("/metadata", "Connection: close"))
        answer = _read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 200")
    assert b"cache-control: no-store" in answer.lower()


def test_an_idle_connection_is_closed(guarded: RunningIndex) -> None:
    with _connect(guarded) as sock:
        assert _read_until_closed(sock) == b""  # closed by the server, nothing sent


def test_an_idle_keep_alive_connection_is_closed(guarded: RunningIndex) -> None:
    with _connect(guarded) as sock:
        sock.sendall(_request("/metadata"))
        answer = _read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 200")


def test_a_half_sent_header_block_is_cut_off(guarded: RunningIndex) -> None:
    with _connect(guarded) as sock:
        sock.sendall(b"GET /metadata HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: 1\r\n")
        assert _read_until_closed(sock) == b""


def test_a_dribbled_header_block_is_cut_off(guarded: RunningIndex) -> None:
    """Slowloris: a header line every half second keeps no connection open for long."""
    with _connect(guarded) as sock:
        sock.sendall(b"GET /metadata HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started = time.monotonic()
        closed = False
        for n in range(int(GIVE_UP / 0.5)):
            try:
                sock.sendall(f"X-Slow-{n}: 1\r\n".encode())
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            sock.settimeout(0.5)
            try:
                if sock.recv(1) == b"":
                    closed = True
                    break
            except TimeoutError:
                pass
        assert closed, f"still open after {time.monotonic() - started:.0f} s"


def test_a_half_sent_body_is_cut_off(guarded: RunningIndex) -> None:
    with _connect(guarded) as sock:
        head = _request("/auth/session", "Content-Type: application/json", "Content-Length: 200")
        sock.sendall(head.replace(b"\r\n\r\n", b"\r\n\r\n", 1) + b'{"username": ')
        answer = _read_until_closed(sock)
    assert not answer.startswith(b"HTTP/1.1 2")


@pytest.mark.parametrize("size", [16 * 1024 * 1024, 64 * 1024])
def test_an_oversized_header_gets_431(guarded: RunningIndex, size: int) -> None:
    with _connect(guarded) as sock:
        sock.sendall(b"GET /metadata HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
        chunk = b"a" * 65536
        try:
            for _ in range(size // len(chunk)):
                sock.sendall(chunk)
            sock.sendall(b"\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading: the answer is already waiting
        answer = _read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:80]
    assert b"OperationOutcome" in answer


def test_too_many_headers_get_431(guarded: RunningIndex) -> None:
    headers = [f"X-H{n}: {n}" for n in range(60)]
    with _connect(guarded) as sock:
        sock.sendall(_request("/metadata", *headers))
        answer = _read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:80]


def test_connections_beyond_the_limit_get_503(guarded: RunningIndex) -> None:
    held = [_connect(guarded) for _ in range(6)]
    try:
        time.sleep(0.3)  # let the server accept them (ordering only, not a timing check)
        with _connect(guarded) as extra:
            extra.sendall(_request("/metadata", "Connection: close"))
            answer = _read_until_closed(extra)
        assert answer.startswith(b"HTTP/1.1 503"), answer[:80]
    finally:
        for sock in held:
            sock.close()


# --- over TLS: the session's shared index_server ----------------------------------------


def _tls_handshake(index: RunningIndex, context: ssl.SSLContext) -> tuple[str, str]:
    parts = urlsplit(index.base_url)
    with (
        socket.create_connection((parts.hostname or "", parts.port or 0), timeout=GIVE_UP) as raw,
        context.wrap_socket(raw, server_hostname=parts.hostname) as tls,
    ):
        cipher = tls.cipher()
        assert cipher is not None
        return str(tls.version()), cipher[0]


def _client(index: RunningIndex) -> ssl.SSLContext:
    assert index.ca_cert is not None
    return ssl.create_default_context(cafile=str(index.ca_cert))


def test_tls_13_is_preferred(index_server: RunningIndex) -> None:
    assert _tls_handshake(index_server, _client(index_server))[0] == "TLSv1.3"


def test_tls_12_offers_aead_only(index_server: RunningIndex) -> None:
    context = _client(index_server)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    version, cipher = _tls_handshake(index_server, context)
    assert version == "TLSv1.2" and ("GCM" in cipher or "CHACHA20" in cipher)
    cbc = _client(index_server)
    cbc.maximum_version = ssl.TLSVersion.TLSv1_2
    cbc.set_ciphers("ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384:ECDHE-ECDSA-AES128-SHA256")
    with pytest.raises(ssl.SSLError):
        _tls_handshake(index_server, cbc)


def test_headers_over_tls(index_server: RunningIndex) -> None:
    for path in ("/metadata", "/Patient?family=x", "/nowhere"):
        response = requests.get(
            index_server.base_url + path, verify=index_server.verify, timeout=30
        )
        assert response.headers["strict-transport-security"].startswith("max-age=")
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["pragma"] == "no-cache"
        assert response.headers["x-content-type-options"] == "nosniff"


def test_hostile_requests_over_tls(index_server: RunningIndex, tmp_path: Path) -> None:
    token = sign_in_token(index_server)
    auth = {"Authorization": f"Bearer {token}"}

    def get(path: str, **headers: str) -> requests.Response:
        return requests.get(
            index_server.base_url + path,
            headers={**auth, **headers},
            verify=index_server.verify,
            timeout=30,
            allow_redirects=False,
        )

    search = "/Patient?family=Smithfield&birthdate=2011-03-14"
    assert get(search + "&_max-results=%C2%B2").status_code == 400
    assert get("/AuditEvent?agent=me&_count=%C2%B2").status_code == 400
    assert (
        get("/Patient/abc%0A/$everything", **{"X-Access-Reason": "health-care"}).status_code == 400
    )
    text = {"X-Access-Reason": "other", "X-Access-Reason-Text": "a%E2%80%AEb"}
    assert get("/Patient/abc/$everything", **text).status_code == 400
    slash = get("/Patient/", Host="evil.example")
    assert slash.status_code == 404 and "location" not in slash.headers
    assert get("/docs").status_code == 404
    assert get("/openapi.json").status_code == 200
    nested = requests.post(
        index_server.base_url + "/auth/session",
        data=b"[" * 2000,
        headers={"Content-Type": "application/json"},
        verify=index_server.verify,
        timeout=30,
    )
    assert nested.status_code == 400
