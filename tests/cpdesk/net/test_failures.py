"""Failure paths over real loopback sockets: down, stalling, malformed, cancelled."""

import datetime as dt
import threading
from collections.abc import Iterator

import pytest
import requests

from cpdesk import errors
from cpdesk.demo_certs import DemoCertificates, make_demo_certificates
from cpdesk.net import IndexClient, make_http_session
from cpdesk.records import AccessReason, SearchQuery
from tests.helpers.loopback_tls import STALL, LoopbackServer, RawRequest, closed_port, http_response

from . import samples

QUERY = SearchQuery(family="Smithfield", birthdate=dt.date(2011, 3, 14))
JOIN = 20.0  # a liveness bound for worker threads, far above any expected time


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> DemoCertificates:
    return make_demo_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def http() -> Iterator[requests.Session]:
    session = make_http_session()
    yield session
    session.close()


def _client(http: requests.Session, url: str, certs: DemoCertificates, **kw: float) -> IndexClient:
    return IndexClient(
        http,
        url,
        ca_bundle=str(certs.ca_cert),
        spki_pins=[certs.spki_pin],
        retry_backoff=0.01,
        **kw,
    )


def _sign_in_then(after: bytes | None) -> "tuple[list[int], object]":
    """A responder: the sign-in succeeds, every later request gets `after`."""
    seen: list[int] = []

    def respond(request: RawRequest) -> bytes:
        seen.append(1)
        if request.target == "/auth/session":
            return http_response(201, samples.session_body())
        return after if after is not None else STALL

    return seen, respond


def test_server_down_is_unreachable(http: requests.Session, certs: DemoCertificates) -> None:
    client = _client(http, f"https://127.0.0.1:{closed_port()}", certs)
    with pytest.raises(errors.ServerUnreachable) as caught:
        client.sign_in("nurse.demo", "pw", "123456")
    assert "cannot be reached" in caught.value.user_message


def test_stalling_server_times_out_and_get_is_retried_once(
    http: requests.Session, certs: DemoCertificates
) -> None:
    _, respond = _sign_in_then(None)
    with LoopbackServer(respond, certs=certs) as server:  # type: ignore[arg-type]
        client = _client(http, server.base_url, certs, read_timeout=0.3)
        client.sign_in("nurse.demo", "pw", "123456")
        with pytest.raises(errors.ServerTimeout):
            client.search(QUERY)
        assert [r.target.split("?")[0] for r in server.requests] == [
            "/auth/session",
            "/Patient",
            "/Patient",
        ]


def test_stalling_sign_in_times_out_without_retry(
    http: requests.Session, certs: DemoCertificates
) -> None:
    with LoopbackServer(lambda r: STALL, certs=certs) as server:
        client = _client(http, server.base_url, certs, read_timeout=0.3)
        with pytest.raises(errors.ServerTimeout):
            client.sign_in("nurse.demo", "pw", "123456")
        assert len(server.requests) == 1


@pytest.mark.parametrize(
    "reply",
    [
        http_response(200, b'{"resourceType": "Bundle", "entry": [tru'),
        http_response(200, b"<html>proxy error</html>"),
        http_response(
            200, {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": {}}]}
        ),
    ],
)
def test_malformed_answer_is_readable_error(
    http: requests.Session, certs: DemoCertificates, reply: bytes
) -> None:
    _, respond = _sign_in_then(reply)
    with LoopbackServer(respond, certs=certs) as server:  # type: ignore[arg-type]
        client = _client(http, server.base_url, certs)
        client.sign_in("nurse.demo", "pw", "123456")
        with pytest.raises(errors.MalformedResponse) as caught:
            client.search(QUERY)
        assert caught.value.user_message.startswith(
            "The server sent an answer this version cannot read"
        )


def test_server_closing_mid_answer_is_unreachable(
    http: requests.Session, certs: DemoCertificates
) -> None:
    cut = http_response(200, samples.searchset(samples.patient()))[:-20]

    def respond(request: RawRequest) -> bytes:
        if request.target == "/auth/session":
            return http_response(201, samples.session_body())
        return cut + b"\r\n"  # fewer bytes than Content-Length, then the server stops

    with LoopbackServer(respond, certs=certs) as server:
        client = _client(http, server.base_url, certs, read_timeout=0.3)
        client.sign_in("nurse.demo", "pw", "123456")
        with pytest.raises((errors.ServerTimeout, errors.ServerUnreachable)):
            client.search(QUERY)


def _run_in_worker(call: "object") -> "tuple[threading.Thread, list[BaseException]]":
    raised: list[BaseException] = []

    def work() -> None:
        try:
            call()  # type: ignore[operator]
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread, raised


def test_cancel_all_abandons_a_stalled_read(
    http: requests.Session, certs: DemoCertificates
) -> None:
    _, respond = _sign_in_then(None)
    with LoopbackServer(respond, certs=certs) as server:  # type: ignore[arg-type]
        client = _client(http, server.base_url, certs, read_timeout=600)
        client.sign_in("nurse.demo", "pw", "123456")
        server.request_seen.clear()
        thread, raised = _run_in_worker(lambda: client.record("c-1", AccessReason.EMERGENCY_CARE))
        assert server.request_seen.wait(JOIN)
        client.cancel_all()
        thread.join(JOIN)
        assert not thread.is_alive()
        assert len(raised) == 1 and isinstance(raised[0], errors.Cancelled)
        assert len(server.requests) == 2  # the cancelled GET is not retried
        assert client.signed_in  # cancelling is not signing out


def test_cancel_all_abandons_a_stalled_handshake(
    http: requests.Session, certs: DemoCertificates
) -> None:
    with LoopbackServer(lambda r: STALL, certs=certs, stall_handshake=True) as server:
        client = _client(http, server.base_url, certs, connect_timeout=600)
        thread, raised = _run_in_worker(lambda: client.sign_in("nurse.demo", "pw", "123456"))
        assert server.connected.wait(JOIN)
        client.cancel_all()
        thread.join(JOIN)
        assert not thread.is_alive()
        assert len(raised) == 1 and isinstance(raised[0], errors.Cancelled)
        assert bytes(server.received) == b""


def test_client_works_again_after_cancel(http: requests.Session, certs: DemoCertificates) -> None:
    stall = threading.Event()
    stall.set()

    def respond(request: RawRequest) -> bytes:
        if request.target == "/auth/session":
            return http_response(201, samples.session_body())
        if stall.is_set():
            return STALL
        return http_response(200, samples.searchset(samples.patient()))

    with LoopbackServer(respond, certs=certs) as server:
        client = _client(http, server.base_url, certs, read_timeout=600)
        client.sign_in("nurse.demo", "pw", "123456")
        server.request_seen.clear()
        thread, raised = _run_in_worker(lambda: client.search(QUERY))
        assert server.request_seen.wait(JOIN)
        stall.clear()
        client.cancel_all()
        thread.join(JOIN)
        assert isinstance(raised[0], errors.Cancelled)
        assert len(client.search(QUERY).children) == 1


def test_cancel_landing_while_a_connection_opens_is_not_lost(
    http: requests.Session, certs: DemoCertificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race: cancel_all() after the call began but before its socket was registered."""
    with LoopbackServer(lambda r: STALL, certs=certs) as server:
        client = _client(http, server.base_url, certs, read_timeout=600)
        registry = client._adapter._registry
        real_add = registry.add

        def add_after_cancel(key: int, handle: object) -> None:
            client.cancel_all()  # lands just before this connection becomes abortable
            real_add(key, handle)  # type: ignore[arg-type]

        monkeypatch.setattr(registry, "add", add_after_cancel)
        with pytest.raises(errors.Cancelled):
            client.sign_in("nurse.demo", "pw", "123456")
        assert bytes(server.received) == b""


def test_an_endless_answer_is_cut_off_as_malformed(
    http: requests.Session, certs: DemoCertificates
) -> None:
    from cpdesk.net.client import MAX_RESPONSE_BYTES

    huge = b" " * (MAX_RESPONSE_BYTES + 1)
    _, respond = _sign_in_then(http_response(200, huge))
    with LoopbackServer(respond, certs=certs) as server:  # type: ignore[arg-type]
        client = _client(http, server.base_url, certs)
        client.sign_in("nurse.demo", "pw", "123456")
        with pytest.raises(errors.MalformedResponse):
            client.search(QUERY)
        assert len(server.requests) == 2  # not retried


def test_the_session_keeps_no_cookies(http: requests.Session, certs: DemoCertificates) -> None:
    cookie = {"Set-Cookie": "track=1; Path=/"}

    def respond(request: RawRequest) -> bytes:
        if request.target == "/auth/session":
            return http_response(201, samples.session_body(), headers=cookie)
        return http_response(200, samples.searchset(), headers=cookie)

    with LoopbackServer(respond, certs=certs) as server:
        client = _client(http, server.base_url, certs)
        client.sign_in("nurse.demo", "pw", "123456")
        client.search(QUERY)
        assert len(http.cookies) == 0
        assert all("cookie" not in r.headers for r in server.requests)
