"""A marker name in answers must never reach a log line or an exception's text."""

import datetime as dt
import logging
import traceback
from collections.abc import Callable, Iterator

import pytest
import requests

from cpdesk import errors
from cpdesk.demo_certs import DemoCertificates, make_demo_certificates
from cpdesk.net import IndexClient, make_http_session
from cpdesk.records import AccessReason, SearchQuery
from tests.helpers.fake_transport import fhir_json
from tests.helpers.loopback_tls import LoopbackServer, RawRequest, http_response

from . import samples
from .conftest import Faked

MARKER = "Quillonda Zephyrwick"
GIVEN, FAMILY = MARKER.split()
QUERY = SearchQuery(
    family=FAMILY, given=(GIVEN,), birthdate=dt.date(2011, 3, 14), postcode="ZZ9 9ZZ"
)


def _marked_patient() -> dict[str, object]:
    return samples.patient("c-1", given=(GIVEN,), family=FAMILY)


def _bad_bodies() -> list[bytes]:
    broken_date = _marked_patient()
    broken_date["birthDate"] = f"{MARKER}-03"
    return [
        f'{{"resourceType": "Bundle", "note": "{MARKER}", '.encode(),
        http_response(200, b"")[:0] + f"<html>{MARKER}</html>".encode(),
        __import__("json").dumps(samples.searchset(broken_date)).encode(),
        __import__("json")
        .dumps(
            {
                "resourceType": "Bundle",
                "type": "searchset",
                "entry": [{"resource": {"resourceType": "Patient", "id": MARKER}}],
            }
        )
        .encode(),
    ]


def _texts(exc: BaseException) -> str:
    parts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    seen: BaseException | None = exc
    while seen is not None:
        parts.append(repr(seen))
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


def _assert_clean(text: str) -> None:
    for piece in (MARKER, GIVEN, FAMILY, "ZZ9"):
        assert piece not in text


@pytest.fixture(autouse=True)
def _debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    records = caplog.get_records("setup") + caplog.get_records("call")
    text = "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in records)
    _assert_clean(text)
    assert "request_id=" in text  # the client did log, only allowlisted fields


def test_success_paths_log_no_child_data(signed_in: Faked) -> None:
    signed_in.queue(fhir_json(200, samples.searchset(_marked_patient())))
    assert signed_in.client.search(QUERY).children[0].family == FAMILY
    body = samples.everything("c-1")
    body["entry"][0]["resource"] = _marked_patient()
    signed_in.queue(fhir_json(200, body))
    record = signed_in.client.record("c-1", AccessReason.OTHER, f"checking on {MARKER}")
    _assert_clean(repr(record))


@pytest.mark.parametrize("index", range(4))
def test_malformed_answers_leak_nothing(signed_in: Faked, index: int) -> None:
    signed_in.queue(fhir_json(200, raw=_bad_bodies()[index]))
    with pytest.raises(errors.MalformedResponse) as caught:
        signed_in.client.search(QUERY)
    _assert_clean(_texts(caught.value))


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 429, 500, 503])
def test_error_answers_leak_nothing_but_diagnostics(signed_in: Faked, status: int) -> None:
    body = {"detail": [{"loc": ["query", "family"], "input": MARKER}], "resourceType": MARKER}
    signed_in.queue(fhir_json(status, body))
    with pytest.raises(errors.UserFacingError) as caught:
        signed_in.client.search(QUERY)
    _assert_clean(_texts(caught.value))


@pytest.mark.parametrize(
    "exc",
    [
        requests.exceptions.ConnectionError(f"GET /Patient?family={FAMILY} failed"),
        requests.exceptions.ReadTimeout(f"/Patient?given={GIVEN}"),
        requests.exceptions.SSLError(f"{MARKER}"),
    ],
)
def test_transport_errors_leak_nothing(signed_in: Faked, exc: Exception) -> None:
    signed_in.queue(exc)
    with pytest.raises(errors.UserFacingError) as caught:
        signed_in.client.search(QUERY)
    _assert_clean(_texts(caught.value))


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> DemoCertificates:
    return make_demo_certificates(tmp_path_factory.mktemp("tls"))


@pytest.mark.parametrize("make_reply", [lambda: _bad_bodies()[0], lambda: None])
def test_real_sockets_and_urllib3_debug_logs_leak_nothing(
    certs: DemoCertificates, make_reply: Callable[[], bytes | None]
) -> None:
    reply = make_reply()

    def respond(request: RawRequest) -> bytes:
        if request.target == "/auth/session":
            return http_response(201, samples.session_body())
        if reply is None:
            return http_response(200, samples.searchset(_marked_patient()))
        return http_response(200, reply)

    http = make_http_session()
    with LoopbackServer(respond, certs=certs) as server:
        client = IndexClient(http, server.base_url, ca_bundle=str(certs.ca_cert))
        client.sign_in("nurse.demo", "pw", "123456")
        try:
            client.search(QUERY)
        except errors.MalformedResponse as exc:
            _assert_clean(_texts(exc))
        assert any(GIVEN in r.target for r in server.requests)  # the query did travel
    http.close()
