"""Notices (issue 18) in-process: send, inbox, read, done, relay, refusals and the audit.

Recipients are real accounts linked to the seed's practitioners by work email
(cpindex.notices.accounts); every answer is validated against the FHIR R4 schema.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from cpindex.api import create_app
from cpindex.audit.chain import verify_chain
from cpindex.audit.misuse import find_misuse
from cpindex.cli import main
from cpindex.clock import ManualClock
from cpindex.config import ServerSettings
from cpindex.notices.accounts import link_practitioner
from cpindex.seed.demo import fixed_child
from cpindex.store.schema import audit_event, notice, practitioner_account, user_account
from tests.cpindex.conftest import (
    RAISED,
    Api,
    TestClient,
    build_services,
    new_user,
    sign_in,
    sign_in_as,
)
from tests.cpindex.test_fhir_schema import _errors
from tests.cpindex.test_shielding import _secrets

OLIVIA = fixed_child("Smithfield", "Olivia")
JAYDEN = fixed_child("Marsh-Whitley", "Jayden")


def linked_user(engine: Engine, email: str, role: str = "practitioner") -> tuple[str, str]:
    """A fresh account receiving the notices of the practitioner with `email`."""
    name, secret = new_user(engine, role)
    with engine.begin() as conn:
        assert link_practitioner(conn, name, email) >= 1
    return name, secret


def role(patient: str, n: int) -> str:
    """The PractitionerRole reference $everything serves for the child's n-th involvement."""
    return f"PractitionerRole/{patient}-involvement-{n}"


def body(
    patient: str, text: str = "Attended Northgate A&E 02:14, discharged to mother.",
    category: str = "attendance", recipients: list[str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    resource: dict[str, Any] = {
        "resourceType": "Communication",
        "status": "in-progress",
        "subject": {"reference": f"Patient/{patient}"},
        "category": [{"coding": [{"code": category}]}],
        "payload": [{"contentString": text}],
    }
    if recipients is not None:
        resource["recipient"] = [{"reference": r} for r in recipients]
    return resource


class Client:
    """One signed-in user's calls."""

    def __init__(self, client: TestClient, token: str) -> None:
        self.client = client
        self.auth = {"Authorization": f"Bearer {token}"}

    def open(self, patient: str, reason: str = "health-care") -> dict[str, Any]:
        answer = self.client.get(
            f"/Patient/{patient}/$everything", headers={**self.auth, "X-Access-Reason": reason}
        )
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def send(self, resource: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        answer = self.client.post("/Communication", json=resource, headers=self.auth)
        return answer.status_code, answer.json()

    def get(self, path: str, **params: str) -> tuple[int, dict[str, Any]]:
        answer = self.client.get(path, params=params, headers=self.auth)
        return answer.status_code, answer.json()

    def post(self, path: str, resource: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        answer = self.client.post(path, json=resource or {}, headers=self.auth)
        return answer.status_code, answer.json()


def _valid(answer: dict[str, Any]) -> None:
    assert not _errors(answer), _errors(answer)
    for entry in answer.get("entry", []):
        assert not _errors(entry["resource"]), _errors(entry["resource"])


def _notices(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(notice)).scalar_one())


def _actions(engine: Engine, patient: str) -> list[tuple[str, str, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(audit_event.c.action, audit_event.c.outcome, audit_event.c.username)
            .where(audit_event.c.patient_id == patient)
            .where(audit_event.c.action.like("notice-%"))
            .order_by(audit_event.c.id)
        ).all()
    return [(r[0], r[1], r[2]) for r in rows]


@pytest.fixture
def nurse(api: Api) -> Client:
    return Client(api.client, api.token)


def test_a_notice_reaches_the_lead_professional_and_is_audited(
    api: Api, nurse: Client, seeded_engine: Engine
) -> None:
    lead_name, lead_secret = linked_user(seeded_engine, OLIVIA.involvements[0].email)
    nurse.open(OLIVIA.index_id, "emergency-care")
    status, sent = nurse.send(body(OLIVIA.index_id))
    assert status == 201, sent
    _valid(sent)
    [entry] = sent["entry"]
    notice_id = entry["resource"]["id"]
    assert entry["resource"]["recipient"][0]["display"]
    lead = Client(api.client, sign_in_as(api.client, api.clock, lead_name, lead_secret))
    status, inbox = lead.get("/Communication", recipient="me", status="in-progress")
    assert status == 200
    _valid(inbox)
    [mine] = [e["resource"] for e in inbox["entry"]]
    assert mine["id"] == notice_id
    assert mine["subject"] == {"reference": f"Patient/{OLIVIA.index_id}"}
    assert mine["payload"] == [
        {"contentString": "Attended Northgate A&E 02:14, discharged to mother."}
    ]
    assert mine["sender"]["display"].startswith("Sam Okafor, Northgate General Hospital")
    assert "received" not in mine
    status, read = lead.get(f"/Communication/{notice_id}")
    assert status == 200 and "received" in read
    status, finished = lead.post(f"/Communication/{notice_id}/$done")
    assert status == 200 and finished["status"] == "completed"
    _valid(finished)
    assert lead.get("/Communication", status="in-progress")[1].get("entry") is None
    assert len(lead.get("/Communication", status="completed")[1]["entry"]) == 1
    # Someone else cannot read or close it, and cannot tell it exists.
    other = Client(api.client, sign_in(api.client, api.clock, "social.demo"))
    assert other.get(f"/Communication/{notice_id}")[0] == 404
    assert other.post(f"/Communication/{notice_id}/$done")[0] == 404
    team = Client(api.client, sign_in(api.client, api.clock, "indexteam.demo"))
    status, history = team.get("/AuditEvent", patient=OLIVIA.index_id)
    assert status == 200
    _valid(history)
    assert "notice-send" in json.dumps(history)
    actions = _actions(seeded_engine, OLIVIA.index_id)
    assert ("notice-send", "success", "nurse.demo") in actions
    assert ("notice-read", "success", lead_name) in actions
    assert ("notice-done", "success", lead_name) in actions
    with seeded_engine.connect() as conn:
        detail = conn.execute(
            select(audit_event.c.detail).where(audit_event.c.action == "notice-send")
            .order_by(audit_event.c.id.desc()).limit(1)
        ).scalar_one()  # fmt: skip
        assert "Northgate A&E" not in detail  # the text is chained as its hash only
        assert len(json.loads(detail)["text_sha256"]) == 64
        assert verify_chain(conn)[2] is None


def _notice_lists(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(audit_event)
                .where(audit_event.c.action == "notice-list")
            ).scalar_one()
        )  # fmt: skip


def test_the_unread_count_is_cheap_and_unaudited_the_list_is_audited(
    api: Api, nurse: Client, seeded_engine: Engine
) -> None:
    """The client polls `_summary=count` every minute: no chain row per poll, no notice."""
    lead_name, lead_secret = linked_user(seeded_engine, OLIVIA.involvements[0].email)
    nurse.open(OLIVIA.index_id, "emergency-care")
    for text in ("First notice.", "Second notice."):
        assert nurse.send(body(OLIVIA.index_id, text))[0] == 201
    lead = Client(api.client, sign_in_as(api.client, api.clock, lead_name, lead_secret))
    unread = {"status": "in-progress", "received:missing": "true", "_summary": "count"}
    lists = _notice_lists(seeded_engine)
    status, counted = lead.get("/Communication", **unread)
    assert status == 200 and counted["total"] == 2
    assert "entry" not in counted and "First notice" not in json.dumps(counted)
    _valid(counted)
    assert _notice_lists(seeded_engine) == lists  # the poll wrote nothing to the chain
    status, listed = lead.get("/Communication", status="in-progress")
    assert status == 200 and len(listed["entry"]) == 2
    assert _notice_lists(seeded_engine) == lists + 1  # the list, which shows notices, is
    assert lead.get(f"/Communication/{listed['entry'][0]['resource']['id']}")[0] == 200
    assert lead.get("/Communication", **unread)[1]["total"] == 1
    read = {"received:missing": "false", "_summary": "count"}
    assert lead.get("/Communication", **read)[1]["total"] == 1
    # The team's queue count is the team's alone; bad values are refused.
    assert nurse.get("/Communication", recipient="index-team", _summary="count")[0] == 403
    assert nurse.get("/Communication", _summary="data")[0] == 400
    assert nurse.get("/Communication", **{"received:missing": "maybe"})[0] == 400


def test_a_listed_practitioner_can_be_named(api: Api, nurse: Client, seeded_engine: Engine) -> None:
    name, secret = linked_user(seeded_engine, OLIVIA.involvements[1].email)
    nurse.open(OLIVIA.index_id)
    ref = role(OLIVIA.index_id, 2)
    status, sent = nurse.send(
        body(OLIVIA.index_id, category="safeguarding-concern", recipients=[ref])
    )
    assert status == 201, sent
    nurse2 = Client(api.client, sign_in_as(api.client, api.clock, name, secret))
    assert (
        nurse2.get("/Communication")[1]["entry"][0]["resource"]["id"]
        == sent["entry"][0]["resource"]["id"]
    )


BAD = [
    ("empty", body(OLIVIA.index_id, text="   "), 400),
    ("oversized", body(OLIVIA.index_id, text="x" * 1001), 400),
    ("control", body(OLIVIA.index_id, text="bell\x07"), 400),
    ("tab", body(OLIVIA.index_id, text="a\tb"), 400),
    ("bidi", body(OLIVIA.index_id, text="abc\u202edcba"), 400),
    ("zero-width", body(OLIVIA.index_id, text="a\u200bb"), 400),
    ("category", body(OLIVIA.index_id, category="gossip"), 400),
    ("category list", {**body(OLIVIA.index_id), "category": [{"coding": [{"code": []}]}]}, 400),
    ("text list", {**body(OLIVIA.index_id), "payload": [{"contentString": ["a"]}]}, 400),
    ("recipient text", {**body(OLIVIA.index_id), "recipient": "Practitioner/1"}, 400),
    ("no text", {**body(OLIVIA.index_id), "payload": []}, 400),
    ("not a Communication", {**body(OLIVIA.index_id), "resourceType": "Patient"}, 400),
    ("unknown recipient", body(OLIVIA.index_id, recipients=[role(OLIVIA.index_id, 9)]), 400),
    ("not its practitioner", body(OLIVIA.index_id, recipients=[role(JAYDEN.index_id, 1)]), 400),
    ("unlinked practitioner", body(OLIVIA.index_id, recipients=[role(OLIVIA.index_id, 3)]), 400),
    ("the queue here", body(OLIVIA.index_id, recipients=["Organization/index-team"]), 400),
    ("no such child", body("00000000-0000-4000-8000-000000000000"), 404),
]  # fmt: skip


@pytest.mark.parametrize(("what", "resource", "expected"), BAD, ids=[b[0] for b in BAD])
def test_bad_notices_are_refused_and_nothing_is_stored(
    nurse: Client, seeded_engine: Engine, what: str, resource: dict[str, Any], expected: int
) -> None:
    linked_user(seeded_engine, OLIVIA.involvements[0].email)
    nurse.open(OLIVIA.index_id)
    before = _notices(seeded_engine)
    status, answer = nurse.send(resource)
    assert status == expected, (what, answer)
    assert answer["resourceType"] == "OperationOutcome"
    assert answer["issue"][0]["diagnostics"]
    _valid(answer)
    assert _notices(seeded_engine) == before


def test_a_child_whose_record_the_sender_has_not_opened_is_refused(
    api: Api, seeded_engine: Engine
) -> None:
    name, secret = new_user(seeded_engine)
    stranger = Client(api.client, sign_in_as(api.client, api.clock, name, secret))
    before = _notices(seeded_engine)
    status, answer = stranger.send(body(OLIVIA.index_id))
    assert status == 403, answer
    assert "Open the child's record" in answer["issue"][0]["diagnostics"]
    assert _notices(seeded_engine) == before
    assert ("notice-send", "refused", name) in _actions(seeded_engine, OLIVIA.index_id)


def test_a_flood_of_notices_is_refused(seeded_engine: Engine) -> None:
    linked_user(seeded_engine, OLIVIA.involvements[0].email)
    clock = ManualClock()
    settings = ServerSettings(**{**RAISED.__dict__, "notice_limit": 2})
    with TestClient(create_app(build_services(seeded_engine, settings, clock))) as client:
        name, secret = new_user(seeded_engine)
        sender = Client(client, sign_in_as(client, clock, name, secret))
        sender.open(OLIVIA.index_id)
        assert sender.send(body(OLIVIA.index_id))[0] == 201
        assert sender.send(body(OLIVIA.index_id))[0] == 201
        before = _notices(seeded_engine)
        answer = client.post("/Communication", json=body(OLIVIA.index_id), headers=sender.auth)
        assert answer.status_code == 429
        assert int(answer.headers["Retry-After"]) >= 1
        assert "Too many notices" in answer.json()["issue"][0]["diagnostics"]
        assert _notices(seeded_engine) == before
        assert ("notice-send", "rate-limited", name) in _actions(seeded_engine, OLIVIA.index_id)


def test_a_shielded_child_goes_through_the_index_team(api: Api, seeded_engine: Engine) -> None:
    worker_name, worker_secret = linked_user(seeded_engine, JAYDEN.involvements[0].email)
    name, secret = new_user(seeded_engine)
    sender = Client(api.client, sign_in_as(api.client, api.clock, name, secret))
    banner = sender.open(JAYDEN.index_id, "safeguarding")
    assert [e["resource"]["resourceType"] for e in banner["entry"]] == ["Patient"]
    # Naming a practitioner is refused alike whether or not one exists: no oracle.
    refusals = set()
    for n in (1, 2, 7):
        answer = sender.send(body(JAYDEN.index_id, recipients=[role(JAYDEN.index_id, n)]))[1]
        refusals.add(answer["issue"][0]["diagnostics"])
    assert len(refusals) == 1
    status, sent = sender.send(body(JAYDEN.index_id, "Please put me in touch.", "request-contact"))
    assert status == 201, sent
    _valid(sent)
    queued = sent["entry"][0]["resource"]
    assert queued["recipient"] == [
        {"reference": "Organization/index-team", "display": "Index team"}
    ]
    team = Client(api.client, sign_in(api.client, api.clock, "indexteam.demo"))
    status, queue = team.get("/Communication", recipient="index-team", status="in-progress")
    assert status == 200
    _valid(queue)
    assert queued["id"] in {e["resource"]["id"] for e in queue["entry"]}
    # The index team opens the full record, under audit; the misuse report lists it.
    full = team.open(JAYDEN.index_id, "safeguarding")
    kinds = {e["resource"]["resourceType"] for e in full["entry"]}
    assert {"Patient", "RelatedPerson", "PractitionerRole", "Organization"} <= kinds
    assert JAYDEN.postcode in json.dumps(full)
    _valid(full)
    with seeded_engine.connect() as conn:
        rules = {
            (f.rule, f.username, f.patient_id)
            for f in find_misuse(conn, api.clock.now().replace(year=2000))
        }
    assert ("shielded-full-record", "indexteam.demo", JAYDEN.index_id) in rules
    # Relayed to the social worker (the lead, by default).
    status, relayed = team.post(f"/Communication/{queued['id']}/$relay")
    assert status == 201, relayed
    _valid(relayed)
    worker = Client(api.client, sign_in_as(api.client, api.clock, worker_name, worker_secret))
    [got] = [e["resource"] for e in worker.get("/Communication")[1]["entry"]]
    assert got["payload"] == [{"contentString": "Please put me in touch."}]
    assert got["extension"][0]["valueString"] == f"Communication/{queued['id']}"
    # ...naming who asked, so the social worker can get in touch with them.
    assert got["extension"][1]["url"].endswith("/asked-by")
    assert got["extension"][1]["valueString"] == queued["sender"]["display"]
    # The queue item is done; the team answers the sender.
    assert team.get(f"/Communication/{queued['id']}")[1]["status"] == "completed"
    assert (
        team.post(
            f"/Communication/{queued['id']}/$answer", {"text": "Passed on; they will call you."}
        )[0]
        == 201
    )
    # The sender sees their notice and the answer, nothing that locates the child.
    assert sender.get(f"/Communication/{relayed['entry'][0]['resource']['id']}")[0] == 404
    assert sender.post(f"/Communication/{queued['id']}/$relay")[0] == 403
    seen = [sender.get("/Communication")[1], sender.get(f"/Communication/{queued['id']}")[1]]
    assert (
        seen[0]["entry"][0]["resource"]["payload"][0]["contentString"]
        == "Passed on; they will call you."
    )
    assert len(seen[0]["entry"][0]["resource"]["extension"]) == 1  # no asked-by: it was them
    for answer in seen:
        text = json.dumps(answer)
        for secret_value in _secrets():
            assert secret_value not in text, secret_value
    actions = _actions(seeded_engine, JAYDEN.index_id)
    for action in ("notice-send", "notice-relay", "notice-answer"):
        assert (action, "success", name if action == "notice-send" else "indexteam.demo") in actions


def test_cpindex_user_link_links_and_audits(
    seeded_engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    name, _secret = new_user(seeded_engine)
    url = seeded_engine.url.render_as_string(hide_password=False)
    email = OLIVIA.involvements[2].email.upper()  # compared case-insensitively
    assert main(["user", "link", name, "--practitioner-email", email, "--db", url]) == 0
    assert "linked 1 practitioner row(s)" in capsys.readouterr().out
    with seeded_engine.connect() as conn:
        linked = conn.execute(
            select(practitioner_account.c.user_id).join(
                user_account, user_account.c.id == practitioner_account.c.user_id
            ).where(user_account.c.username == name)
        ).all()  # fmt: skip
        audited = conn.execute(
            select(audit_event.c.detail).where(audit_event.c.action == "account-link")
            .where(audit_event.c.username == name)
        ).scalar_one()  # fmt: skip
    assert len(linked) == 1 and json.loads(audited)["practitioners"] == 1
    assert main(["user", "link", name, "--practitioner-email", "nobody@example.org",
                 "--db", url]) == 1  # fmt: skip
