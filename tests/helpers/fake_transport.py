"""A fake requests transport: a `BaseAdapter` that hands each request to a plain function.

The same idea as httpx's MockTransport: parsing and error mapping are tested without
sockets. Mount it *after* making the IndexClient (which mounts its TLS adapter on the
same prefix) with `mount_fake`. A handler returns a `requests.Response` (see `fhir_json`)
or raises a requests exception to simulate the network failing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from cpdesk.net.tls import adapter_prefix

Handler = Callable[[requests.PreparedRequest], requests.Response]


@dataclass
class Sent:
    """One request as the transport saw it, with the keyword arguments requests passed."""

    request: requests.PreparedRequest
    timeout: Any
    verify: Any
    proxies: Any

    @property
    def headers(self) -> Mapping[str, str]:
        return self.request.headers

    def json(self) -> Any:
        body = self.request.body
        return json.loads(body) if body else None


@dataclass
class FakeTransport(BaseAdapter):
    handler: Handler
    sent: list[Sent] = field(default_factory=list)
    closed: bool = False

    def __post_init__(self) -> None:
        super().__init__()

    def send(  # type: ignore[override]
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        self.sent.append(Sent(request, timeout, verify, proxies))
        response = self.handler(request)
        response.request = request
        response.url = request.url or ""
        return response

    def close(self) -> None:
        self.closed = True


def fhir_json(
    status: int = 200,
    body: object = None,
    *,
    headers: Mapping[str, str] | None = None,
    raw: bytes | None = None,
) -> requests.Response:
    """A response with a JSON body (or `raw` bytes as they are)."""
    response = requests.Response()
    response.status_code = status
    response._content = (
        raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    )
    response.headers = CaseInsensitiveDict(
        {"Content-Type": "application/fhir+json", **(headers or {})}
    )
    response.encoding = "utf-8"
    response._content_consumed = True  # type: ignore[attr-defined]  # as if read, like requests does
    return response


def outcome(code: str, pds_code: str, diagnostics: str, severity: str = "error") -> dict[str, Any]:
    """An OperationOutcome shaped as docs/api.md shapes errors."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": severity,
                "code": code,
                "details": {
                    "coding": [
                        {
                            "system": "https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode",
                            "version": "1",
                            "code": pds_code,
                        }
                    ]
                },
                "diagnostics": diagnostics,
            }
        ],
    }


def mount_fake(session: requests.Session, base_url: str, handler: Handler) -> FakeTransport:
    """Put a FakeTransport where the IndexClient mounted its TLS adapter."""
    transport = FakeTransport(handler)
    session.mount(adapter_prefix(base_url), transport)
    return transport
