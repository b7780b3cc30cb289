"""The misuse report: each planted pattern is found with its rule; ordinary work is not."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, select

from cpindex.api import create_app
from cpindex.audit import record_event
from cpindex.audit.misuse import LOCAL, RULES, Finding, find_misuse
from cpindex.cli import main
from cpindex.clock import ManualClock
from cpindex.seed.demo import fixed_child
from cpindex.store.schema import child
from tests.cpindex.conftest import (
    RAISED,
    TestClient,
    build_services,
    engine_url,
    new_user,
    sign_in_as,
)

DAY = dt.date(2030, 6, 10)  # a Monday, far from other tests' traffic
SINCE = dt.datetime.combine(DAY, dt.time(), tzinfo=dt.UTC)
OLIVIA = fixed_child("Smithfield", "Olivia").index_id  # LS6 2QB
JAYDEN = fixed_child("Marsh-Whitley", "Jayden").index_id  # shielded


def _at(day: dt.date, hhmm: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.fromisoformat(hhmm), tzinfo=LOCAL).astimezone(dt.UTC)


TEN = _at(DAY, "10:00")
LATE = _at(DAY, "16:30")


def _ordinary_children(engine: Engine, n: int = 40) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(child.c.index_id)
            .where(child.c.effectively_shielded.is_(False), child.c.postcode_key.like("B%"))
            .order_by(child.c.pk)
            .limit(n)
        )
        return [r[0] for r in rows]


class Planter:
    def __init__(self, engine: Engine, **user: str) -> None:
        self.engine = engine
        self.name, _ = new_user(engine, **user)

    def search(self, at: dt.datetime, results: int = 1) -> None:
        record_event(
            self.engine, at=at, action="search", outcome="success", username=self.name,
            role="practitioner", organisation="Test Organisation",
            detail={"parameters": {"family": "x"}, "results": results},
        )  # fmt: skip

    def view(self, at: dt.datetime, patient: str, reason: str = "health-care") -> None:
        record_event(
            self.engine, at=at, action="view", outcome="success", username=self.name,
            role="practitioner", organisation="Test Organisation", patient_id=patient,
            detail={"reason": reason, "reason_text": "planted" if reason == "other" else ""},
        )  # fmt: skip

    def ordinary_day(self, day: dt.date, children: list[str], count: int = 5) -> None:
        for i in range(count):
            at = _at(day, f"{9 + i:02d}:15")
            self.search(at)
            self.view(at + dt.timedelta(minutes=2), children[i % len(children)])

    def rules(self, since: dt.datetime = SINCE) -> set[str]:
        with self.engine.connect() as conn:
            return {f.rule for f in find_misuse(conn, since) if f.username == self.name}


def test_ordinary_work_is_not_flagged(seeded_engine: Engine) -> None:
    kids = _ordinary_children(seeded_engine)
    user = Planter(seeded_engine, family_name="Okafor", postcode_district="M1")
    for offset in range(10):
        user.ordinary_day(DAY + dt.timedelta(days=offset), kids[offset:], count=8)
    user.search(_at(DAY, "12:00"), results=0)  # a search that finds nobody
    assert user.rules() == set()


@pytest.mark.parametrize(
    ("rule", "user", "plant"),
    [
        ("same-family-name", {"family_name": "Smithfield"}, lambda p, k: p.view(TEN, OLIVIA)),
        ("same-postcode-district", {"postcode_district": "ls6"}, lambda p, k: p.view(TEN, OLIVIA)),
        ("shielded-child", {}, lambda p, k: p.view(TEN, JAYDEN)),
        ("emergency-or-other", {}, lambda p, k: p.view(TEN, k[0], "emergency-care")),
        ("out-of-hours", {}, lambda p, k: p.search(_at(DAY, "23:30"))),
        ("out-of-hours", {"work_hours": ("08:00", "16:00")}, lambda p, k: p.search(LATE)),
    ],
)  # fmt: skip
def test_each_single_access_pattern_is_found(
    seeded_engine: Engine, rule: str, user: dict[str, object], plant: object
) -> None:
    kids = _ordinary_children(seeded_engine)
    planter = Planter(seeded_engine, **user)  # type: ignore[arg-type]
    planter.ordinary_day(DAY, kids)
    plant(planter, kids)  # type: ignore[operator]
    assert planter.rules() == {rule}


def test_unusual_volume_is_found(seeded_engine: Engine) -> None:
    kids = _ordinary_children(seeded_engine)
    planter = Planter(seeded_engine)
    for back in range(1, 8):
        planter.ordinary_day(DAY - dt.timedelta(days=back), kids, count=5)
    for i in range(40):
        planter.view(_at(DAY, "09:00") + dt.timedelta(minutes=5 * i), kids[i % len(kids)])
    assert planter.rules() == {"unusual-volume"}
    with seeded_engine.connect() as conn:
        (finding,) = [f for f in find_misuse(conn, SINCE) if f.username == planter.name]
    assert finding.explanation == "40 records opened that day; usually 5"


def test_fishing_is_found(seeded_engine: Engine) -> None:
    planter = Planter(seeded_engine)
    for i in range(12):
        planter.search(_at(DAY, "10:00") + dt.timedelta(minutes=3 * i), results=4)
    assert planter.rules() == {"fishing"}


def test_report_over_http_and_cli(
    seeded_engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    planter = Planter(seeded_engine)
    planter.view(_at(DAY, "10:00"), JAYDEN, "other")
    clock = ManualClock()
    client = TestClient(create_app(build_services(seeded_engine, RAISED, clock=clock)))
    team = sign_in_as(client, clock, *new_user(seeded_engine, "index-team"))
    nurse = sign_in_as(client, clock, *new_user(seeded_engine))
    path = "/AuditEvent/$misuse"
    denied = client.get(
        path, params={"since": DAY.isoformat()}, headers={"Authorization": f"Bearer {nurse}"}
    )
    assert denied.status_code == 403
    answer = client.get(
        path, params={"since": DAY.isoformat()}, headers={"Authorization": f"Bearer {team}"}
    )
    assert answer.status_code == 200
    mine = [
        e["resource"] for e in answer.json()["entry"]
        if e["resource"]["agent"][0]["altId"] == planter.name
    ]  # fmt: skip
    assert len(mine) == 1
    rules = {x["valueCode"] for x in mine[0]["extension"] if x["url"].endswith("misuse-rule")}
    assert rules == {"shielded-child", "emergency-or-other"}
    assert mine[0]["entity"][0]["what"]["reference"] == f"Patient/{JAYDEN}"
    bad = client.get(path, params={"since": "soon"}, headers={"Authorization": f"Bearer {team}"})
    assert bad.status_code == 400
    assert (
        main(["audit", "report", "--since", DAY.isoformat(), "--db", engine_url(seeded_engine)])
        == 0
    )
    lines = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    flagged = {(line[1], line[3]) for line in lines if line[2] == planter.name}
    assert flagged == {("shielded-child", JAYDEN), ("emergency-or-other", JAYDEN)}
    assert set(RULES) >= {line[1] for line in lines}


def test_finding_columns() -> None:
    at = dt.datetime(2030, 6, 10, 22, 30, tzinfo=dt.UTC)
    finding = Finding("fishing", 7, at, "someone", None, "12 searches")
    assert finding.columns() == [
        "2030-06-10T22:30:00Z",
        "fishing",
        "someone",
        "-",
        "7",
        "12 searches",
    ]
