import datetime as dt
import uuid
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from cpdesk import errors
from cpdesk.demo_certs import make_demo_certificates
from cpdesk.net import IndexClient, make_http_session
from cpdesk.records import AccessReason, SearchQuery
from tests.helpers.fake_transport import fhir_json, mount_fake, outcome

from . import samples
from .conftest import Faked

QUERY = SearchQuery(family="Smithfield", given=("Olivia",), birthdate=dt.date(2011, 3, 14))


def test_sign_in_posts_credentials_and_keeps_token(faked: Faked) -> None:
    faked.queue(fhir_json(201, samples.session_body("tok-9")))
    result = faked.client.sign_in("nurse.demo", "pw", "123456")
    assert result.user.display_name == "Sam Okafor"
    assert result.user.role == "practitioner"
    assert result.idle_timeout_seconds == 900
    assert result.absolute_expires_at == dt.datetime(2026, 11, 26, 20, 0, tzinfo=dt.UTC)
    assert faked.client.signed_in
    assert faked.client.absolute_expires_at == result.absolute_expires_at
    (sent,) = faked.transport.sent
    assert sent.request.method == "POST"
    assert sent.request.url == "https://index.test:8443/auth/session"
    assert sent.json() == {"username": "nurse.demo", "password": "pw", "otp": "123456"}
    assert "Authorization" not in sent.headers


def test_every_request_has_its_own_request_id_timeouts_and_explicit_verify(
    signed_in: Faked,
) -> None:
    signed_in.queue(fhir_json(200, samples.searchset()))
    signed_in.client.search(QUERY)
    signed_in.client.search(QUERY)
    ids = [s.headers["X-Request-ID"] for s in signed_in.transport.sent]
    assert len(set(ids)) == 2
    assert all(uuid.UUID(i).version == 4 for i in ids)
    for sent in signed_in.transport.sent:
        assert sent.timeout == (5.0, 15.0)
        assert sent.verify is True
        assert sent.proxies == {}
        assert sent.headers["Authorization"] == "Bearer tok-1"
        assert sent.headers["Accept"] == "application/fhir+json"


def test_ca_bundle_and_timeouts_are_passed_on_each_request(tmp_path: Path) -> None:
    ca = str(make_demo_certificates(tmp_path).ca_cert)
    session = make_http_session()
    client = IndexClient(session, "https://index.test", ca_bundle=ca, read_timeout=2.5)
    transport = mount_fake(
        session, "https://index.test", lambda r: fhir_json(201, samples.session_body())
    )
    client.sign_in("u", "p", "1")
    assert transport.sent[0].verify == ca
    assert transport.sent[0].timeout == (5.0, 2.5)
    session.close()


def test_search_sends_query_and_parses_rows(signed_in: Faked) -> None:
    signed_in.queue(fhir_json(200, samples.searchset(samples.patient())))
    result = signed_in.client.search(QUERY)
    assert [c.index_id for c in result.children] == ["c-1"]
    url = urlsplit(signed_in.transport.sent[0].request.url or "")
    assert url.path == "/Patient"
    assert ("family", "Smithfield") in parse_qsl(url.query)
    assert ("_fuzzy-match", "true") in parse_qsl(url.query)


def test_record_sends_reason_headers(signed_in: Faked) -> None:
    signed_in.queue(fhir_json(200, samples.everything("c/1")))
    record = signed_in.client.record("c/1", AccessReason.OTHER, " Café – follow-up ")
    assert record.index_id == "c/1"
    sent = signed_in.transport.sent[0]
    assert urlsplit(sent.request.url or "").path == "/Patient/c%2F1/$everything"
    assert sent.headers["X-Access-Reason"] == "other"
    assert sent.headers["X-Access-Reason-Text"] == "Caf%C3%A9%20%E2%80%93%20follow-up"


def test_record_without_text_sends_no_text_header(signed_in: Faked) -> None:
    signed_in.queue(fhir_json(200, samples.everything()))
    signed_in.client.record("c-1", AccessReason.EMERGENCY_CARE)
    headers = signed_in.transport.sent[0].headers
    assert headers["X-Access-Reason"] == "emergency-care"
    assert "X-Access-Reason-Text" not in headers


def test_record_reason_text_rules_are_checked_before_sending(signed_in: Faked) -> None:
    with pytest.raises(errors.RequestRejected) as caught:
        signed_in.client.record("c-1", AccessReason.OTHER, "  ")
    assert caught.value.code == "MISSING_ACCESS_REASON"
    with pytest.raises(errors.RequestRejected):
        signed_in.client.record("c-1", AccessReason.SAFEGUARDING, "x" * 501)
    signed_in.queue(fhir_json(200, samples.everything()))
    signed_in.client.record("c-1", AccessReason.SAFEGUARDING, "é" * 500)
    assert len(signed_in.transport.sent) == 1


def test_calls_before_sign_in_raise_session_expired_without_sending(faked: Faked) -> None:
    with pytest.raises(errors.SessionExpired):
        faked.client.search(QUERY)
    with pytest.raises(errors.SessionExpired):
        faked.client.record("c-1", AccessReason.HEALTH_CARE)
    with pytest.raises(errors.SessionExpired):
        faked.client.unlock("pw")
    assert faked.transport.sent == []


def test_session_headers_refresh_expiry(signed_in: Faked) -> None:
    headers = {
        "X-Session-Absolute-Expires": "2026-11-26T19:00:00Z",
        "X-Session-Idle-Expires": "2026-11-26T10:30:00Z",
    }
    signed_in.queue(fhir_json(200, samples.searchset(), headers=headers))
    signed_in.client.search(QUERY)
    assert signed_in.client.absolute_expires_at == dt.datetime(2026, 11, 26, 19, tzinfo=dt.UTC)
    assert signed_in.client.idle_expires_at == dt.datetime(2026, 11, 26, 10, 30, tzinfo=dt.UTC)
    signed_in.queue(
        fhir_json(200, samples.searchset(), headers={"X-Session-Absolute-Expires": "?"})
    )
    signed_in.client.search(QUERY)
    assert signed_in.client.absolute_expires_at == dt.datetime(2026, 11, 26, 19, tzinfo=dt.UTC)


# -- error mapping ------------------------------------------------------------------------


def test_401_on_sign_in_is_sign_in_failed(faked: Faked) -> None:
    faked.queue(
        fhir_json(
            401, outcome("login", "ACCESS_DENIED", "The username, password or code is not right.")
        )
    )
    with pytest.raises(errors.SignInFailed):
        faked.client.sign_in("nurse.demo", "wrong", "000000")
    assert not faked.client.signed_in
    assert len(faked.transport.sent) == 1


def test_401_elsewhere_expires_session_forgets_token_and_never_retries(signed_in: Faked) -> None:
    signed_in.queue(fhir_json(401, outcome("login", "ACCESS_DENIED", "Sign in again.")))
    with pytest.raises(errors.SessionExpired):
        signed_in.client.search(QUERY)
    assert len(signed_in.transport.sent) == 1
    assert not signed_in.client.signed_in
    assert signed_in.client.absolute_expires_at is None
    with pytest.raises(errors.SessionExpired):
        signed_in.client.record("c-1", AccessReason.HEALTH_CARE)
    assert len(signed_in.transport.sent) == 1


def test_unlock(signed_in: Faked) -> None:
    signed_in.queue(fhir_json(200, {"unlocked": True}))
    signed_in.client.unlock("pw")
    sent = signed_in.transport.sent[0]
    assert (sent.request.method, sent.json()) == ("POST", {"password": "pw"})
    assert sent.headers["Authorization"] == "Bearer tok-1"
    signed_in.queue(fhir_json(401, outcome("login", "ACCESS_DENIED", "No.")))
    with pytest.raises(errors.SignInFailed):
        signed_in.client.unlock("wrong")
    assert signed_in.client.signed_in  # a wrong password does not end the session
    signed_in.queue(fhir_json(200, {"unlocked": False}))
    with pytest.raises(errors.SignInFailed):
        signed_in.client.unlock("wrong")


def test_sign_out_revokes_and_always_forgets(signed_in: Faked) -> None:
    signed_in.queue(fhir_json(204))
    signed_in.client.sign_out()
    sent = signed_in.transport.sent[0]
    assert sent.request.method == "DELETE" and sent.headers["Authorization"] == "Bearer tok-1"
    assert not signed_in.client.signed_in
    signed_in.sign_in()
    signed_in.queue(requests.ConnectionError("down"))
    signed_in.client.sign_out()
    assert not signed_in.client.signed_in
    assert len(signed_in.transport.sent) == 1  # DELETE is never retried
    signed_in.client.sign_out()  # signed out already: nothing sent
    assert len(signed_in.transport.sent) == 1


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (403, outcome("forbidden", "ACCESS_DENIED", "Your role cannot search."), errors.Forbidden),
        (404, outcome("not-found", "RESOURCE_NOT_FOUND", "No such child."), errors.NotFound),
        (413, outcome("too-long", "INVALID_VALUE", "Too large."), errors.RequestRejected),
        (422, {"detail": [{"input": "Smithfield"}]}, errors.RequestRejected),
        (500, outcome("exception", "X", "boom"), errors.ServerError),
        (502, None, errors.ServerError),
        (301, None, errors.MalformedResponse),
    ],
)
def test_status_mapping(
    signed_in: Faked, status: int, body: object, expected: type[Exception]
) -> None:
    signed_in.queue(fhir_json(status, body))
    with pytest.raises(expected) as caught:
        signed_in.client.search(QUERY)
    assert "Smithfield" not in str(caught.value)
    assert signed_in.client.signed_in


def test_400_carries_diagnostics_and_pds_code(signed_in: Faked) -> None:
    signed_in.queue(
        fhir_json(400, outcome("invalid", "INVALID_SEARCH_DATA", "Add a date of birth to search."))
    )
    with pytest.raises(errors.RequestRejected) as caught:
        signed_in.client.search(QUERY)
    assert caught.value.user_message == "Add a date of birth to search."
    assert caught.value.code == "INVALID_SEARCH_DATA"
    assert not isinstance(caught.value, errors.TooManyMatches)


def test_400_without_outcome_has_a_default_message(signed_in: Faked) -> None:
    signed_in.queue(fhir_json(400, raw=b"<html>bad</html>"))
    with pytest.raises(errors.RequestRejected) as caught:
        signed_in.client.search(QUERY)
    assert caught.value.user_message == errors.RequestRejected.default_message
    assert caught.value.code is None


def test_too_many_matches_is_its_own_error(signed_in: Faked) -> None:
    body = outcome(
        "multiple-matches", "TOO_MANY_MATCHES", "Add a given name or postcode.", "information"
    )
    signed_in.queue(fhir_json(200, body))
    with pytest.raises(errors.TooManyMatches) as caught:
        signed_in.client.search(QUERY)
    assert caught.value.user_message == "Add a given name or postcode."
    assert caught.value.code == "TOO_MANY_MATCHES"


def test_other_200_outcome_is_malformed(signed_in: Faked) -> None:
    signed_in.queue(fhir_json(200, outcome("processing", "SOMETHING", "?")))
    with pytest.raises(errors.MalformedResponse):
        signed_in.client.search(QUERY)


def test_rate_limited_reads_retry_after(signed_in: Faked) -> None:
    throttled = outcome("throttled", "TOO_MANY_REQUESTS", "Slow down.")
    signed_in.queue(fhir_json(429, throttled, headers={"Retry-After": "30"}))
    with pytest.raises(errors.RateLimited) as caught:
        signed_in.client.search(QUERY)
    assert caught.value.retry_after == 30
    assert len(signed_in.transport.sent) == 1
    signed_in.queue(fhir_json(429, throttled, headers={"Retry-After": "Wed, 21 Oct 2015"}))
    with pytest.raises(errors.RateLimited) as caught:
        signed_in.client.search(QUERY)
    assert caught.value.retry_after is None


@pytest.mark.parametrize("raw", [b"{not json", b"", b"\xff\xfe", b"[1, 2]", b'"text"'])
def test_malformed_bodies(signed_in: Faked, raw: bytes) -> None:
    signed_in.queue(fhir_json(200, raw=raw))
    with pytest.raises(errors.MalformedResponse) as caught:
        signed_in.client.search(QUERY)
    assert "this version cannot read" in caught.value.user_message


@pytest.mark.parametrize("body", [{"token": "t"}, {**samples.session_body(), "user": {}}, [], None])
def test_malformed_sign_in_answer(faked: Faked, body: object) -> None:
    faked.queue(fhir_json(201, body))
    with pytest.raises(errors.MalformedResponse):
        faked.client.sign_in("u", "p", "1")
    assert not faked.client.signed_in


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (requests.exceptions.SSLError("bad cert"), errors.CertificateError),
        (requests.exceptions.ConnectTimeout("slow"), errors.ServerUnreachable),
        (requests.exceptions.ReadTimeout("stall"), errors.ServerTimeout),
        (requests.exceptions.ConnectionError("refused"), errors.ServerUnreachable),
        (requests.exceptions.ChunkedEncodingError("cut"), errors.ServerUnreachable),
        (requests.exceptions.ContentDecodingError("gzip"), errors.MalformedResponse),
        (OSError("odd"), errors.ServerUnreachable),
    ],
)
def test_transport_errors_are_typed(
    signed_in: Faked, exc: Exception, expected: type[Exception]
) -> None:
    signed_in.queue(exc)
    with pytest.raises(expected) as caught:
        signed_in.client.record("c-1", AccessReason.HEALTH_CARE)
    assert caught.value.__cause__ is None and caught.value.__context__ is None


# -- retries ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "first",
    [
        requests.exceptions.ConnectionError("reset"),
        requests.exceptions.ReadTimeout("slow"),
        fhir_json(503, None),
    ],
)
def test_get_is_retried_once_then_succeeds(signed_in: Faked, first: object) -> None:
    signed_in.queue(first, fhir_json(200, samples.searchset(samples.patient())))
    assert len(signed_in.client.search(QUERY).children) == 1
    sent = signed_in.transport.sent
    assert len(sent) == 2
    assert sent[0].headers["X-Request-ID"] != sent[1].headers["X-Request-ID"]


def test_get_is_retried_exactly_once(signed_in: Faked) -> None:
    signed_in.queue(requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(errors.ServerTimeout):
        signed_in.client.search(QUERY)
    assert len(signed_in.transport.sent) == 2


@pytest.mark.parametrize(
    "first",
    [
        requests.exceptions.SSLError("x"),
        fhir_json(401, None),
        fhir_json(500, None),
        fhir_json(400, None),
        fhir_json(200, raw=b"{"),
    ],
)
def test_get_is_not_retried_for_answers_or_certificates(signed_in: Faked, first: object) -> None:
    signed_in.queue(first, fhir_json(200, samples.searchset()))
    with pytest.raises(errors.UserFacingError):
        signed_in.client.search(QUERY)
    assert len(signed_in.transport.sent) == 1


@pytest.mark.parametrize("first", [requests.exceptions.ReadTimeout("x"), fhir_json(503, None)])
def test_post_is_never_retried(faked: Faked, first: object) -> None:
    faked.queue(first, fhir_json(201, samples.session_body()))
    with pytest.raises(errors.UserFacingError):
        faked.client.sign_in("u", "p", "1")
    assert len(faked.transport.sent) == 1


def test_retry_never_uses_stale_credentials(signed_in: Faked) -> None:
    def first(request: requests.PreparedRequest) -> requests.Response:
        signed_in.client.sign_out()  # e.g. the session ends while the retry waits
        raise requests.exceptions.ConnectionError("reset")

    signed_in.queue(first, fhir_json(200, samples.searchset()))
    with pytest.raises(errors.SessionExpired):
        signed_in.client.search(QUERY)
    assert [s.request.method for s in signed_in.transport.sent] == ["GET", "DELETE"]


def test_cancel_during_backoff_stops_the_retry(signed_in: Faked) -> None:
    def first(request: requests.PreparedRequest) -> requests.Response:
        signed_in.client.cancel_all()
        raise requests.exceptions.ConnectionError("reset")

    signed_in.queue(first, fhir_json(200, samples.searchset()))
    with pytest.raises(errors.Cancelled):
        signed_in.client.search(QUERY)
    assert len(signed_in.transport.sent) == 1
    signed_in.queue(fhir_json(200, samples.searchset()))
    assert signed_in.client.search(QUERY).children == ()  # later calls work again


# -- construction -------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["http://index.test", "ftp://index.test", "https://", "index.test"])
def test_only_https_urls_are_accepted(url: str) -> None:
    with pytest.raises(errors.PolicyError) as caught:
        IndexClient(make_http_session(), url)
    assert caught.value.key == "server_url"


@pytest.mark.parametrize("pin", ["not base64!", "YWJj", ""])
def test_bad_pins_are_refused(pin: str) -> None:
    with pytest.raises(errors.PolicyError) as caught:
        IndexClient(make_http_session(), "https://index.test", spki_pins=[pin])
    assert caught.value.key == "spki_pins"


def test_session_never_trusts_the_environment() -> None:
    session = requests.Session()
    IndexClient(session, "https://index.test")
    assert session.trust_env is False
    assert make_http_session().trust_env is False


def test_exported_names() -> None:
    import cpdesk.net
    import cpdesk.net.client
    import cpdesk.net.fhir
    import cpdesk.net.tls

    for module in (cpdesk.net, cpdesk.net.client, cpdesk.net.fhir, cpdesk.net.tls):
        for name in module.__all__:
            assert hasattr(module, name), (module.__name__, name)
    assert set(cpdesk.net.__all__) == {"IndexClient", "SignInResult", "make_http_session"}


def test_unreadable_ca_bundle_is_a_policy_error(tmp_path: Path) -> None:
    (tmp_path / "junk.pem").write_text("not a certificate")
    for path in (tmp_path / "missing.pem", tmp_path / "junk.pem"):
        with pytest.raises(errors.PolicyError) as caught:
            IndexClient(make_http_session(), "https://index.test", ca_bundle=str(path))
        assert caught.value.key == "ca_bundle"


def test_blank_index_id_is_not_found_without_sending(signed_in: Faked) -> None:
    with pytest.raises(errors.NotFound):
        signed_in.client.record(" ", AccessReason.HEALTH_CARE)
    assert signed_in.transport.sent == []


def test_retry_is_dropped_when_someone_signed_in_again_meanwhile(signed_in: Faked) -> None:
    def first(request: requests.PreparedRequest) -> requests.Response:
        signed_in.queue(fhir_json(201, samples.session_body("tok-2")))
        signed_in.client.sign_in("nurse.demo", "pw", "654321")
        raise requests.exceptions.ConnectionError("reset")

    signed_in.queue(first)
    with pytest.raises(errors.Cancelled):
        signed_in.client.search(QUERY)
    assert [s.request.method for s in signed_in.transport.sent] == ["GET", "POST"]
    assert signed_in.client.signed_in


def test_unlock_on_an_ended_session_is_session_expired(signed_in: Faked) -> None:
    ended = outcome("login", "ACCESS_DENIED", "Sign in again: the session has ended.")
    signed_in.queue(fhir_json(401, ended, headers={"WWW-Authenticate": "Bearer"}))
    with pytest.raises(errors.SessionExpired):
        signed_in.client.unlock("pw")
    assert not signed_in.client.signed_in
