"""Notices end to end over a real `cpindex serve` with TLS on loopback (issue 18).

A nurse sends an attendance notice about an ordinary child: its lead professional signs in
and sees it, and the audit holds both. A nurse asks to be put in touch about a shielded
child: the index team sees the request and the full record (audited), relays it to the
child's social worker, who sees it; nothing the nurse receives locates the child.
"""

from __future__ import annotations

import json
from typing import Any

import pyotp
import requests
from sqlalchemy import select

from cpindex.audit.chain import verify_chain
from cpindex.seed.demo import fixed_child
from cpindex.store.db import make_engine
from cpindex.store.schema import audit_event
from tests.cpindex.test_shielding import _secrets
from tests.helpers.index_server import RunningIndex, sign_in_token
from tests.helpers.linked_accounts import linked_account
from tests.helpers.spent_codes import forget_spent_code_at

OLIVIA = fixed_child("Smithfield", "Olivia")
JAYDEN = fixed_child("Marsh-Whitley", "Jayden")
PASSWORD = "a long e2e password"


class User:
    """A signed-in user of the running index."""

    def __init__(self, index: RunningIndex, token: str) -> None:
        self.index = index
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, **kw: Any) -> requests.Response:
        headers = {**self.headers, **kw.pop("headers", {})}
        return requests.request(
            method, f"{self.index.base_url}{path}", headers=headers,
            verify=self.index.verify, timeout=30, **kw,
        )  # fmt: skip

    def open(self, patient: str, reason: str) -> dict[str, Any]:
        answer = self.call(
            "GET", f"/Patient/{patient}/$everything", headers={"X-Access-Reason": reason}
        )
        assert answer.status_code == 200, answer.text
        return dict(answer.json())


def _practitioner_account(index: RunningIndex, email: str) -> User:
    """A new account linked to the seed's practitioner with `email`, signed in."""
    name, secret = linked_account(index.db_url, email, PASSWORD)
    forget_spent_code_at(index.db_url, name)
    answer = requests.post(
        f"{index.base_url}/auth/session",
        json={"username": name, "password": PASSWORD, "otp": pyotp.TOTP(secret).now()},
        verify=index.verify, timeout=30,
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    return User(index, answer.json()["token"])


def _notice(patient: str, category: str, text: str) -> dict[str, Any]:
    return {
        "resourceType": "Communication",
        "subject": {"reference": f"Patient/{patient}"},
        "category": [{"coding": [{"code": category}]}],
        "payload": [{"contentString": text}],
    }


def _audit(index: RunningIndex, patient: str) -> list[tuple[str, str, str]]:
    engine = make_engine(index.db_url)
    try:
        with engine.connect() as conn:
            assert verify_chain(conn)[2] is None
            rows = conn.execute(
                select(audit_event.c.action, audit_event.c.outcome, audit_event.c.username)
                .where(audit_event.c.patient_id == patient)
            ).all()  # fmt: skip
    finally:
        engine.dispose()
    return [(r[0], r[1], r[2]) for r in rows]


def test_an_attendance_notice_reaches_the_lead_professional(index_server: RunningIndex) -> None:
    lead = _practitioner_account(index_server, OLIVIA.involvements[0].email)
    nurse = User(index_server, sign_in_token(index_server, "nurse.demo"))
    nurse.open(OLIVIA.index_id, "emergency-care")
    text = "Attended Northgate A&E 02:14, intoxicated, discharged to mother."
    sent = nurse.call("POST", "/Communication", json=_notice(OLIVIA.index_id, "attendance", text))
    assert sent.status_code == 201, sent.text
    assert sent.headers["content-type"].startswith("application/fhir+json")
    inbox = lead.call("GET", "/Communication", params={"status": "in-progress"}).json()
    [got] = [e["resource"] for e in inbox["entry"]]
    assert got["payload"] == [{"contentString": text}]
    assert got["category"][0]["coding"][0]["code"] == "attendance"
    assert got["subject"]["reference"] == f"Patient/{OLIVIA.index_id}"
    assert lead.call("POST", f"/Communication/{got['id']}/$done").json()["status"] == "completed"
    actions = _audit(index_server, OLIVIA.index_id)
    assert ("notice-send", "success", "nurse.demo") in actions
    assert any(a[:2] == ("notice-done", "success") for a in actions)


def test_a_contact_request_for_a_shielded_child_is_relayed(index_server: RunningIndex) -> None:
    worker = _practitioner_account(index_server, JAYDEN.involvements[0].email)
    nurse = User(index_server, sign_in_token(index_server, "nurse.demo"))
    banner = nurse.open(JAYDEN.index_id, "safeguarding")
    assert [e["resource"]["resourceType"] for e in banner["entry"]] == ["Patient"]
    ask = "Seen in A&E tonight; please put me in touch with his social worker."
    sent = nurse.call(
        "POST", "/Communication", json=_notice(JAYDEN.index_id, "request-contact", ask)
    )
    assert sent.status_code == 201, sent.text
    queued = sent.json()["entry"][0]["resource"]
    team = User(index_server, sign_in_token(index_server, "indexteam.demo"))
    queue = team.call("GET", "/Communication", params={"recipient": "index-team"}).json()
    assert queued["id"] in {e["resource"]["id"] for e in queue["entry"]}
    full = team.open(JAYDEN.index_id, "safeguarding")
    assert JAYDEN.involvements[0].name in json.dumps(full)  # the team sees who works with him
    relayed = team.call("POST", f"/Communication/{queued['id']}/$relay", json={})
    assert relayed.status_code == 201, relayed.text
    got = worker.call("GET", "/Communication").json()["entry"][0]["resource"]
    assert got["payload"] == [{"contentString": ask}]
    assert got["sender"]["display"].startswith("Alex Morgan")
    # Everything the nurse can get about her notice, and her inbox: nothing locating him.
    received = [
        sent.json(),
        nurse.call("GET", f"/Communication/{queued['id']}").json(),
        nurse.call("GET", "/Communication").json(),
        nurse.call("GET", f"/Communication/{got['id']}").json(),
    ]
    for body in received:
        text = json.dumps(body)
        leaked = [s for s in _secrets() if s in text]
        assert not leaked, leaked
    actions = _audit(index_server, JAYDEN.index_id)
    assert ("notice-send", "success", "nurse.demo") in actions
    assert ("view", "success", "indexteam.demo") in actions
    assert ("notice-relay", "success", "indexteam.demo") in actions
