"""Real TLS on loopback: pins, foreign CAs, host names and the environment's CA variables."""

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from cpdesk import errors
from cpdesk.demo_certs import DemoCertificates, make_demo_certificates
from cpdesk.net import IndexClient
from tests.helpers.loopback_tls import LoopbackServer

from . import samples

PASSWORD = "canary-password-7f3a"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> DemoCertificates:
    return make_demo_certificates(tmp_path_factory.mktemp("tls-a"))


@pytest.fixture(scope="module")
def other(tmp_path_factory: pytest.TempPathFactory) -> DemoCertificates:
    """Another CA and server key: what an impostor (or a stale pin) looks like."""
    return make_demo_certificates(tmp_path_factory.mktemp("tls-b"))


@pytest.fixture
def server(certs: DemoCertificates) -> Iterator[LoopbackServer]:
    with LoopbackServer(samples.sign_in_or_search, certs=certs) as running:
        yield running


def test_trusted_ca_and_matching_pin_signs_in(
    server: LoopbackServer, certs: DemoCertificates, http: requests.Session
) -> None:
    client = IndexClient(
        http, server.base_url, ca_bundle=str(certs.ca_cert), spki_pins=[certs.spki_pin]
    )
    assert client.sign_in("nurse.demo", PASSWORD, "123456").user.username == "nurse.demo"
    assert client.signed_in
    assert PASSWORD.encode() in server.received


def test_any_of_several_pins_may_match(
    server: LoopbackServer, certs: DemoCertificates, other: DemoCertificates, http: requests.Session
) -> None:
    client = IndexClient(
        http,
        server.base_url,
        ca_bundle=str(certs.ca_cert),
        spki_pins=[other.spki_pin, certs.spki_pin],
    )
    client.sign_in("nurse.demo", PASSWORD, "123456")


def test_pin_mismatch_sends_nothing_not_even_the_password(
    server: LoopbackServer, certs: DemoCertificates, other: DemoCertificates, http: requests.Session
) -> None:
    client = IndexClient(
        http, server.base_url, ca_bundle=str(certs.ca_cert), spki_pins=[other.spki_pin]
    )
    with pytest.raises(errors.CertificateError) as caught:
        client.sign_in("nurse.demo", PASSWORD, "123456")
    assert "nothing was sent" in caught.value.user_message
    assert server.connected.is_set()  # the handshake did happen: the pin check refused it
    assert bytes(server.received) == b""
    assert server.requests == []
    assert not client.signed_in


def test_certificate_from_another_ca_is_refused(
    server: LoopbackServer, other: DemoCertificates, http: requests.Session
) -> None:
    client = IndexClient(http, server.base_url, ca_bundle=str(other.ca_cert))
    with pytest.raises(errors.CertificateError):
        client.sign_in("nurse.demo", PASSWORD, "123456")
    assert bytes(server.received) == b""


def test_system_store_does_not_trust_the_demo_ca(
    server: LoopbackServer, http: requests.Session
) -> None:
    client = IndexClient(http, server.base_url)
    with pytest.raises(errors.CertificateError):
        client.sign_in("nurse.demo", PASSWORD, "123456")
    assert bytes(server.received) == b""


def test_wrong_host_name_is_refused(certs: DemoCertificates, http: requests.Session) -> None:
    # The certificate names 127.0.0.1 and localhost; 127.0.0.2 is loopback but not named.
    with LoopbackServer(samples.sign_in_or_search, certs=certs, host="127.0.0.2") as impostor:
        client = IndexClient(http, impostor.base_url, ca_bundle=str(certs.ca_cert))
        with pytest.raises(errors.CertificateError):
            client.sign_in("nurse.demo", PASSWORD, "123456")
        assert bytes(impostor.received) == b""


def test_requests_ca_bundle_in_the_environment_does_not_widen_trust(
    server: LoopbackServer,
    certs: DemoCertificates,
    other: DemoCertificates,
    http: requests.Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.setenv(name, str(certs.ca_cert))
    for ca_bundle in (str(other.ca_cert), None):
        client = IndexClient(http, server.base_url, ca_bundle=ca_bundle)
        with pytest.raises(errors.CertificateError):
            client.sign_in("nurse.demo", PASSWORD, "123456")
    assert bytes(server.received) == b""


def test_requests_ca_bundle_in_the_environment_does_not_narrow_trust(
    server: LoopbackServer,
    certs: DemoCertificates,
    other: DemoCertificates,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.setenv(name, str(other.ca_cert))
    session = requests.Session()  # even a session made elsewhere, trust_env on
    client = IndexClient(session, server.base_url, ca_bundle=str(certs.ca_cert))
    client.sign_in("nurse.demo", PASSWORD, "123456")
    session.close()


def test_verify_false_from_a_caller_cannot_turn_verification_off(
    server: LoopbackServer, other: DemoCertificates, http: requests.Session
) -> None:
    IndexClient(http, server.base_url, ca_bundle=str(other.ca_cert))
    with pytest.raises(requests.exceptions.SSLError):
        http.get(server.base_url + "/metadata", verify=False, timeout=5)
    assert bytes(server.received) == b""


def test_plain_http_through_the_session_is_not_possible(
    http: requests.Session, tmp_path: Path
) -> None:
    with pytest.raises(errors.PolicyError):
        IndexClient(http, "http://127.0.0.1:1")


def test_log_names_the_cause_class_only(
    server: LoopbackServer,
    certs: DemoCertificates,
    other: DemoCertificates,
    http: requests.Session,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="cpdesk.net")
    pinned = IndexClient(
        http, server.base_url, ca_bundle=str(certs.ca_cert), spki_pins=[other.spki_pin]
    )
    with pytest.raises(errors.CertificateError):
        pinned.sign_in("nurse.demo", PASSWORD, "123456")
    untrusted = IndexClient(http, server.base_url, ca_bundle=str(other.ca_cert))
    with pytest.raises(errors.CertificateError):
        untrusted.sign_in("nurse.demo", PASSWORD, "123456")
    lines = [r.getMessage() for r in caplog.records if r.name == "cpdesk.net.client"]
    assert any("cause=PinMismatch" in line for line in lines)
    assert any("cause=SSLCertVerificationError" in line for line in lines)
    assert all(PASSWORD not in line and "127.0.0.1" not in line for line in lines)


def _ca_pin(certs: DemoCertificates) -> str:
    from cryptography import x509

    from cpdesk.demo_certs import spki_sha256

    return spki_sha256(x509.load_pem_x509_certificate(certs.ca_cert.read_bytes()))


def test_a_pin_may_name_the_ca_key_of_the_verified_chain(
    server: LoopbackServer, certs: DemoCertificates, http: requests.Session
) -> None:
    client = IndexClient(
        http, server.base_url, ca_bundle=str(certs.ca_cert), spki_pins=[_ca_pin(certs)]
    )
    client.sign_in("nurse.demo", PASSWORD, "123456")


def test_a_ca_pin_of_another_ca_still_refuses(
    server: LoopbackServer, certs: DemoCertificates, other: DemoCertificates, http: requests.Session
) -> None:
    client = IndexClient(
        http, server.base_url, ca_bundle=str(certs.ca_cert), spki_pins=[_ca_pin(other)]
    )
    with pytest.raises(errors.CertificateError):
        client.sign_in("nurse.demo", PASSWORD, "123456")
    assert bytes(server.received) == b""
