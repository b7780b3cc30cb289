"""Self-declared involvements in-process: declare, see, end, refusals, audit, misuse report.

"I am working with this child" (issue 17 item 8). Children are taken from the seeded store
(plain ones: not shielded, not documented fixtures); every declaration a test leaves is
ended afterwards, so the shared store's records stay as the seed made them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from cpindex.api import create_app
from cpindex.audit.chain import verify_chain
from cpindex.audit.misuse import find_misuse
from cpindex.clock import ManualClock
from cpindex.config import ServerSettings
from cpindex.seed.demo import FIXED_CHILDREN, fixed_child
from cpindex.selfdecl.rules import Declaration, check_since, uk_today
from cpindex.selfdecl.store import declare, end_declaration
from cpindex.store.db import serialised
from cpindex.store.schema import (
    audit_event,
    child,
    involvement,
    practitioner,
    self_declaration,
    user_account,
)
from tests.cpindex.conftest import RAISED, Api, TestClient, build_services, new_user, sign_in_as
from tests.cpindex.test_notices import Client, _valid
from tests.cpindex.test_notices import body as notice_body

EXT = "https://cpindex.example/fhir/StructureDefinition/"
JAYDEN = fixed_child("Marsh-Whitley", "Jayden")
MIA = fixed_child("Marsh", "Mia")
OLIVIA = fixed_child("Smithfield", "Olivia")
TODAY = dt.date(2026, 11, 26)  # ManualClock's day


def declaration(
    patient: str, role: str = "Youth worker", since: str = "2026-10-01", lead: Any = False,
    phone: Any = "0113 496 0777", email: Any = "sam.youth@example.org",
) -> dict[str, Any]:  # fmt: skip
    telecom = [{"system": "phone", "value": phone}] if phone is not None else []
    if email is not None:
        telecom.append({"system": "email", "value": email})
    return {
        "resourceType": "PractitionerRole",
        "extension": [
            {"url": EXT + "patient", "valueReference": {"reference": f"Patient/{patient}"}},
            {"url": EXT + "lead-professional", "valueBoolean": lead},
        ],
        "period": {"start": since},
        "code": [{"text": role}],
        "telecom": telecom,
    }


@pytest.fixture(autouse=True)
def _end_all(seeded_engine: Engine) -> Iterator[None]:
    yield
    with serialised(seeded_engine) as conn:
        rows = conn.execute(
            select(self_declaration.c.involvement_id).where(self_declaration.c.ended_at.is_(None))
        ).all()
        for (involvement_id,) in rows:
            end_declaration(conn, int(involvement_id), dt.datetime.now(dt.UTC))


def plain_child(engine: Engine, offset: int, *, without_lead: bool = False) -> str:
    """The index id of a seeded child that is not shielded and not a documented fixture."""
    fixed = [c.index_id for c in FIXED_CHILDREN]
    query = select(child.c.index_id).where(
        child.c.effectively_shielded.is_(False), child.c.index_id.not_in(fixed)
    )
    if without_lead:
        leads = select(involvement.c.child_pk).where(involvement.c.lead.is_(True))
        query = query.where(child.c.pk.not_in(leads))
    with engine.connect() as conn:
        return str(conn.execute(query.order_by(child.c.pk).offset(offset).limit(1)).scalar_one())


class Practitioner(Client):
    name = ""

    def declare(self, resource: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return self.post("/PractitionerRole", resource)

    def roles(self, patient: str) -> list[dict[str, Any]]:
        record = self.open(patient)
        return [
            e["resource"]
            for e in record["entry"]
            if e["resource"]["resourceType"] == "PractitionerRole"
        ]


def _user(api: Api, engine: Engine, role: str = "practitioner") -> tuple[Practitioner, str]:
    name, secret = new_user(engine, role)
    user = Practitioner(api.client, sign_in_as(api.client, api.clock, name, secret))
    user.name = name
    return user, name


def _source(resource: dict[str, Any]) -> dict[str, Any] | None:
    found = [e for e in resource.get("extension", []) if e["url"] == EXT + "involvement-source"]
    return found[0] if found else None


def _audit(engine: Engine, patient: str, action: str) -> list[tuple[str, str, dict[str, Any]]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(audit_event.c.outcome, audit_event.c.username, audit_event.c.detail)
            .where(audit_event.c.patient_id == patient, audit_event.c.action == action)
            .order_by(audit_event.c.id)
        ).all()
    return [(r[0], r[1], json.loads(r[2] or "{}")) for r in rows]


def _stored(engine: Engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in (self_declaration, involvement, practitioner)
        )


def test_declared_seen_by_others_and_ended(api: Api, seeded_engine: Engine) -> None:
    patient = plain_child(seeded_engine, 10)
    author, author_name = _user(api, seeded_engine)
    other, _ = _user(api, seeded_engine)
    before = len(other.roles(patient))
    author.open(patient)
    status, created = author.declare(declaration(patient))
    assert status == 201, created
    _valid(created)
    assert created["code"] == [{"text": "Youth worker"}]
    assert created["practitioner"] == {"display": author_name}  # the account's own name
    assert created["organization"] == {"display": "Test Organisation"}
    source = _source(created)
    assert source is not None and source["valueCoding"]["code"] == "self-declared"
    # Every other practitioner sees it, marked self-declared and not theirs.
    seen = other.roles(patient)
    assert len(seen) == before + 1
    [row] = [r for r in seen if _source(r)]
    assert row["id"] == created["id"]
    assert row["telecom"][0]["value"] == "0113 496 0777"
    assert _source(row)["valueCoding"]["display"] == "Self-declared"  # type: ignore[index]
    assert _source(row)["extension"][0]["valueBoolean"] is False  # type: ignore[index]
    [mine] = [r for r in author.roles(patient) if _source(r)]
    assert mine["extension"][1]["extension"][0]["valueBoolean"] is True
    [(outcome, who, detail)] = _audit(seeded_engine, patient, "self-declare")
    assert (outcome, who) == ("success", author_name)
    assert detail["role"] == "Youth worker" and detail["lead"] is False
    # Only the author ends it; anyone else gets the same answer as for no such id.
    assert other.post(f"/PractitionerRole/{created['id']}/$end")[0] == 404
    assert other.post(f"/PractitionerRole/{patient}-involvement-99/$end")[0] == 404
    assert len(other.roles(patient)) == before + 1
    status, ended = author.post(f"/PractitionerRole/{created['id']}/$end")
    assert status == 200, ended
    assert len(other.roles(patient)) == before
    assert not [r for r in other.roles(patient) if _source(r)]
    actions = _audit(seeded_engine, patient, "self-declare-end")
    assert [(o, w) for o, w, _ in actions] == [
        ("refused", other.name), ("refused", other.name), ("success", author_name)
    ]  # fmt: skip
    with seeded_engine.connect() as conn:
        assert verify_chain(conn)[2] is None


def test_no_duplicates_while_one_is_active(api: Api, seeded_engine: Engine) -> None:
    patient = plain_child(seeded_engine, 11)
    author, _ = _user(api, seeded_engine)
    author.open(patient)
    status, created = author.declare(declaration(patient))
    assert status == 201
    stored = _stored(seeded_engine)
    status, answer = author.declare(declaration(patient, role="Mentor"))
    assert status == 409, answer
    assert "already" in answer["issue"][0]["diagnostics"]
    assert _stored(seeded_engine) == stored
    assert author.post(f"/PractitionerRole/{created['id']}/$end")[0] == 200
    assert author.declare(declaration(patient, role="Mentor"))[0] == 201


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"since": "2026-11-27"}, "future"),
        ({"since": "2026-02-30"}, "real date"),
        ({"since": "26/11/2026"}, "YYYY-MM-DD"),
        ({"since": "1990-01-01"}, "before the child was born"),
        ({"role": ""}, "role"),
        ({"role": "   "}, "role"),
        ({"role": "Youth\u202eworker"}, "direction"),
        ({"role": "Youth\tworker"}, "tabs"),
        ({"role": "=HYPERLINK(1)"}, "=, + or @"),
        ({"role": "x" * 81}, "too long"),
        ({"role": "1234"}, "words"),
        ({"lead": "yes"}, "lead professional"),
        ({"phone": None}, "work phone"),
        ({"phone": "call me"}, "work phone"),
        ({"email": "not an address"}, "email"),
        ({"email": "@x.org"}, "email"),
    ],
)
def test_bad_declarations_change_nothing(
    api: Api, seeded_engine: Engine, changes: dict[str, Any], words: str
) -> None:
    patient = plain_child(seeded_engine, 12)
    author, _ = _user(api, seeded_engine)
    author.open(patient)
    stored = _stored(seeded_engine)
    status, answer = author.declare(declaration(patient, **changes))
    assert status == 400, answer
    assert words in answer["issue"][0]["diagnostics"]
    assert _stored(seeded_engine) == stored


def test_the_record_must_be_opened_first_and_by_a_practitioner(
    api: Api, seeded_engine: Engine
) -> None:
    patient = plain_child(seeded_engine, 13)
    stranger, name = _user(api, seeded_engine)
    stored = _stored(seeded_engine)
    status, answer = stranger.declare(declaration(patient))
    assert status == 403 and "Open the child's record" in answer["issue"][0]["diagnostics"]
    team, _ = _user(api, seeded_engine, "index-team")
    team.open(patient)
    assert team.declare(declaration(patient))[0] == 403
    assert stranger.declare(declaration("no-such-child"))[0] == 404
    assert _stored(seeded_engine) == stored
    assert ("refused", name) in [
        (o, w) for o, w, _ in _audit(seeded_engine, patient, "self-declare")
    ]


def test_a_lead_professional_is_not_doubled(api: Api, seeded_engine: Engine) -> None:
    author, _ = _user(api, seeded_engine)
    author.open(OLIVIA.index_id)  # Hannah Lowe is her lead professional
    status, answer = author.declare(declaration(OLIVIA.index_id, lead=True))
    assert status == 409 and "lead professional" in answer["issue"][0]["diagnostics"]
    patient = plain_child(seeded_engine, 0, without_lead=True)
    author.open(patient)
    status, created = author.declare(declaration(patient, lead=True))
    assert status == 201, created
    assert created["extension"][0] == {"url": EXT + "lead-professional", "valueBoolean": True}


def test_ending_one_shifts_no_other_id(api: Api, seeded_engine: Engine) -> None:
    """Notices are addressed by position: an ended declaration keeps its place, so the
    involvement after it keeps its id and a notice to the ended one is refused."""
    patient = plain_child(seeded_engine, 18)
    first, _ = _user(api, seeded_engine)
    second, _ = _user(api, seeded_engine)
    for user in (first, second):
        user.open(patient)
    ended = first.declare(declaration(patient))[1]["id"]
    kept = second.declare(declaration(patient, role="Mentor"))[1]["id"]
    assert first.post(f"/PractitionerRole/{ended}/$end")[0] == 200
    assert [r["id"] for r in second.roles(patient) if _source(r)] == [kept]
    status, answer = second.send(notice_body(patient, recipients=[f"PractitionerRole/{ended}"]))
    assert status == 400 and "Unknown recipient" in answer["issue"][0]["diagnostics"]
    assert first.post(f"/PractitionerRole/{ended}/$end")[0] == 404  # ended once only


def test_notices_reach_the_author(api: Api, seeded_engine: Engine) -> None:
    patient = plain_child(seeded_engine, 14)
    author, _ = _user(api, seeded_engine)
    author.open(patient)
    created = author.declare(declaration(patient))[1]
    sender, _ = _user(api, seeded_engine)
    sender.open(patient)
    status, sent = sender.send(
        notice_body(patient, recipients=[f"PractitionerRole/{created['id']}"])
    )
    assert status == 201, sent
    inbox = author.get("/Communication")[1]
    assert [e["resource"]["id"] for e in inbox["entry"]] == [sent["entry"][0]["resource"]["id"]]


def test_a_flood_is_refused(seeded_engine: Engine) -> None:
    clock = ManualClock()
    settings = ServerSettings(**{**RAISED.__dict__, "declaration_limit": 2})
    with TestClient(create_app(build_services(seeded_engine, settings, clock))) as client:
        name, secret = new_user(seeded_engine)
        author = Practitioner(client, sign_in_as(client, clock, name, secret))
        patients = [plain_child(seeded_engine, n) for n in (15, 16, 17)]
        for patient in patients:
            author.open(patient)
        assert author.declare(declaration(patients[0]))[0] == 201
        assert author.declare(declaration(patients[1]))[0] == 201
        stored = _stored(seeded_engine)
        answer = client.post(
            "/PractitionerRole", json=declaration(patients[2]), headers=author.auth
        )
        assert answer.status_code == 429
        assert int(answer.headers["Retry-After"]) >= 1
        assert _stored(seeded_engine) == stored
        assert ("rate-limited", name) in [
            (o, w) for o, w, _ in _audit(seeded_engine, patients[2], "self-declare")
        ]


@pytest.mark.parametrize("shielded", [JAYDEN, MIA], ids=["shielded", "same-home"])
def test_a_shielded_child_is_refused_and_reported(
    api: Api, seeded_engine: Engine, shielded: Any
) -> None:
    """Declaring is no way past the banner: refused, nothing stored, the banner still all
    the author gets, and the attempt is listed by the misuse report."""
    author, name = _user(api, seeded_engine)
    banner = author.open(shielded.index_id, "safeguarding")
    stored = _stored(seeded_engine)
    for lead in (False, True):
        status, answer = author.declare(declaration(shielded.index_id, lead=lead))
        assert status == 403, answer
        assert "index team" in answer["issue"][0]["diagnostics"]
    for n in (1, 2):
        assert author.post(f"/PractitionerRole/{shielded.index_id}-involvement-{n}/$end")[0] == 404
    assert _stored(seeded_engine) == stored
    assert author.open(shielded.index_id, "safeguarding")["entry"] == banner["entry"]
    attempts = _audit(seeded_engine, shielded.index_id, "self-declare")
    assert [(o, w, d.get("shielded")) for o, w, d in attempts if w == name] == [
        ("refused", name, True), ("refused", name, True)
    ]  # fmt: skip
    with seeded_engine.connect() as conn:
        found = [
            f for f in find_misuse(conn, api.clock.now() - dt.timedelta(days=1))
            if f.rule == "shielded-self-declaration" and f.username == name
        ]  # fmt: skip
    assert len(found) == 2 and all(f.patient_id == shielded.index_id for f in found)
    assert all("(refused)" in f.explanation for f in found)


def test_a_declaration_made_before_shielding_is_reported(seeded_engine: Engine) -> None:
    """A declaration stored before the child's home was shielded stays on the misuse
    report, however old, until it is ended."""
    name, _ = new_user(seeded_engine)
    long_ago = dt.datetime(2020, 1, 6, 10, tzinfo=dt.UTC)
    with serialised(seeded_engine) as conn:
        user_id = conn.execute(
            select(user_account.c.id).where(user_account.c.username == name)
        ).scalar_one()
        pk = conn.execute(select(child.c.pk).where(child.c.index_id == MIA.index_id)).scalar_one()
        made = Declaration("Youth worker", dt.date(2019, 12, 1), False, "0113 496 0777", "")
        declare(conn, user_id=user_id, display_name="Test User", organisation="Test Organisation",
                child_pk=pk, declaration=made, now=long_ago)  # fmt: skip
        from cpindex.audit import record_event

        record_event(conn, at=long_ago, action="self-declare", outcome="success",
                     username=name, patient_id=MIA.index_id, detail={})  # fmt: skip
    with seeded_engine.connect() as conn:
        found = [
            f for f in find_misuse(conn, dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
            if f.rule == "shielded-self-declaration" and f.username == name
        ]  # fmt: skip
    assert [f.patient_id for f in found] == [MIA.index_id]
    assert "still in place" in found[0].explanation


def test_since_is_the_uk_date() -> None:
    late = dt.datetime(2026, 6, 30, 23, 30, tzinfo=dt.UTC)  # 00:30 on 1 July in London
    assert uk_today(late) == dt.date(2026, 7, 1)
    birth = dt.date(2015, 1, 1)
    assert check_since("2026-07-01", uk_today(late), birth) == dt.date(2026, 7, 1)
    assert check_since("2014-01-01", TODAY, birth) == dt.date(2014, 1, 1)  # before birth
