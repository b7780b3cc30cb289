"""TLS for the index client: verification always on, optional SPKI pins, abortable sockets.

`PinnedAdapter` answers every `https://` and `http://` request of the app's session and
refuses, before any connection, each one not addressed to the index's one origin (a
normalised URL: see `cpdesk.policy.normalise_server_url`), so no spelling of a host can
reach a connection without the pins. It ignores whatever `verify=` a caller
passes (there is no way to turn verification off) and trusts either one CA bundle or the
system store (OpenSSL's defaults, which the OS's own SSL_CERT_FILE/SSL_CERT_DIR steer),
never certifi and never `REQUESTS_CA_BUNDLE`. Each new connection checks the SPKI
SHA-256 of the server's key (or of a CA key above it in the verified chain) against the
pins right after the handshake, inside `connect()`, so a mismatch closes the socket
before a single request byte (a password) is written.

Every connection keeps a duplicate of its socket's file descriptor so that `abort_all()`,
called from any thread, can `shutdown()` it: a call blocked in the handshake or in a read
then fails at once instead of waiting out its timeout.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import socket
import ssl
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from requests.adapters import HTTPAdapter
from requests.exceptions import InvalidURL
from requests.models import PreparedRequest, Response
from urllib3 import HTTPSConnectionPool, PoolManager
from urllib3.connection import HTTPSConnection
from urllib3.exceptions import SSLError as Urllib3SSLError

if TYPE_CHECKING:
    from requests.adapters import _HostParams, _PoolKwargs

__all__ = [
    "CancelledConnection",
    "OriginRefused",
    "PinMismatch",
    "PinnedAdapter",
    "adapter_prefix",
    "spki_pin_of_der",
    "validate_pins",
]


class PinMismatch(Urllib3SSLError):
    """The server's key is not one of the pinned keys (no data in the message)."""


def spki_pin_of_der(der: bytes) -> str:
    """The base64 SHA-256 of the SubjectPublicKeyInfo of a DER certificate."""
    # Imported here: cryptography costs ~20 ms at start-up and only pinned connections need it.
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert = x509.load_der_x509_certificate(der)
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


def validate_pins(pins: Sequence[str]) -> frozenset[str]:
    """Normalise pins, refusing anything that is not a base64 SHA-256 (a typo pins nothing)."""
    clean: set[str] = set()
    for pin in pins:
        text = pin.strip()
        try:
            raw = base64.b64decode(text, validate=True)
        except ValueError:
            raw = b""
        if len(raw) != hashlib.sha256().digest_size:
            raise ValueError("an SPKI pin must be the base64 of a SHA-256 digest")
        clean.add(base64.b64encode(raw).decode("ascii"))
    return frozenset(clean)


def adapter_prefix(base_url: str) -> str:
    """The mount prefix for the index's origin ('https://host:port/')."""
    parts = urlsplit(base_url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}/"


class OriginRefused(InvalidURL):
    """A request to anywhere but the index's origin (no URL in the message)."""


def _origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) with the default port filled in; host as requests sent it."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is None:
        port = {"https": 443, "http": 80}.get(scheme, -1)
    return scheme, (parts.hostname or "").lower(), port


class CancelledConnection(OSError):
    """A connection made for a call that was cancelled while it connected."""


def _verified_chain(sock: ssl.SSLSocket) -> list[bytes]:
    """DER of the leaf, then (where Python exposes it) the rest of the verified chain.

    A pin may name the server's own key or a CA key above it (a backup pin that survives
    a new server certificate). Only the chain OpenSSL verified counts, never extra
    certificates a server merely sent. Python 3.13 has a public method; 3.11 and 3.12
    have the same one on the private SSL object; without either, only the leaf is used.
    """
    leaf = sock.getpeercert(binary_form=True)
    ders = [leaf] if leaf else []
    with contextlib.suppress(Exception):  # a private API: any surprise means leaf only
        public = getattr(sock, "get_verified_chain", None)
        if public is not None:
            return ders + [bytes(c) for c in public()[1:]]
        private = getattr(getattr(sock, "_sslobj", None), "get_verified_chain", None)
        if private is not None:
            der_format = getattr(ssl, "_ssl").ENCODING_DER  # noqa: B009
            return ders + [bytes(c.public_bytes(der_format)) for c in private()[1:]]
    return ders


class _Registry:
    """The live connections of one adapter, so another thread can abort them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._handles: dict[int, socket.socket] = {}
        self.should_abort: Callable[[], bool] = lambda: False

    def add(self, key: int, handle: socket.socket) -> None:
        with self._lock:
            self._handles[key] = handle

    def discard(self, key: int) -> None:
        with self._lock:
            handle = self._handles.pop(key, None)
        if handle is not None:
            handle.close()

    def abort_all(self) -> None:
        with self._lock:
            handles = list(self._handles.values())
        for handle in handles:
            # Already closed or never connected: nothing to abort.
            with contextlib.suppress(OSError):
                handle.shutdown(socket.SHUT_RDWR)


class _PinnedConnection(HTTPSConnection):
    """An HTTPS connection that checks pins after the handshake and can be aborted."""

    pins: frozenset[str] = frozenset()
    registry: _Registry | None = None

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        if self.registry is not None:
            # A duplicate descriptor: shutdown() on it stops the TCP connection whatever the
            # TLS layer above is doing, without touching the SSLSocket from another thread.
            self.registry.add(id(self), sock.dup())
            # Checked after registering: a cancel that came before this point is seen here,
            # one that comes after finds the socket in the registry and shuts it down.
            if self.registry.should_abort():
                self.registry.discard(id(self))
                sock.close()
                raise CancelledConnection("cancelled")
        return sock

    def connect(self) -> None:
        super().connect()
        if not self.pins:
            return
        sock = self.sock
        ders = _verified_chain(sock) if isinstance(sock, ssl.SSLSocket) else []
        if not any(spki_pin_of_der(der) in self.pins for der in ders):
            self.close()
            raise PinMismatch("the server's key does not match the pinned key")

    def close(self) -> None:
        if self.registry is not None:
            self.registry.discard(id(self))
        super().close()


class PinnedAdapter(HTTPAdapter):
    """A requests adapter that always verifies, against one trust anchor, with pins."""

    def __init__(self, *, origin: str, ca_bundle: str | None, pins: frozenset[str]) -> None:
        """`origin`: the index's normalised https URL; every other origin is refused."""
        self._origin = _origin(origin)
        self._ca_bundle = ca_bundle or None
        self._pins = pins
        self._registry = _Registry()
        if self._ca_bundle:
            # Only this bundle: create_default_context loads no system roots when given one.
            self._context = ssl.create_default_context(cafile=self._ca_bundle)
        else:
            self._context = ssl.create_default_context()
        self._context.minimum_version = ssl.TLSVersion.TLSv1_2
        super().__init__(max_retries=0)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        connection_cls = type(
            "PinnedConnection",
            (_PinnedConnection,),
            {"pins": self._pins, "registry": self._registry},
        )
        pool_cls = type("PinnedPool", (HTTPSConnectionPool,), {"ConnectionCls": connection_cls})
        self._pool_connections = connections
        self._pool_maxsize = maxsize
        self._pool_block = block
        self.poolmanager = PoolManager(num_pools=connections, maxsize=maxsize, block=block)
        # Only https: a plain-http request through this adapter has no pool and fails.
        self.poolmanager.pool_classes_by_scheme = {"https": pool_cls}

    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> Response:
        """Refuse, before any connection, every request not for the index's origin."""
        if request.url is None or _origin(request.url) != self._origin:
            raise OriginRefused("cpdesk sends requests to its index server only")
        return super().send(request, *args, **kwargs)

    def build_connection_pool_key_attributes(
        self, request: PreparedRequest, verify: bool | str, cert: Any = None
    ) -> tuple[_HostParams, _PoolKwargs]:
        """Ignore the caller's `verify`: trust is fixed when the adapter is made."""
        host_params, _ = super().build_connection_pool_key_attributes(request, True, None)
        pool_kwargs: _PoolKwargs = {"ssl_context": self._context, "cert_reqs": "CERT_REQUIRED"}
        return host_params, pool_kwargs

    def cert_verify(self, conn: Any, url: str, verify: bool | str | None, cert: Any) -> None:
        """Never fall back to certifi's bundle; the pool's context already holds the anchor."""
        conn.cert_reqs = "CERT_REQUIRED"
        conn.ca_certs = None
        conn.ca_cert_dir = None

    def set_abort_check(self, should_abort: Callable[[], bool]) -> None:
        """`should_abort()` runs in the calling thread as each new connection opens."""
        self._registry.should_abort = should_abort

    def abort_all(self) -> None:
        """Shut down every live connection so blocked calls fail now (any thread)."""
        self._registry.abort_all()
        self.poolmanager.clear()
