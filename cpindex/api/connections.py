"""Connection-level limits uvicorn does not give: slow and oversized requests.

uvicorn's HTTP protocol (httptools) has no bound on the header block, no bound on the
number of header fields, and no read timeout: a connection that sends nothing, half a
header block or half a body stays open as long as the client likes (slowloris). This
subclass adds, per connection:

- an idle deadline: a new connection must start a request within the keep-alive timeout
  (uvicorn's own keep-alive timer covers the time between requests);
- a read deadline: once a request has started, its header block and body must all be in
  within the read timeout, else the connection is closed;
- the header block bounded in bytes (counted as it arrives, so a 16 MiB header is cut off
  after the limit, not buffered) and in fields: 431 and the connection closed.

Concurrent connections are bounded by uvicorn's `limit_concurrency` (503 above it).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["ConnectionLimits", "guarded_protocol"]


class _HeadersTooLarge(Exception):
    pass


class ConnectionLimits:
    def __init__(
        self, *, max_header_bytes: int, max_headers: int, idle_timeout: float, read_timeout: float
    ) -> None:
        self.max_header_bytes = max_header_bytes
        self.max_headers = max_headers
        self.idle_timeout = idle_timeout
        self.read_timeout = read_timeout


_431 = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: application/fhir+json\r\n"
    b"cache-control: no-store\r\npragma: no-cache\r\nx-content-type-options: nosniff\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s"
)
_431_BODY = (
    b'{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"too-long",'
    b'"details":{"coding":[{"system":"https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode",'
    b'"version":"1","code":"INVALID_VALUE","display":"Provided value is invalid"}]},'
    b'"diagnostics":"The request headers are too large or too many."}]}'
)


class _GuardedProtocol(HttpToolsProtocol):
    limits: ConnectionLimits

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._in_request = False  # a request has started and is not yet all in
        self._in_headers = True  # its header block is not yet complete
        self._header_bytes = 0
        self._header_count = 0
        self._refused = False
        self._deadline: asyncio.TimerHandle | None = None
        self._arm(self.limits.idle_timeout)

    def _arm(self, seconds: float) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = self.loop.call_later(seconds, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if not self._in_request:
            self._in_request = True
            self._in_headers = True
            self._header_bytes = self._header_count = 0
            self._arm(self.limits.read_timeout)
        if self._in_headers:
            end = data.find(b"\r\n\r\n")
            self._header_bytes += len(data) if end < 0 else end
            if self._header_bytes > self.limits.max_header_bytes:
                self._refuse()
                return
        super().data_received(data)

    def _refuse(self) -> None:
        self._refused = True
        self._disarm()
        self.transport.write(_431 % (len(_431_BODY), _431_BODY))
        self.transport.close()

    def send_400_response(self, msg: str) -> None:
        if self._refused:  # a header callback refused the request: answer 431, once
            return
        super().send_400_response(msg)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.limits.max_headers:
            self._refuse()
            raise _HeadersTooLarge
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_headers = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_request = False
        self._disarm()
        super().on_message_complete()


def guarded_protocol(limits: ConnectionLimits) -> type[Any]:
    """An httptools protocol class bound to `limits` (uvicorn's `http=` takes a class)."""
    return type("GuardedHttpToolsProtocol", (_GuardedProtocol,), {"limits": limits})
