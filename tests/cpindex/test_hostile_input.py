"""Hostile input gets 400 or 413 with an OperationOutcome and changes nothing but audit rows.

A digest of every table but the audit trail is taken before and after the whole barrage.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from fhir.resources.R4B.operationoutcome import OperationOutcome
from sqlalchemy import Engine, select

from cpindex.seed.demo import fixed_child
from cpindex.store.schema import metadata
from tests.cpindex.conftest import Api

OLIVIA = fixed_child("Smithfield", "Olivia").index_id
_AUDIT_TABLES = {"audit_event", "audit_chain"}
LONG = "a" * 10_240

# (method, path with query, extra headers, body)
SEARCH_CASES = [
    "/Patient?family=Smith&birthdate=2011-13-45",
    "/Patient?family=Smith&birthdate=20110314",
    "/Patient?family=Smith&birthdate=eq2011-02-30",
    "/Patient?family=Smith&birthdate=ge2011-01-01",
    "/Patient?family=Smith&birthdate=2011-03-14&birthdate=2012-03-14&birthdate=2013-03-14",
    "/Patient?family=Smith&birthdate=2011-03-14&shoe-size=9",
    "/Patient?family=Smith%27%3B%20DROP%20TABLE%20child%3B--&birthdate=2011-03-14",
    "/Patient?family=x%27%20OR%20%271%27%3D%271&birthdate=2011-03-14",
    "/Patient?family=Smith&birthdate=2011-03-14&address-postalcode=%27%20OR%20%27%27%3D%27",
    "/Patient?family=Smith&birthdate=2011-03-14&gender=robot",
    "/Patient?family=Smith&birthdate=2011-03-14&_max-results=999",
    "/Patient?family=Smith&birthdate=2011-03-14&_max-results=-1",
    "/Patient?family=Smith%00&birthdate=2011-03-14",
    f"/Patient?family={LONG}&birthdate=2011-03-14",
    "/Patient?family=" + "b" * 150 + "&birthdate=2011-03-14",
    "/Patient?family=%FF%FE&birthdate=2011-03-14",
    "/Patient?family=Sm%C3ith&birthdate=2011-03-14",
    "/Patient?family=Smith&birthdate=2011-03-14&_fuzzy-match=maybe",
    "/AuditEvent?agent=me&agent=you",
    "/AuditEvent?agent=me&_count=1e3",
    f"/Patient/{OLIVIA}%27%20OR%201%3D1/$everything",
]


def _digest(engine: Engine) -> str:
    digest = hashlib.sha256()
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            if table.name in _AUDIT_TABLES:
                continue
            rows = conn.execute(select(table).order_by(*table.primary_key.columns))
            for row in rows:
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


@pytest.fixture
def unchanged(seeded_engine: Engine) -> Iterator[None]:
    before = _digest(seeded_engine)
    yield
    assert _digest(seeded_engine) == before


def _outcome(response: Any, *statuses: int) -> dict[str, Any]:
    assert response.status_code in statuses, (response.status_code, response.text[:200])
    assert response.headers["content-type"].startswith("application/fhir+json")
    body: dict[str, Any] = response.json()
    OperationOutcome.model_validate(body)
    assert body["issue"][0]["diagnostics"]
    return body


@pytest.mark.usefixtures("unchanged")
def test_hostile_queries(api: Api) -> None:
    for path in SEARCH_CASES:
        _outcome(api.client.get(path, headers=api.headers()), 400)


@pytest.mark.usefixtures("unchanged")
def test_hostile_record_requests(api: Api) -> None:
    path = f"/Patient/{OLIVIA}/$everything"
    for headers in (
        {},
        {"X-Access-Reason": "health-care; DROP TABLE child"},
        {"X-Access-Reason": "other"},
        {"X-Access-Reason": "other", "X-Access-Reason-Text": "%FF%FE"},
        {"X-Access-Reason": "other", "X-Access-Reason-Text": "x" * 600},
    ):
        _outcome(api.client.get(path, headers=api.headers(**headers)), 400)
    long_id = "/Patient/" + "9" * 5000 + "/$everything"
    _outcome(api.client.get(long_id, headers=api.headers(**{"X-Access-Reason": "other"})), 400)


@pytest.mark.usefixtures("unchanged")
def test_hostile_bodies(api: Api) -> None:
    def post(
        body: bytes, content_type: str = "application/json", path: str = "/auth/session"
    ) -> Any:
        headers = {"Content-Type": content_type}
        return api.client.post(path, content=body, headers=headers)

    _outcome(post(b'{"username": "nurse.demo"}', "text/plain"), 400)
    _outcome(post(b"<xml/>", "application/xml"), 400)
    _outcome(post(b'{"username": "\xff\xfe", "password": "x", "otp": "1"}'), 400)
    _outcome(post(b"not json"), 400)
    _outcome(post(b'["a", "list"]'), 400)
    _outcome(post(b'{"username": 5, "password": "x", "otp": "1"}'), 400)
    _outcome(post(b'{"username": "' + b"u" * 2000 + b'", "password": "x", "otp": "1"}'), 400)
    _outcome(post(b'{"username": "' + LONG.encode() + b'", "password": "x", "otp": "1"}'), 413)
    _outcome(post(b"x" * 1_000_000), 413)

    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b"y" * 1000

    streamed = api.client.post(
        "/auth/session", content=chunks(), headers={"Content-Type": "application/json"}
    )
    _outcome(streamed, 413)
    unlock = api.client.post(
        "/auth/unlock",
        content=b"\xff" * 10,
        headers=api.headers(**{"Content-Type": "application/json"}),
    )
    _outcome(unlock, 400)
    # a body on a GET is refused when it is too large, and ignored otherwise
    big_get = api.client.request(
        "GET", "/metadata", content=b"z" * 100_000, headers={"Content-Type": "text/plain"}
    )
    _outcome(big_get, 413)


def test_hostile_requests_are_audited_as_refused(api: Api, seeded_engine: Engine) -> None:
    from cpindex.store.schema import audit_event

    api.client.get(SEARCH_CASES[0], headers=api.headers())
    with seeded_engine.connect() as conn:
        row = conn.execute(
            select(audit_event.c.action, audit_event.c.outcome, audit_event.c.detail)
            .order_by(audit_event.c.id.desc())
            .limit(1)
        ).one()
    assert tuple(row) == ("search", "refused", '{"error": "INVALID_VALUE"}')
