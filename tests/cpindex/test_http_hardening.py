"""Issue 12 items 8, 10, 13, 14 in process: headers on every answer, errors that cannot
escape the audit, characters that must never be stored, no slash redirects, no /docs.

The same attacks go over a real socket in test_http_socket.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fhir.resources.R4B.operationoutcome import OperationOutcome
from sqlalchemy import Engine, select

from cpindex.api import Services, create_app
from cpindex.clock import ManualClock
from cpindex.config import ServerSettings
from cpindex.seed.demo import fixed_child
from cpindex.store.schema import audit_event
from tests.cpindex.conftest import RAISED, Api, TestClient

OLIVIA = fixed_child("Smithfield", "Olivia").index_id
SEARCH = "/Patient?family=Smithfield&birthdate=2011-03-14"


def _last_audit(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(select(audit_event).order_by(audit_event.c.id.desc()).limit(1)).one()
    return dict(row._mapping)


def _outcome(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/fhir+json")
    body: dict[str, Any] = response.json()
    OperationOutcome.model_validate(body)
    return body


# --- item 8: no caching of personal data on the way ------------------------------------


def test_every_answer_forbids_caching_and_sniffing(api: Api) -> None:
    answers = [
        api.client.get(SEARCH, headers=api.headers()),  # 200 with child data
        api.client.get(
            f"/Patient/{OLIVIA}/$everything", headers=api.headers(**{"X-Access-Reason": "other"})
        ),  # 400
        api.client.get("/Patient", params={"family": "x"}),  # 401
        api.client.get("/nowhere"),  # 404
        api.client.put("/metadata"),  # 405
        api.client.post("/auth/session", content=b"x" * 10_000),  # 413 from the middleware
        api.client.get("/metadata"),
        api.client.get("/openapi.json"),
    ]
    for response in answers:
        assert response.headers.get("cache-control") == "no-store", response.request.url
        assert response.headers.get("pragma") == "no-cache"
        assert response.headers.get("x-content-type-options") == "nosniff"
        assert "strict-transport-security" not in response.headers  # plain HTTP here


def test_hsts_only_over_tls(seeded_engine: Engine) -> None:
    client = TestClient(create_app(Services.build(seeded_engine, RAISED)), base_url="https://t")
    response = client.get("/metadata")
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert response.headers.get("cache-control") == "no-store"


# --- item 10: errors that escaped the audit ---------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        SEARCH + "&_max-results=%C2%B2",  # '²': isdigit() is true, int() fails
        SEARCH + "&_max-results=%D9%A3",  # Arabic-Indic 3: int() would take it
        "/AuditEvent?agent=me&_count=%C2%B2",
        "/AuditEvent?agent=me&_count=%D9%A3",
    ],
)
def test_non_ascii_numbers_are_refused_and_audited(
    api: Api, seeded_engine: Engine, path: str
) -> None:
    body = _outcome(api.client.get(path, headers=api.headers()), 400)
    assert body["issue"][0]["details"]["coding"][0]["code"] == "INVALID_VALUE"
    row = _last_audit(seeded_engine)
    assert row["outcome"] in ("refused", "denied") or row["action"] == "audit-read"


@pytest.mark.parametrize("depth", [30, 2000])
def test_deeply_nested_json_is_refused(api: Api, depth: int) -> None:
    for body in (b"[" * depth, b'{"username": ' + b"[" * depth + b"]" * depth + b"}"):
        response = api.client.post(
            "/auth/session", content=body, headers={"Content-Type": "application/json"}
        )
        assert "nested" in _outcome(response, 400)["issue"][0]["diagnostics"]


def test_an_unexpected_error_is_audited_and_answered_plainly(
    seeded_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = ManualClock()
    app = create_app(Services.build(seeded_engine, RAISED, clock=clock))
    client = TestClient(app)
    from tests.cpindex.conftest import sign_in

    token = sign_in(client, clock)

    def broken(*_args: object, **_kw: object) -> None:
        raise RuntimeError("secret internals at /srv/cpindex/store.py line 12")

    monkeypatch.setattr("cpindex.api.patient.search_children", broken)
    response = client.get(SEARCH, headers={"Authorization": f"Bearer {token}"})
    body = _outcome(response, 500)
    assert "secret" not in response.text and "RuntimeError" not in response.text
    assert body["issue"][0]["details"]["coding"][0]["code"] == "SERVER_ERROR"
    row = _last_audit(seeded_engine)
    assert (row["action"], row["outcome"], row["username"]) == ("request", "error", "nurse.demo")
    detail = json.loads(row["detail"])
    assert detail == {"method": "GET", "route": "/Patient", "error": "SERVER_ERROR"}
    assert response.headers.get("cache-control") == "no-store"


# --- item 13: characters that make one stored text look like another -------------------

UNSAFE = ["%0D%0A", "%09", "%00", "%E2%80%AE", "%E2%80%8B", "%E2%81%A6", "%EF%BB%BF"]


@pytest.mark.parametrize("bad", UNSAFE)
def test_reason_text_with_unsafe_characters_is_refused(
    api: Api, seeded_engine: Engine, bad: str
) -> None:
    headers = {"X-Access-Reason": "other", "X-Access-Reason-Text": f"checking{bad}referral"}
    response = api.client.get(f"/Patient/{OLIVIA}/$everything", headers=api.headers(**headers))
    _outcome(response, 400)
    row = _last_audit(seeded_engine)
    assert (row["action"], row["outcome"]) == ("view", "refused")
    assert "checking" not in (row["detail"] or "")


@pytest.mark.parametrize("bad", UNSAFE[3:])
def test_search_parameters_with_invisible_characters_are_refused(api: Api, bad: str) -> None:
    for path in (
        f"/Patient?family=Smith{bad}field&birthdate=2011-03-14",
        f"/Patient?family=Smithfield&birthdate=2011-03-14&address-postalcode=LS6{bad}",
        f"/AuditEvent?agent=nurse{bad}.demo",
    ):
        _outcome(api.client.get(path, headers=api.headers()), 400)


@pytest.mark.parametrize("suffix", ["%0A", "%0D", "%E2%80%AE", "%E2%80%8B"])
def test_path_ids_are_matched_whole(api: Api, seeded_engine: Engine, suffix: str) -> None:
    path = f"/Patient/{OLIVIA}{suffix}/$everything"
    headers = api.headers(**{"X-Access-Reason": "health-care"})
    _outcome(api.client.get(path, headers=headers), 400)
    row = _last_audit(seeded_engine)
    assert row["patient_id"] in (None, OLIVIA)


# --- item 14: exposure -------------------------------------------------------------------


def test_no_slash_redirect(api: Api) -> None:
    for path in ("/Patient/", "/Patient/?family=Smithfield&birthdate=2011-03-14", "/metadata/"):
        response = api.client.get(
            path, headers={**api.headers(), "Host": "evil.example"}, follow_redirects=False
        )
        assert "location" not in response.headers
        _outcome(response, 404)


def test_docs_off_by_default_openapi_stays(seeded_engine: Engine) -> None:
    off = TestClient(create_app(Services.build(seeded_engine, RAISED)))
    _outcome(off.get("/docs"), 404)
    assert off.get("/openapi.json").status_code == 200
    settings = ServerSettings(search_limit=100_000, view_limit=100_000, docs=True)
    on = TestClient(create_app(Services.build(seeded_engine, settings)))
    assert on.get("/docs").status_code == 200
