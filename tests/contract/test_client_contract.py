"""The real IndexClient against a real `cpindex serve` over TLS with the key pinned.

Keeps docs/api.md honest from the client's side: whatever the server sends must parse
into the dataclasses the UI renders, and every documented failure must arrive as its
typed error.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from cpdesk import errors
from cpdesk.demo_certs import make_demo_certificates
from cpdesk.net import IndexClient, make_http_session
from cpdesk.records import AccessReason, SearchQuery
from cpindex.seed.demo import DEMO_PASSWORD, FIXED_CHILDREN, demo_account
from tests.helpers.index_server import RunningIndex, start_index, totp_now

pytestmark = pytest.mark.slow

OLIVIA = next(c for c in FIXED_CHILDREN if c.family == "Smithfield" and c.given[0] == "Olivia")
JAYDEN = next(c for c in FIXED_CHILDREN if c.shielded)


@pytest.fixture
def http() -> Iterator[requests.Session]:
    session = make_http_session()
    yield session
    session.close()


def _client(index: RunningIndex, http: requests.Session) -> IndexClient:
    assert index.ca_cert is not None
    return IndexClient(
        http, index.base_url, ca_bundle=str(index.ca_cert), spki_pins=[index.spki_pin]
    )


def _signed_in(
    index: RunningIndex, http: requests.Session, username: str = "social.demo"
) -> IndexClient:
    client = _client(index, http)
    client.sign_in(username, DEMO_PASSWORD, totp_now(username))
    return client


def test_sign_in_returns_the_user_and_session_limits(
    index_server: RunningIndex, http: requests.Session
) -> None:
    client = _client(index_server, http)
    result = client.sign_in("social.demo", DEMO_PASSWORD, totp_now("social.demo"))
    account = demo_account("social.demo")
    assert result.user.username == "social.demo"
    assert result.user.display_name == account.display_name
    assert result.user.role == account.role
    assert result.user.organisation == account.organisation
    assert result.idle_timeout_seconds > 0
    now = dt.datetime.now(dt.UTC)
    assert result.idle_expires_at > now - dt.timedelta(minutes=1)
    assert result.absolute_expires_at >= result.idle_expires_at
    assert client.absolute_expires_at == result.absolute_expires_at


def test_search_finds_the_fixed_child(index_server: RunningIndex, http: requests.Session) -> None:
    client = _signed_in(index_server, http)
    query = SearchQuery(family="Smithfield", given=("Olivia",), birthdate=OLIVIA.birth_date)
    result = client.search(query)
    top = result.children[0]
    assert top.index_id == OLIVIA.index_id
    assert top.given == OLIVIA.given
    assert top.family == OLIVIA.family
    assert top.birthdate == OLIVIA.birth_date
    assert top.gender == OLIVIA.gender
    assert top.postcode == OLIVIA.postcode
    assert top.nhs_number == OLIVIA.nhs_number
    assert 0 < top.score <= 1
    assert not top.shielded
    assert client.absolute_expires_at is not None


def test_search_with_no_matches_is_an_empty_result(
    index_server: RunningIndex, http: requests.Session
) -> None:
    client = _signed_in(index_server, http)
    query = SearchQuery(family="Qxzwvbnmlk", birthdate=dt.date(2001, 1, 1), fuzzy=False)
    assert client.search(query).children == ()


def test_record_has_carers_school_gp_involvements_and_caf(
    index_server: RunningIndex, http: requests.Session
) -> None:
    client = _signed_in(index_server, http)
    record = client.record(OLIVIA.index_id, AccessReason.OTHER, "Contract test – café visit")
    assert record.index_id == OLIVIA.index_id
    assert not record.shielded
    assert OLIVIA.line1 in record.address
    assert {c.name for c in record.carers} == {f"{c.given} {c.family}" for c in OLIVIA.carers}
    mother = next(c for c in record.carers if c.name.startswith(OLIVIA.carers[0].given))
    assert mother.relationship == "Mother"
    assert mother.parental_responsibility
    assert mother.contact.phone == OLIVIA.carers[0].phone
    assert mother.contact.email == OLIVIA.carers[0].email
    father = next(c for c in record.carers if c is not mother)
    assert father.relationship == "Father"
    assert "Cardigan Road" in father.address  # lives elsewhere
    assert OLIVIA.school is not None and OLIVIA.gp is not None
    assert record.school is not None and record.school.name == OLIVIA.school[0]
    assert record.school.contact.phone == OLIVIA.school[1]
    assert record.gp is not None and record.gp.name == OLIVIA.gp[0]
    assert record.gp.contact.phone == OLIVIA.gp[1]
    assert len(record.involvements) == len(OLIVIA.involvements)
    by_name = {i.practitioner: i for i in record.involvements}
    for fixed in OLIVIA.involvements:
        got = by_name[fixed.name]
        assert (got.role, got.organisation) == (fixed.role, fixed.organisation)
        assert (got.contact.phone, got.contact.email) == (fixed.phone, fixed.email)
        assert got.since == fixed.since
        assert got.lead_professional == fixed.lead
    assert record.caf


def test_shielded_child_is_shielded_with_only_the_banner_contact(
    index_server: RunningIndex, http: requests.Session
) -> None:
    client = _signed_in(index_server, http)
    found = client.search(
        SearchQuery(family=JAYDEN.family, given=JAYDEN.given, birthdate=JAYDEN.birth_date)
    )
    summary = next(c for c in found.children if c.index_id == JAYDEN.index_id)
    assert summary.shielded and summary.postcode == ""
    record = client.record(JAYDEN.index_id, AccessReason.SAFEGUARDING)
    assert record.shielded
    assert "0300 000 0000" in record.index_team_contact
    assert record.address == () and record.carers == () and record.involvements == ()
    assert record.school is None and record.gp is None and not record.caf


def test_too_many_matches(index_server: RunningIndex, http: requests.Session) -> None:
    client = _signed_in(index_server, http)
    query = SearchQuery(
        family="Smithfield",
        birthdate_from=dt.date(2010, 1, 1),
        birthdate_to=dt.date(2015, 12, 31),
        fuzzy=False,
        max_results=1,
    )
    with pytest.raises(errors.TooManyMatches) as caught:
        client.search(query)
    assert caught.value.user_message  # the server's advice, or our default


def test_below_minimum_search_is_rejected_with_a_sentence(
    index_server: RunningIndex, http: requests.Session
) -> None:
    client = _signed_in(index_server, http)
    with pytest.raises(errors.RequestRejected) as caught:
        client.search(SearchQuery(family="Smithfield"))
    assert caught.value.code in ("INVALID_SEARCH_DATA", "MISSING_VALUE")
    assert caught.value.user_message != errors.RequestRejected.default_message


def test_unknown_child_is_not_found(index_server: RunningIndex, http: requests.Session) -> None:
    client = _signed_in(index_server, http)
    with pytest.raises(errors.NotFound):
        client.record("00000000-0000-4000-8000-000000000000", AccessReason.HEALTH_CARE)


def test_wrong_password_is_sign_in_failed(
    index_server: RunningIndex, http: requests.Session
) -> None:
    client = _client(index_server, http)
    with pytest.raises(errors.SignInFailed):
        client.sign_in("admin.demo", "not-the-password", totp_now("admin.demo"))
    assert not client.signed_in


def test_unlock_checks_the_password(index_server: RunningIndex, http: requests.Session) -> None:
    client = _signed_in(index_server, http)
    client.unlock(DEMO_PASSWORD)
    with pytest.raises(errors.SignInFailed):
        client.unlock("not-the-password")
    assert client.signed_in
    client.unlock(DEMO_PASSWORD)


def test_revoked_token_is_session_expired(
    index_server: RunningIndex, http: requests.Session
) -> None:
    client = _signed_in(index_server, http)
    token = client._token  # the revocation comes from elsewhere (another client, an admin)
    revoke = requests.delete(
        f"{index_server.base_url}/auth/session",
        headers={"Authorization": f"Bearer {token}"},
        verify=index_server.verify,
        timeout=30,
    )
    assert revoke.status_code == 204
    with pytest.raises(errors.SessionExpired):
        client.search(SearchQuery(family="Smithfield", birthdate=OLIVIA.birth_date, fuzzy=False))
    assert not client.signed_in


def test_unlock_on_a_revoked_session_is_session_expired(
    index_server: RunningIndex, http: requests.Session
) -> None:
    client = _signed_in(index_server, http)
    revoke = requests.delete(
        f"{index_server.base_url}/auth/session",
        headers={"Authorization": f"Bearer {client._token}"},
        verify=index_server.verify,
        timeout=30,
    )
    assert revoke.status_code == 204
    with pytest.raises(errors.SessionExpired):
        client.unlock(DEMO_PASSWORD)
    assert not client.signed_in


def test_sign_out_revokes_the_token(index_server: RunningIndex, http: requests.Session) -> None:
    client = _signed_in(index_server, http)
    token = client._token
    client.sign_out()
    assert not client.signed_in
    check = requests.get(
        f"{index_server.base_url}/auth/session",
        headers={"Authorization": f"Bearer {token}"},
        verify=index_server.verify,
        timeout=30,
    )
    assert check.status_code == 401


def test_pin_of_another_key_sends_nothing(
    index_server: RunningIndex, http: requests.Session, tmp_path: Path
) -> None:
    assert index_server.ca_cert is not None
    wrong = make_demo_certificates(tmp_path).spki_pin
    client = IndexClient(
        http, index_server.base_url, ca_bundle=str(index_server.ca_cert), spki_pins=[wrong]
    )
    with pytest.raises(errors.CertificateError):
        client.sign_in("social.demo", DEMO_PASSWORD, totp_now("social.demo"))


@pytest.fixture(scope="module")
def short_idle_index(
    index_server: RunningIndex, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningIndex]:
    """A second server on the same database whose sessions idle out after 0.6 s."""
    with start_index(
        tmp_path_factory.mktemp("short-idle"),
        db_url=index_server.db_url,
        env={"CPINDEX_IDLE_MINUTES": "0.01"},
    ) as index:
        yield index


def test_expired_token_is_session_expired(
    short_idle_index: RunningIndex, http: requests.Session
) -> None:
    client = _signed_in(short_idle_index, http)
    idle_expires_at = client.idle_expires_at
    assert idle_expires_at is not None
    # Wait until the server's own stated idle expiry has passed, then use the token.
    left = (idle_expires_at - dt.datetime.now(dt.UTC)).total_seconds()
    assert left < 5, "the short idle limit did not apply"
    time.sleep(max(left, 0) + 1.5)  # the stated instant is rounded down to the second
    with pytest.raises(errors.SessionExpired):
        client.search(SearchQuery(family="Smithfield", birthdate=OLIVIA.birth_date, fuzzy=False))
    assert not client.signed_in


def test_reason_text_reaches_the_audit_log_exactly(
    index_server: RunningIndex, http: requests.Session
) -> None:
    import json
    import uuid

    from sqlalchemy import create_engine, select

    from cpindex.store.schema import audit_event

    client = _signed_in(index_server, http)
    text = f"Café – ünïcode 50% & co {uuid.uuid4()}"
    client.record(OLIVIA.index_id, AccessReason.OTHER, text)
    engine = create_engine(index_server.db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(audit_event.c.detail, audit_event.c.request_id, audit_event.c.patient_id)
                .where(audit_event.c.action == "view")
                .where(audit_event.c.username == "social.demo")
            ).all()
    finally:
        engine.dispose()
    parsed = [(json.loads(r[0]) if r[0] else {}, r[1], r[2]) for r in rows]
    details = [row for row in parsed if row[0].get("reason_text") == text]
    assert len(details) == 1
    detail, request_id, patient_id = details[0]
    assert detail["reason"] == "other"
    assert patient_id == OLIVIA.index_id
    assert uuid.UUID(request_id).version == 4  # the client's X-Request-ID was kept
