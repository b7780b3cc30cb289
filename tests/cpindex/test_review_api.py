"""/Task: the index team's link review over HTTP (cpindex.api.review)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from cpindex.api import Services, create_app
from cpindex.audit.misuse import find_misuse
from cpindex.clock import ManualClock
from cpindex.feeds.formats import FeedRow, to_csv
from cpindex.feeds.link import Thresholds
from cpindex.feeds.store import load_feed
from cpindex.seed.demo import FIXED_CHILDREN
from cpindex.store.schema import audit_event, feed_review, involvement
from tests.cpindex.conftest import RAISED, TestClient, new_user, sign_in_as
from tests.cpindex.test_feeds import SOURCE, Store, _dump, _feed, seeded_file, store

__all__ = ["seeded_file", "store"]  # fixtures shared with test_feeds

JAYDEN = next(c for c in FIXED_CHILDREN if c.shielded)
ROUTES = (
    ("GET", "/Task"),
    ("GET", "/Task/{id}"),
    ("POST", "/Task/{id}/$link"),
    ("POST", "/Task/{id}/$not-this-child"),
)


@dataclasses.dataclass
class Api:
    client: TestClient
    clock: ManualClock
    store: Store
    tokens: dict[str, str]

    def call(self, method: str, path: str, role: str = "index-team") -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"}
        response = self.client.request(method, path, headers=headers)
        return response.status_code, response.json()


@pytest.fixture
def api(store: Store) -> Iterator[Api]:
    """A store with a feed whose rows all wait for review, and a token per role."""
    synthetic = _feed(store, size=80)
    rows = [
        dataclasses.replace(r, nhs_number=None)
        for r in synthetic.rows
        if synthetic.kinds[r.number] == "exact"
    ][:4]
    jayden = dataclasses.replace(
        rows[0], given="Jaydon", family=JAYDEN.family, birth_date=JAYDEN.birth_date,
        postcode=None, practitioner_name="Ruth Adeyemi",
    )  # fmt: skip
    clock = ManualClock()
    load_feed(
        store.engine, to_csv([*rows, jayden]), SOURCE, now=clock.now(),
        thresholds=Thresholds(link=1.0, review=0.5),
    )  # fmt: skip
    app = create_app(Services.build(store.engine, RAISED, clock=clock))
    with TestClient(app) as client:
        tokens = {}
        for role in ("index-team", "practitioner", "admin"):
            name, secret = new_user(store.engine, role)
            tokens[role] = sign_in_as(client, clock, name, secret)
        yield Api(client, clock, store, tokens)


def _ids(api: Api) -> list[str]:
    status, bundle = api.call("GET", "/Task?status=requested")
    assert status == 200, bundle
    return [e["resource"]["id"] for e in bundle.get("entry", [])]


def _audit(api: Api, since: int = 0) -> list[tuple[str, str, str | None, dict[str, Any]]]:
    with api.store.engine.connect() as conn:
        rows = conn.execute(
            select(
                audit_event.c.action,
                audit_event.c.outcome,
                audit_event.c.patient_id,
                audit_event.c.detail,
            )
            .where(audit_event.c.id > since)
            .order_by(audit_event.c.id)
        ).all()
    return [(a, o, p, json.loads(d or "{}")) for a, o, p, d in rows]


def _last_id(api: Api) -> int:
    with api.store.engine.connect() as conn:
        last = select(audit_event.c.id).order_by(audit_event.c.id.desc()).limit(1)
        return int(conn.execute(last).scalar_one())


def test_list_view_and_decide_side_by_side(api: Api) -> None:
    before = _last_id(api)
    ids = _ids(api)
    assert len(ids) == 5
    status, bundle = api.call("GET", f"/Task/{ids[0]}")
    assert status == 200
    task, candidate = (e["resource"] for e in bundle["entry"])
    assert task["resourceType"] == "Task" and task["status"] == "requested"
    row = next(r for r in task["contained"] if r["resourceType"] == "Patient")
    assert row["name"][0]["family"] and row["birthDate"]
    assert candidate["resourceType"] == "Patient"
    assert task["for"]["reference"] == f"Patient/{candidate['id']}"
    status, decided = api.call("POST", f"/Task/{ids[0]}/$link")
    assert status == 200, decided
    assert decided["entry"][0]["resource"]["businessStatus"]["text"] == "linked"
    status, decided = api.call("POST", f"/Task/{ids[1]}/$not-this-child")
    assert status == 200
    assert decided["entry"][0]["resource"]["status"] == "completed"
    assert ids[0] not in _ids(api) and ids[1] not in _ids(api)
    events = _audit(api, before)
    actions = [(a, o) for a, o, _p, _d in events]
    assert ("review-list", "success") in actions
    assert ("review-view", "success") in actions
    assert ("feed-review", "linked") in actions and ("feed-review", "not-linked") in actions
    views = [e for e in events if e[0] == "review-view"]
    assert views[0][2] == candidate["id"] and views[0][3]["review"] == int(ids[0])
    with api.store.engine.connect() as conn:
        linked = conn.execute(
            select(involvement.c.child_pk).where(involvement.c.source_id.is_not(None))
        ).all()
    assert len(linked) == 1


def test_deciding_twice_is_a_conflict_and_changes_nothing(api: Api) -> None:
    first = _ids(api)[0]
    assert api.call("POST", f"/Task/{first}/$not-this-child")[0] == 200
    before = _dump(api.store.engine, audit=False)
    for op in ("$link", "$not-this-child"):
        status, outcome = api.call("POST", f"/Task/{first}/{op}")
        assert status == 409
        issue = outcome["issue"][0]
        assert issue["code"] == "conflict"
        assert issue["details"]["coding"][0]["code"] == "CONFLICT"
        assert "Nothing was changed" in issue["diagnostics"]
    assert _dump(api.store.engine, audit=False) == before
    assert [o for a, o, _p, _d in _audit(api) if a == "feed-review"][-2:] == ["conflict"] * 2


@pytest.mark.parametrize("bad", ["0", "99999", "abc", "1x", "٣", "1234567890", "-1"])
def test_bad_ids_are_not_found(api: Api, bad: str) -> None:
    before = _dump(api.store.engine, audit=False)
    for method, path in ROUTES[1:]:
        status, outcome = api.call(method, path.format(id=bad))
        assert status == 404, (path, bad)
        assert outcome["issue"][0]["details"]["coding"][0]["code"] == "RESOURCE_NOT_FOUND"
    assert _dump(api.store.engine, audit=False) == before
    assert [o for a, o, _p, _d in _audit(api)][-3:] == ["not-found"] * 3


def test_the_list_refuses_other_parameters(api: Api) -> None:
    for query in ("status=completed", "status=requested&status=requested", "patient=x"):
        status, outcome = api.call("GET", f"/Task?{query}")
        assert status == 400, query
        assert outcome["issue"][0]["details"]["coding"][0]["code"] == "INVALID_VALUE"


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    role=st.sampled_from(["practitioner", "admin"]),
    route=st.sampled_from(ROUTES),
    item=st.one_of(st.integers(0, 10**6).map(str), st.text(min_size=1, max_size=12)),
    real=st.booleans(),
)
def test_other_roles_get_nothing(
    api: Api, role: str, route: tuple[str, str], item: str, real: bool
) -> None:
    """Property: whatever the route and id (a real pending one or not), another role's
    token gets the same 403, no child data, and nothing changes but the audit's denial."""
    if real:
        with api.store.engine.connect() as conn:
            item = str(conn.execute(select(feed_review.c.id)).scalars().first())
    method, path = route
    before = _dump(api.store.engine, audit=False)
    last = _last_id(api)
    url = path.replace("{id}", quote(item, safe=""))
    headers = {"Authorization": f"Bearer {api.tokens[role]}"}
    response = api.client.request(method, url, headers=headers)
    if item.isascii() and item.isalnum():
        assert response.status_code == 403, (route, item)
    else:  # refused before any route (a control character, an empty segment) or 403
        assert response.status_code in (400, 403, 404), (route, item)
    if response.status_code == 404:
        assert response.json()["issue"][0]["diagnostics"] == "No such endpoint."
    body = response.text
    assert "Patient" not in body and JAYDEN.family not in body and "Task" not in body
    assert _dump(api.store.engine, audit=False) == before
    if response.status_code == 403:
        assert response.json()["issue"][0]["details"]["coding"][0]["code"] == "ACCESS_DENIED"
        assert [o for _a, o, _p, _d in _audit(api, last)] == ["denied"]


def test_a_shielded_candidate_is_served_as_the_index_teams_view_and_flagged(api: Api) -> None:
    ids = _ids(api)
    views = [api.call("GET", f"/Task/{i}")[1] for i in ids]
    shielded = [
        b for b in views
        if b["entry"][1]["resource"]["meta"]["security"]
    ]  # fmt: skip
    assert len(shielded) == 1
    candidate = shielded[0]["entry"][1]["resource"]
    assert candidate["id"] == JAYDEN.index_id
    assert candidate["meta"]["security"][0]["code"] == "R"
    assert candidate["address"][0]["postalCode"] == JAYDEN.postcode  # the team's full view
    event = next(e for e in _audit(api) if e[0] == "review-view" and e[2] == JAYDEN.index_id)
    assert event[3]["served"] == "full"
    with api.store.engine.connect() as conn:
        findings = find_misuse(conn, api.clock.now() - dt.timedelta(days=1))
    assert any(
        f.rule == "shielded-full-record" and f.patient_id == JAYDEN.index_id for f in findings
    )


def test_a_decision_on_a_replaced_feed_is_a_conflict(api: Api) -> None:
    first = _ids(api)[0]
    _status, bundle = api.call("GET", f"/Task/{first}")
    row = FeedRow.from_json(
        {
            "number": 2,
            **{
                k: v
                for k, v in _row_fields(bundle["entry"][0]["resource"]).items()
                if k != "number"
            },
        }
    )
    load_feed(api.store.engine, to_csv([row]), SOURCE, now=api.clock.now(),
              thresholds=Thresholds(link=1.0, review=0.5))  # fmt: skip
    status, outcome = api.call("POST", f"/Task/{first}/$link")
    assert status == 409
    assert "replaced" in outcome["issue"][0]["diagnostics"]


def _row_fields(task: dict[str, Any]) -> dict[str, Any]:
    patient, role = task["contained"]
    return {
        "given": " ".join(patient["name"][0]["given"]),
        "family": patient["name"][0]["family"],
        "birth_date": patient["birthDate"],
        "postcode": patient.get("address", [{}])[0].get("postalCode"),
        "nhs_number": None,
        "practitioner_name": role["practitioner"]["display"],
        "role": role["code"][0]["text"],
        "organisation": role["organization"]["display"],
        "phone": role["telecom"][0]["value"],
        "email": next((t["value"] for t in role["telecom"] if t["system"] == "email"), ""),
        "since": role["period"]["start"],
        "lead": role["extension"][0]["valueBoolean"],
    }


def test_every_answer_is_valid_fhir_r4(api: Api) -> None:
    from tests.cpindex.test_fhir_schema import _errors

    ids = _ids(api)
    answers = [
        api.call("GET", "/Task"),
        api.call("GET", f"/Task/{ids[0]}"),
        api.call("POST", f"/Task/{ids[0]}/$link"),
        api.call("POST", f"/Task/{ids[0]}/$link"),  # 409
        api.call("GET", "/Task/abc"),
        api.call("GET", "/Task", "practitioner"),
    ]
    resources = []
    for _status, body in answers:
        resources.append(body)
        resources += [e["resource"] for e in body.get("entry", [])]
    problems = [p for r in resources for p in _errors(r)]
    assert problems == []


def test_the_list_holds_the_oldest_and_counts_them_all(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cpindex.api import review

    monkeypatch.setattr(review, "MAX_LISTED", 2)
    status, bundle = api.call("GET", "/Task")
    assert status == 200
    assert bundle["total"] == 5 and len(bundle["entry"]) == 2
    ids = [int(e["resource"]["id"]) for e in bundle["entry"]]
    assert ids == sorted(ids)
