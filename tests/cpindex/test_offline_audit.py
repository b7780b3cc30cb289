"""POST /AuditEvent: offline views reported by the client, its own only, chained, counted."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Engine

from cpindex.api import Services, create_app
from cpindex.audit.chain import verify_chain
from cpindex.audit.misuse import find_misuse
from cpindex.clock import ManualClock
from tests.cpindex.conftest import RAISED, TestClient, new_user, sign_in_as
from tests.cpindex.test_misuse import SINCE, TEN, Planter, _ordinary_children

# Not a seeded child: other tests read Olivia's history from the same shared database.
OLIVIA = "offline-test-child"
SYSTEM = "https://cpindex.example/fhir/CodeSystem/audit-action"


def event(patient: str = OLIVIA, at: str = "2026-11-26T08:02:00Z", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "subtype": [{"system": SYSTEM, "code": "offline-view"}],
        "recorded": at,
        "entity": [{"what": {"reference": f"Patient/{patient}"}}],
    }
    body.update(extra)
    return body


class Nurse:
    def __init__(self, engine: Engine) -> None:
        self.clock = ManualClock()
        self.client = TestClient(create_app(Services.build(engine, RAISED, clock=self.clock)))
        self.name, secret = new_user(engine, "practitioner")
        self.token = sign_in_as(self.client, self.clock, self.name, secret)

    def post(self, body: Any) -> Any:
        return self.client.post(
            "/AuditEvent", json=body, headers={"Authorization": f"Bearer {self.token}"}
        )

    def history(self) -> list[dict[str, Any]]:
        answer = self.client.get(
            "/AuditEvent",
            params={"agent": "me"},
            headers={"Authorization": f"Bearer {self.token}"},
        )
        return [e["resource"] for e in answer.json().get("entry", [])]


def test_an_offline_view_is_chained_with_both_times(seeded_engine: Engine) -> None:
    nurse = Nurse(seeded_engine)
    answer = nurse.post(event(agent=[{"who": {"identifier": {"value": nurse.name}}}]))
    assert answer.status_code == 201, answer.text
    offline = [e for e in nurse.history() if e["subtype"][0]["code"] == "offline-view"]
    assert len(offline) == 1
    assert offline[0]["entity"][0]["what"]["reference"] == f"Patient/{OLIVIA}"
    assert offline[0]["recorded"].startswith("2026-11-26T09:00")  # received
    assert {"url": "https://cpindex.example/fhir/StructureDefinition/reported-at",
            "valueInstant": "2026-11-26T08:02:00Z"} in offline[0]["extension"]  # fmt: skip
    with seeded_engine.connect() as conn:
        assert verify_chain(conn)[2] is None


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (event(agent=[{"who": {"identifier": {"value": "someone.else"}}}]), 403),
        (event(agent=[{"who": "x"}]), 403),
        (event(agent="me"), 403),
        (event(subtype=[{"system": SYSTEM, "code": "view"}]), 403),
        (event(subtype="offline-view"), 403),
        (event(subtype=[{"code": "offline-view"}, {"code": "view"}]), 403),
        ({**event(), "resourceType": "Patient"}, 400),
        (event(patient="../etc"), 400),
        (event(patient="x" * 37), 400),
        (event(entity=[]), 400),
        (event(entity=[{"what": {"reference": "Patient/a"}}] * 2), 400),
        (event(entity=[{"what": "Patient/a"}]), 400),
        (event(at="yesterday"), 400),
        (event(at="2026-11-26T08:02:00"), 400),
        (event(at="2026-11-10T08:02:00Z"), 400),
        (event(at="2026-11-26T10:00:00Z"), 400),
        ([event()], 400),
    ],
)  # fmt: skip
def test_only_own_offline_views_are_accepted(seeded_engine: Engine, body: Any, status: int) -> None:
    nurse = Nurse(seeded_engine)
    assert nurse.post(body).status_code == status
    rows = [e for e in nurse.history() if e["subtype"][0]["code"] == "offline-view"]
    if isinstance(body, dict):  # the refusal is audited, as failed (not a body: no route)
        assert len(rows) == 1 and rows[0]["outcome"] != "0"
    else:
        assert rows == []


def test_without_a_token_nothing_is_written(seeded_engine: Engine) -> None:
    nurse = Nurse(seeded_engine)
    assert nurse.client.post("/AuditEvent", json=event()).status_code == 401


def test_the_misuse_report_counts_offline_views(seeded_engine: Engine) -> None:
    kids = _ordinary_children(seeded_engine)
    planter = Planter(seeded_engine)
    for back in range(1, 8):
        planter.ordinary_day(SINCE.date() - dt.timedelta(days=back), kids, count=5)
    for i in range(40):
        from cpindex.audit import record_event

        record_event(
            seeded_engine, at=TEN + dt.timedelta(minutes=5 * i), action="offline-view",
            outcome="success", username=planter.name, role="practitioner",
            organisation="Test Organisation", patient_id=kids[i % len(kids)],
            detail={"reported_at": "2030-06-10T09:00:00Z"},
        )  # fmt: skip
    with seeded_engine.connect() as conn:
        rules = {f.rule for f in find_misuse(conn, SINCE) if f.username == planter.name}
    assert rules == {"unusual-volume"}
