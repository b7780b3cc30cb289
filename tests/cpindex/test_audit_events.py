"""GET /AuditEvent: one's own history for anyone, others' and a child's for the index team."""

from __future__ import annotations

import base64
import json
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import Engine

from cpindex.api import create_app
from cpindex.clock import ManualClock
from cpindex.seed.demo import fixed_child
from tests.cpindex.conftest import RAISED, TestClient, build_services, new_user, sign_in_as

OLIVIA = fixed_child("Smithfield", "Olivia").index_id


class _User:
    def __init__(self, client: TestClient, clock: ManualClock, engine: Engine, role: str) -> None:
        self.name, secret = new_user(engine, role)
        self.client = client
        self.token = sign_in_as(client, clock, self.name, secret)

    def get(self, path: str, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}", **kw.pop("headers", {})}
        return self.client.get(path, headers=headers, **kw)


def _setup(engine: Engine) -> tuple[_User, _User]:
    clock = ManualClock()
    client = TestClient(create_app(build_services(engine, RAISED, clock=clock)))
    return _User(client, clock, engine, "practitioner"), _User(client, clock, engine, "index-team")


def _events(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body = response.json()
    Bundle.model_validate(body)
    assert body["type"] == "searchset"
    return [e["resource"] for e in body.get("entry", [])]


def test_own_history_holds_searches_and_views(seeded_engine: Engine) -> None:
    nurse, _ = _setup(seeded_engine)
    rid = "0b9e7f52-3c1a-4d6e-8f2a-9b8c7d6e5f4a"
    nurse.get(
        "/Patient",
        params={"family": "Smithfield", "birthdate": "2011-03-14"},
        headers={"X-Request-ID": rid},
    )
    nurse.get(
        f"/Patient/{OLIVIA}/$everything",
        headers={"X-Access-Reason": "other", "X-Access-Reason-Text": "Checking%20a%20referral"},
    )
    events = _events(nurse.get("/AuditEvent", params={"agent": "me"}))
    view, search, sign_in = events[0], events[1], events[2]
    assert [e["subtype"][0]["code"] for e in events[:3]] == ["view", "search", "sign-in"]
    assert view["entity"][0]["what"]["reference"] == f"Patient/{OLIVIA}"
    assert view["purposeOfEvent"][0]["coding"][0]["code"] == "other"
    assert view["purposeOfEvent"][0]["text"] == "Checking a referral"
    assert view["agent"][0]["who"]["identifier"]["value"] == nurse.name
    assert view["agent"][0]["name"] == "Test Organisation"
    assert view["agent"][0]["role"][0]["coding"][0]["code"] == "practitioner"
    query = json.loads(base64.b64decode(search["entity"][0]["query"]))
    assert query["family"] == "Smithfield" and query["birthdate"] == "2011-03-14"
    assert search["entity"][0]["detail"] == [{"type": "results", "valueString": "1"}]
    assert {"type": "request-id", "valueString": rid} in search["entity"][1]["detail"]
    assert sign_in["outcome"] == "0"


def test_a_practitioner_cannot_read_others_audit(seeded_engine: Engine) -> None:
    nurse, team = _setup(seeded_engine)
    for params in ({"agent": team.name}, {"patient": OLIVIA}, {"agent": "me", "patient": OLIVIA}):
        response = nurse.get("/AuditEvent", params=params)
        assert response.status_code == 403
        assert response.json()["issue"][0]["details"]["coding"][0]["code"] == "ACCESS_DENIED"
    # own name is the same as "me"
    assert _events(nurse.get("/AuditEvent", params={"agent": nurse.name}))


def test_the_index_team_reads_a_user_and_a_child(seeded_engine: Engine) -> None:
    nurse, team = _setup(seeded_engine)
    nurse.get(f"/Patient/{OLIVIA}/$everything", headers={"X-Access-Reason": "health-care"})
    by_user = _events(team.get("/AuditEvent", params={"agent": nurse.name}))
    assert by_user[0]["agent"][0]["altId"] == nurse.name
    by_child = _events(team.get("/AuditEvent", params={"patient": OLIVIA, "_count": "5"}))
    assert len(by_child) <= 5
    assert by_child[0]["agent"][0]["altId"] == nurse.name
    assert all(e["entity"][0]["what"]["reference"] == f"Patient/{OLIVIA}" for e in by_child)
    # reading the audit is itself audited
    mine = _events(team.get("/AuditEvent", params={"agent": "me"}))
    assert [e["subtype"][0]["code"] for e in mine[:2]] == ["audit-read", "audit-read"]


def test_bad_audit_queries(seeded_engine: Engine) -> None:
    nurse, _ = _setup(seeded_engine)
    assert nurse.get("/AuditEvent").status_code == 400
    assert nurse.get("/AuditEvent", params={"agent": "me", "who": "x"}).status_code == 400
    assert nurse.get("/AuditEvent", params={"agent": "me", "_count": "0"}).status_code == 400
    assert nurse.client.get("/AuditEvent", params={"agent": "me"}).status_code == 401
