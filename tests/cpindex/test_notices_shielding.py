"""The role property: a practitioner's token gets nothing of a shielded child beyond the
banner, from every endpoint with every parameter, notices included (issue 18, item 3).

For every shielded child and every child served with it (cpindex.store.shielding), a
practitioner opens the record with every reason, sends notices (to the queue and naming
practitioners), then reads every notice id and tries every action on it, after the index
team has relayed and answered. The requests cover every operation the app serves (a new
endpoint fails the coverage check until it is probed here); no answer may hold any
address, carer, school, GP or practitioner detail of the home, and every Patient of the
home must be the restricted banner. The index team, by contrast, is served the record.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import Engine, func, select

from cpdesk.net.fhir import offline_view_event
from cpindex.api import create_app
from cpindex.api.patient import ACCESS_REASONS
from cpindex.clock import ManualClock
from cpindex.config import ServerSettings
from cpindex.notices.accounts import link_practitioner
from cpindex.seed.demo import fixed_child
from cpindex.store.schema import notice
from tests.cpindex.conftest import RAISED, TestClient, build_services, new_user, sign_in_as
from tests.cpindex.test_shielding import _RESTRICTED_KEYS, RESTRICTED, _Home, _homes

JAYDEN = fixed_child("Marsh-Whitley", "Jayden")
SETTINGS = ServerSettings(**{**RAISED.__dict__, "notice_limit": 100_000})


class Prober:
    """The practitioner's calls, each recorded as (method, route) and checked."""

    def __init__(self, client: TestClient, token: str, homes: list[_Home]) -> None:
        self.client = client
        self.auth = {"Authorization": f"Bearer {token}"}
        self.secrets = frozenset().union(*(h.secrets for h in homes))
        self.members = {m[0] for h in homes for m in h.members}
        self.covered: set[tuple[str, str]] = set()

    def call(self, method: str, route: str, path: str, **kw: Any) -> Any:
        self.covered.add((method, route))
        headers = {**self.auth, **kw.pop("headers", {})}
        answer = self.client.request(method.upper(), path, headers=headers, **kw)
        assert answer.status_code < 500, (path, answer.text)
        if answer.content:
            self.check(answer.json(), path)
        return answer

    def check(self, body: Any, where: str) -> None:
        text = json.dumps(body)
        leaked = [s for s in self.secrets if s in text]
        assert not leaked, (where, leaked)
        for resource in _resources(body):
            if resource.get("resourceType") == "Patient" and resource["id"] in self.members:
                assert set(resource) == _RESTRICTED_KEYS, (where, resource["id"])
                assert resource["meta"]["security"] == [RESTRICTED]
            assert not str(resource.get("id", "")).startswith(tuple(self.members)) or (
                resource.get("resourceType") in ("Patient", "AuditEvent")
            ), (where, resource.get("id"))


_CSV = {"Content-Type": "text/csv"}


def _resources(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict):
        return []
    return [body] + [e["resource"] for e in body.get("entry", []) if "resource" in e]


def _communication(patient: str, category: str, refs: list[str]) -> dict[str, Any]:
    return {
        "resourceType": "Communication",
        "subject": {"reference": f"Patient/{patient}"},
        "category": [{"coding": [{"code": category}]}],
        "payload": [{"contentString": "Please put me in touch with whoever works with him."}],
        "recipient": [{"reference": r} for r in refs],
    }


def _declaration(patient: str, lead: bool) -> dict[str, Any]:
    ext = "https://cpindex.example/fhir/StructureDefinition/"
    return {
        "resourceType": "PractitionerRole",
        "extension": [
            {"url": ext + "patient", "valueReference": {"reference": f"Patient/{patient}"}},
            {"url": ext + "lead-professional", "valueBoolean": lead},
        ],
        "period": {"start": "2026-10-01"},
        "code": [{"text": "Youth worker"}],
        "telecom": [{"system": "phone", "value": "0113 496 0777"}],
    }


def test_a_practitioner_never_gets_past_the_banner(seeded_engine: Engine) -> None:
    homes = _homes(seeded_engine)
    assert sum(len(h.members) > 1 for h in homes) >= 3  # the property is not vacuous
    clock = ManualClock()
    app = create_app(build_services(seeded_engine, SETTINGS, clock))
    client = TestClient(app)
    worker, worker_secret = new_user(seeded_engine)  # Jayden's social worker, linked
    with seeded_engine.begin() as conn:
        link_practitioner(conn, worker, JAYDEN.involvements[0].email)
    name, secret = new_user(seeded_engine)
    probe = Prober(client, sign_in_as(client, clock, name, secret), homes)
    team_name, team_secret = new_user(seeded_engine, "index-team")
    team = {"Authorization": f"Bearer {sign_in_as(client, clock, team_name, team_secret)}"}
    everything = "/Patient/{patient_id}/$everything"
    for home in homes:
        for index_id, family, birth in home.members:
            for reason in ACCESS_REASONS:
                headers = {"X-Access-Reason": reason, "X-Access-Reason-Text": "x"}
                probe.call("get", everything, f"/Patient/{index_id}/$everything", headers=headers)
            probe.call("get", "/Patient", "/Patient",
                       params={"family": family, "birthdate": birth.isoformat()})  # fmt: skip
            for refs in ([], ["Organization/index-team"], *[
                [f"PractitionerRole/{index_id}-involvement-{n}"] for n in (1, 2, 3)
            ]):  # fmt: skip
                for category in ("request-contact", "attendance"):
                    body = _communication(index_id, category, refs)
                    probe.call("post", "/Communication", "/Communication", json=body)
            # "I am working with this child": refused, and no way past the banner
            for lead in (False, True):
                answer = probe.call("post", "/PractitionerRole", "/PractitionerRole",
                                    json=_declaration(index_id, lead))  # fmt: skip
                assert answer.status_code == 403, answer.text
            for n in (1, 2, 3):
                role_id = f"{index_id}-involvement-{n}"
                answer = probe.call("post", "/PractitionerRole/{role_id}/$end",
                                    f"/PractitionerRole/{role_id}/$end")  # fmt: skip
                assert answer.status_code == 404, answer.text
            probe.call("get", everything, f"/Patient/{index_id}/$everything",
                       headers={"X-Access-Reason": "safeguarding"})  # fmt: skip
    # The team relays and answers what reached its queue, and sees the full record.
    queue = client.get("/Communication", params={"recipient": "index-team"}, headers=team)
    queued = [e["resource"]["id"] for e in queue.json()["entry"]]
    assert queued
    full = client.get(f"/Patient/{JAYDEN.index_id}/$everything",
                      headers={**team, "X-Access-Reason": "safeguarding"}).json()  # fmt: skip
    assert JAYDEN.involvements[0].name in json.dumps(full)
    jayden = [q for q in queued if _subject(client, team, q) == JAYDEN.index_id]
    assert (
        client.post(f"/Communication/{jayden[0]}/$relay", json={}, headers=team).status_code == 201
    )
    assert client.post(f"/Communication/{jayden[1]}/$answer", json={"text": "They will call you."},
                       headers=team).status_code == 201  # fmt: skip
    with seeded_engine.connect() as conn:
        last = int(conn.execute(select(func.max(notice.c.id))).scalar_one())
    for number in range(1, last + 1):
        probe.call("get", "/Communication/{notice_id}", f"/Communication/{number}")
        for op in ("$done", "$relay", "$answer"):
            probe.call("post", f"/Communication/{{notice_id}}/{op}",
                       f"/Communication/{number}/{op}", json={"text": "where is he?"})  # fmt: skip
    for recipient in ("me", "index-team", "someone"):
        for status in ("in-progress", "completed", None):
            params = {"recipient": recipient} | ({"status": status} if status else {})
            probe.call("get", "/Communication", "/Communication", params=params)
    for home in homes:
        for index_id, _family, _birth in home.members:
            probe.call("get", "/AuditEvent", "/AuditEvent", params={"patient": index_id})
            # an offline view reported for the child (the client's own event shape)
            event = offline_view_event(index_id, dt.datetime(2026, 11, 26, 9, tzinfo=dt.UTC))
            probe.call("post", "/AuditEvent", "/AuditEvent", json=event)
    probe.call("get", "/AuditEvent/$misuse", "/AuditEvent/$misuse")
    probe.call("post", "/$feed", "/$feed", content=b"given,family\n", headers=_CSV)
    # the index team's link review: a practitioner is refused before any id is read
    probe.call("get", "/Task", "/Task", params={"status": "requested"})
    for number in ("1", "2", "999", "x"):
        probe.call("get", "/Task/{item_id}", f"/Task/{number}")
        for op in ("$link", "$not-this-child"):
            probe.call("post", f"/Task/{{item_id}}/{op}", f"/Task/{number}/{op}")
    probe.call("get", "/metadata", "/metadata")
    probe.call("get", "/auth/session", "/auth/session")
    probe.call("post", "/auth/unlock", "/auth/unlock", json={"password": "wrong"})
    probe.call("post", "/auth/session", "/auth/session",
               json={"username": name, "password": "wrong", "otp": "000000"})  # fmt: skip
    probe.call("delete", "/auth/session", "/auth/session")
    served = {(m, p) for p, ops in app.openapi()["paths"].items() for m in ops}
    assert served == probe.covered, served ^ probe.covered
    # The social worker got the relayed notice; the prober got the answer and no more.
    worker_token = sign_in_as(client, clock, worker, worker_secret)
    inbox = client.get("/Communication", headers={"Authorization": f"Bearer {worker_token}"})
    assert len(inbox.json()["entry"]) == 1


def _subject(client: TestClient, team: dict[str, str], notice_id: str) -> str:
    answer = client.get(f"/Communication/{notice_id}", headers=team).json()
    return str(answer["subject"]["reference"]).removeprefix("Patient/")
