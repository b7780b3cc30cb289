"""Pins hold for every spelling of the host: one pinned origin, every other request refused.

requests IDNA-encodes the host before choosing an adapter, so an adapter mounted on the
raw `https://bücher.example/` prefix was never used: the ordinary adapter signed in past a
wrong pin. The host is now normalised once and the pinned adapter answers every
`https://` and `http://` request, refusing all but its own origin before any connection.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from cpdesk import errors
from cpdesk.demo_certs import DemoCertificates, make_demo_certificates
from cpdesk.net import IndexClient
from tests.helpers.loopback_tls import LoopbackServer

from . import samples

PASSWORD = "canary-password-idn-41c2"
IDN_HOST = "bücher.example"
ACE_HOST = "xn--bcher-kva.example"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> DemoCertificates:
    """A CA and a server certificate that really names the IDN host (its A-label)."""
    return make_demo_certificates(tmp_path_factory.mktemp("idn-a"), hostnames=(ACE_HOST,))


@pytest.fixture(scope="module")
def other(tmp_path_factory: pytest.TempPathFactory) -> DemoCertificates:
    return make_demo_certificates(tmp_path_factory.mktemp("idn-b"))


@pytest.fixture
def idn_resolves_to_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """The IDN host (in any spelling the resolver is given) is 127.0.0.1 for this test."""
    real = socket.getaddrinfo

    def fake(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if isinstance(name, str) and name.rstrip(".").lower() in (ACE_HOST, IDN_HOST):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


@pytest.fixture
def server(certs: DemoCertificates) -> Iterator[LoopbackServer]:
    with LoopbackServer(samples.sign_in_or_search, certs=certs) as running:
        yield running


@pytest.mark.usefixtures("idn_resolves_to_loopback")
@pytest.mark.parametrize(
    "spelling",
    [
        "https://bücher.example:{port}",
        "https://BÜCHER.Example:{port}/",
        "https://bücher.example.:{port}",
        "https://xn--bcher-kva.example:{port}",
    ],
)
def test_a_wrong_pin_sends_zero_bytes_whatever_the_host_spelling(
    spelling: str,
    server: LoopbackServer,
    certs: DemoCertificates,
    other: DemoCertificates,
    http: requests.Session,
) -> None:
    url = spelling.format(port=server.port)
    client = IndexClient(http, url, ca_bundle=str(certs.ca_cert), spki_pins=[other.spki_pin])
    with pytest.raises(errors.CertificateError):
        client.sign_in("nurse.demo", PASSWORD, "123456")
    assert server.connected.is_set()  # it did reach the server: the pin refused it
    assert bytes(server.received) == b""
    assert not client.signed_in


@pytest.mark.usefixtures("idn_resolves_to_loopback")
def test_the_right_pin_signs_in_through_the_idn_host(
    server: LoopbackServer, certs: DemoCertificates, http: requests.Session
) -> None:
    client = IndexClient(
        http,
        f"https://bücher.example:{server.port}",
        ca_bundle=str(certs.ca_cert),
        spki_pins=[certs.spki_pin],
    )
    client.sign_in("nurse.demo", PASSWORD, "123456")
    assert PASSWORD.encode() in server.received


@pytest.mark.usefixtures("idn_resolves_to_loopback")
@pytest.mark.parametrize(
    "elsewhere",
    [
        "https://127.0.0.1:{port}/metadata",  # the same server under another name
        "https://localhost:{port}/metadata",
        "https://xn--bcher-kva.example:{other_port}/metadata",  # same host, other port
        "http://xn--bcher-kva.example:{port}/metadata",  # same host, plain http
        "http://127.0.0.1:{port}/metadata",
    ],
)
def test_every_other_origin_is_refused_before_connecting(
    elsewhere: str,
    server: LoopbackServer,
    certs: DemoCertificates,
    http: requests.Session,
) -> None:
    IndexClient(
        http,
        f"https://bücher.example:{server.port}",
        ca_bundle=str(certs.ca_cert),
        spki_pins=[certs.spki_pin],
    )
    with LoopbackServer(samples.sign_in_or_search, certs=certs) as second:
        url = elsewhere.format(port=server.port, other_port=second.port)
        with pytest.raises(requests.RequestException):
            http.get(url, timeout=5, verify=str(certs.ca_cert))
        assert not server.connected.is_set()
        assert not second.connected.is_set()
    assert bytes(server.received) == b""
