"""Council feeds end to end through `cpindex source` / `cpindex feed` on a real store.

Each test gets its own copy of one small seeded SQLite store (feeds change it), with
planted twins, and a synthetic feed whose truth is known.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from cpindex.audit.chain import verify_chain
from cpindex.cli import main
from cpindex.feeds.formats import FeedRow, to_csv, to_fhir
from cpindex.feeds.synthetic import SyntheticFeed, make_feed, plant_twins
from cpindex.seed.generate import seed_database
from cpindex.store.db import make_engine
from cpindex.store.schema import (
    audit_event,
    child,
    feed,
    feed_review,
    involvement,
    practitioner,
    source,
)
from tests.cpindex.conftest import _fresh_postgres, backends

SOURCE = "Synthetic Borough Council"


@dataclasses.dataclass
class Store:
    url: str
    engine: Engine
    twins: dict[int, int]
    tmp: Path

    def cli(self, *args: str, code: int = 0) -> str:
        return _cli(self.url, *args, code=code)


def _cli(url: str, *args: str, code: int = 0) -> str:
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        got = main([*args, "--db", url])
    assert got == code, err.getvalue()
    return out.getvalue() + err.getvalue()


@pytest.fixture(scope="session")
def seeded_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[int, int]]:
    path = tmp_path_factory.mktemp("feeds") / "seeded.db"
    engine = make_engine(f"sqlite:///{path}", bulk_load=True)
    seed_database(engine, children=3000, seed=1)
    with engine.begin() as conn:
        twins = plant_twins(conn, 20, random.Random(3))
    engine.dispose()
    return path, twins


# Tests marked with this run on PostgreSQL too (seeding it afresh costs seconds per test).
BOTH_BACKENDS = pytest.mark.parametrize("store", backends(), indirect=True)


@pytest.fixture
def store(
    request: pytest.FixtureRequest, seeded_file: tuple[Path, dict[int, int]], tmp_path: Path
) -> Iterator[Store]:
    """A fresh seeded store: a copy of the SQLite file, or PostgreSQL seeded afresh."""
    if getattr(request, "param", "sqlite") == "postgresql":
        url = os.environ["CPINDEX_TEST_POSTGRES_URL"]
        loader = _fresh_postgres(url)
        seed_database(loader, children=3000, seed=1)
        with loader.begin() as conn:
            twins = plant_twins(conn, 20, random.Random(3))
        loader.dispose()
    else:
        path = tmp_path / "index.db"
        shutil.copy(seeded_file[0], path)
        url, twins = f"sqlite:///{path}", seeded_file[1]
    engine = make_engine(url)
    _cli(url, "source", "add", SOURCE)
    yield Store(url, engine, twins, tmp_path)
    engine.dispose()


def _feed(store: Store, size: int = 300, seed: int = 11) -> SyntheticFeed:
    with store.engine.connect() as conn:
        return make_feed(conn, size, seed, twin_pairs=store.twins)


def _write(store: Store, name: str, data: bytes) -> str:
    path = store.tmp / name
    path.write_bytes(data)
    return str(path)


def _dump(engine: Engine, *, audit: bool = True) -> dict[str, list[Any]]:
    tables = [source, feed, feed_review, involvement, practitioner]
    if audit:
        tables.append(audit_event)
    with engine.connect() as conn:
        return {
            t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key))]
            for t in tables
        }


def _linked_pks(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return sorted(
            int(pk)
            for pk in conn.execute(
                select(involvement.c.child_pk).where(involvement.c.source_id.is_not(None))
            ).scalars()
        )


@BOTH_BACKENDS
def test_csv_feed_links_rows_to_the_right_children(store: Store) -> None:
    synthetic = _feed(store)
    out = store.cli("feed", "load", _write(store, "f.csv", to_csv(synthetic.rows)),
                    "--source", SOURCE)  # fmt: skip
    assert "linked" in out
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(involvement.c.child_pk, involvement.c.feed_id, source.c.name).join(
                source, source.c.id == involvement.c.source_id
            )
        ).all()
        feed_id = conn.execute(select(feed.c.id)).scalar_one()
    assert rows, "nothing linked"
    assert {(r[1], r[2]) for r in rows} == {(feed_id, SOURCE)}
    wanted = {pk for pk in synthetic.truth.values() if pk is not None}
    linked = [r[0] for r in rows]
    assert set(linked) <= wanted  # no row linked to a child it is not about
    assert len(set(linked)) >= 0.95 * len(wanted)
    # Every row not in the index is rejected, named in the report with its reason.
    absent = [n for n, pk in synthetic.truth.items() if pk is None]
    for number in absent:
        assert f"row {number}\trejected\tno child in the index is close enough" in out


def _pks_of(engine: Engine, source_name: str) -> list[int]:
    with engine.connect() as conn:
        return sorted(
            conn.execute(
                select(involvement.c.child_pk)
                .join(source, source.c.id == involvement.c.source_id)
                .where(source.c.name == source_name)
            ).scalars()
        )


def test_fhir_bundle_links_the_same_as_csv(store: Store) -> None:
    synthetic = _feed(store, size=120)
    store.cli("feed", "load", _write(store, "f.csv", to_csv(synthetic.rows)), "--source", SOURCE)
    store.cli("source", "add", "Synthetic Health Trust")
    store.cli("feed", "load", _write(store, "f.json", to_fhir(synthetic.rows)),
              "--source", "Synthetic Health Trust")  # fmt: skip
    from_csv = _pks_of(store.engine, SOURCE)
    assert from_csv and _pks_of(store.engine, "Synthetic Health Trust") == from_csv


@BOTH_BACKENDS
def test_the_same_file_twice_changes_nothing(store: Store) -> None:
    path = _write(store, "f.csv", to_csv(_feed(store, size=80).rows))
    store.cli("feed", "load", path, "--source", SOURCE)
    before = _dump(store.engine, audit=False)
    out = store.cli("feed", "load", path, "--source", SOURCE)
    assert "nothing changed" in out
    assert _dump(store.engine, audit=False) == before
    with store.engine.connect() as conn:
        last = conn.execute(select(audit_event).order_by(audit_event.c.id.desc())).first()
    assert last is not None and (last.action, last.outcome) == ("feed-load", "unchanged")


@BOTH_BACKENDS
def test_a_newer_feed_replaces_the_sources_involvements(store: Store) -> None:
    with store.engine.connect() as conn:
        seed_rows = conn.execute(select(involvement).where(involvement.c.source_id.is_(None))).all()
    first = _feed(store, size=100, seed=1)
    store.cli("feed", "load", _write(store, "a.csv", to_csv(first.rows)), "--source", SOURCE)
    second = _feed(store, size=40, seed=2)
    store.cli("feed", "load", _write(store, "b.csv", to_csv(second.rows)), "--source", SOURCE)
    with store.engine.connect() as conn:
        feeds = conn.execute(select(feed.c.id, feed.c.current).order_by(feed.c.id)).all()
        feed_ids = set(
            conn.execute(
                select(involvement.c.feed_id).where(involvement.c.source_id.is_not(None))
            ).scalars()
        )
        still_seed = conn.execute(
            select(involvement).where(involvement.c.source_id.is_(None))
        ).all()
        names = set(
            conn.execute(
                select(practitioner.c.name).where(practitioner.c.source_id.is_not(None))
            ).scalars()
        )
    assert [(f[1]) for f in feeds] == [False, True]
    assert feed_ids == {feeds[1][0]}  # the first feed's involvements are gone
    assert still_seed == seed_rows  # other sources (the seed) untouched
    assert names <= {r.practitioner_name for r in second.rows}
    assert len(_linked_pks(store.engine)) <= len(second.rows)


def _bad_csv(good: list[FeedRow]) -> bytes:
    """Good rows with one bad row of each kind between them."""
    lines = to_csv(good).decode().splitlines()
    header, body = lines[0], lines[1:]
    template = body[0].split(",")

    def variant(index: int, value: str) -> str:
        fields = list(template)
        fields[index] = value
        return ",".join(fields)

    bad = [
        variant(2, "2015-02-30"),  # no such date
        variant(2, "31/01/2015"),  # not ISO
        variant(4, "9990000019"),  # fails modulus 11
        variant(0, "=HYPERLINK(1)"),  # formula prefix
        variant(1, "@Smith"),
        variant(5, "+Worker"),
        variant(1, "Smi\x07th"),  # control character
        variant(0, ""),  # missing given name
        body[0],  # duplicate of the first row
        ",".join(template[:5]),  # too few fields
    ]
    text = "\n".join([header, *body, *bad]) + "\n"
    return text.encode() + b"Jos\xe9," + ",".join(template[1:]).encode() + b"\n"


def test_bad_rows_are_named_and_good_rows_load(store: Store) -> None:
    synthetic = _feed(store, size=100)
    good = [
        r
        for r in synthetic.rows
        if r.nhs_number is not None and synthetic.kinds[r.number] == "exact"
    ][:10]
    out = store.cli("feed", "load", _write(store, "bad.csv", _bad_csv(good)), "--source", SOURCE)
    reasons = [line.split("\t")[2] for line in out.splitlines() if "\trejected\t" in line]
    expected = [
        "child_birth_date is not a real past date as YYYY-MM-DD",
        "child_birth_date is not a real past date as YYYY-MM-DD",
        "child_nhs_number is not ten digits passing the modulus-11 check",
        "child_given starts with a formula character (= + @)",
        "child_family starts with a formula character (= + @)",
        "practitioner_name starts with a formula character (= + @)",
        "control character in child_family",
        "child_given is missing",
        "duplicate of row 2",
        "5 fields where the header has 12",
        "child_given is not valid UTF-8",
    ]
    assert reasons == expected
    assert len(_linked_pks(store.engine)) == 10  # every good row loaded
    assert "Jos" not in out and "Smi" not in out  # the report names no child


@pytest.mark.parametrize(
    ("data", "extra", "message"),
    [
        (b"name,dob\nAnn,2015-01-01\n", (), "wrong header: missing child_given"),
        (b"", (), "the file is empty"),
        (b'{"resourceType": "Patient"}', (), "not a FHIR Bundle"),
        (b"{not json", (), "neither CSV nor valid JSON"),
        (None, ("--max-bytes", "100"), "larger than the limit of 100 bytes"),
    ],
)
def test_a_feed_refused_as_a_whole_changes_nothing(
    store: Store, data: bytes | None, extra: tuple[str, ...], message: str
) -> None:
    store.cli("feed", "load", _write(store, "ok.csv", to_csv(_feed(store, 40).rows)),
              "--source", SOURCE)  # fmt: skip
    before = _dump(store.engine)
    payload = data if data is not None else to_csv(_feed(store, 50, seed=5).rows)
    out = store.cli("feed", "load", _write(store, "x", payload), "--source", SOURCE, *extra,
                    code=1)  # fmt: skip
    assert message in out and "nothing loaded" in out
    assert _dump(store.engine) == before


def test_unknown_source_and_duplicate_source(store: Store) -> None:
    out = store.cli("feed", "load", _write(store, "f.csv", b""), "--source", "Nobody", code=1)
    assert "no source Nobody" in out
    assert "already exists" in store.cli("source", "add", SOURCE, code=1)
    assert SOURCE in store.cli("source", "list")


@BOTH_BACKENDS
def test_a_feed_killed_half_way_leaves_the_index_as_it_was(store: Store) -> None:
    store.cli("feed", "load", _write(store, "a.csv", to_csv(_feed(store, 60, 1).rows)),
              "--source", SOURCE)  # fmt: skip
    before = _dump(store.engine)
    path = _write(store, "b.csv", to_csv(_feed(store, 200, 2).rows))
    # The child process stops inside the feed's transaction, after the old involvements
    # are deleted and the new ones written, and is killed there.
    script = (
        "import sys, time\n"
        "import cpindex.feeds.store as s\n"
        "real = s._write_involvements\n"
        "def slow(*a, **k):\n"
        "    real(*a, **k)\n"
        "    print('INSIDE', flush=True)\n"
        "    time.sleep(60)\n"
        "s._write_involvements = slow\n"
        "from cpindex.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, "feed", "load", path, "--source", SOURCE,
         "--db", store.url],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "XDG_DATA_HOME": str(store.tmp)},
    )  # fmt: skip
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "INSIDE"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert _dump(store.engine) == before
    store.cli("feed", "load", path, "--source", SOURCE)  # and it loads afterwards
    assert _dump(store.engine) != before


def test_twins_are_never_linked_to_each_other(store: Store) -> None:
    synthetic = _feed(store, size=200)
    twin_rows = [r for r in synthetic.rows if synthetic.kinds[r.number] == "twin"]
    assert len(twin_rows) >= 20
    # Also the hard case: a twin sent with a different given name and no NHS number.
    with store.engine.connect() as conn:
        renamed = []
        for r in twin_rows[:10]:
            other = conn.execute(
                select(child.c.given).where(
                    child.c.pk == synthetic.twin_pairs[synthetic.truth[r.number] or 0]
                )
            ).scalar_one()
            given = "Zebedee" if other.split()[0] != "Zebedee" else "Quentin"
            renamed.append(dataclasses.replace(r, given=given, number=r.number + 10_000))
    rows = list(synthetic.rows) + renamed
    store.cli("feed", "load", _write(store, "t.csv", to_csv(rows)), "--source", SOURCE)
    with store.engine.connect() as conn:
        links = conn.execute(
            select(involvement.c.child_pk, practitioner.c.name)
            .join(practitioner, practitioner.c.id == involvement.c.practitioner_id)
            .where(involvement.c.source_id.is_not(None))
        ).all()
    by_worker = {r.practitioner_name: synthetic.truth.get(r.number) for r in twin_rows}
    for pk, worker in links:
        if worker in by_worker:
            assert by_worker[worker] is not None
            assert synthetic.twin_pairs[by_worker[worker]] != pk or by_worker[worker] == pk
    twin_pks = {synthetic.truth[r.number] for r in twin_rows}
    linked_twins = {pk for pk, _w in links} & twin_pks
    assert len(linked_twins) >= 0.9 * len(twin_pks)  # twins sent correctly do link


@BOTH_BACKENDS
def test_link_review_and_reject_with_thresholds_and_audit(store: Store) -> None:
    synthetic = _feed(store, size=150)
    path = _write(store, "f.csv", to_csv(synthetic.rows))
    # An impossible link threshold sends every close row to review (NHS matches still link).
    store.cli("feed", "load", path, "--source", SOURCE, "--link-threshold", "1",
              "--review-threshold", "0.5")  # fmt: skip
    listing = store.cli("feed", "review")
    items = [
        line.split("\t") for line in listing.splitlines() if line.endswith(tuple("0123456789"))
    ]
    assert items, listing
    first, second = int(items[0][0]), int(items[1][0])
    store.cli("feed", "review", "link", "--id", str(first), "--by", "index.team")
    store.cli("feed", "review", "not-this-child", "--id", str(second), "--by", "index.team")
    assert "not pending" in store.cli("feed", "review", "link", "--id", str(first), code=1)
    with store.engine.connect() as conn:
        statuses = dict(conn.execute(select(feed_review.c.id, feed_review.c.status)).all())
        events = conn.execute(select(audit_event).where(audit_event.c.action.like("feed-%"))).all()
        _count, _head, broken = verify_chain(conn)
    assert statuses[first] == "linked" and statuses[second] == "not-linked"
    assert broken is None
    actions = [(e.action, e.outcome) for e in events]
    assert actions.count(("feed-load", "success")) == 1
    assert sum(a == "feed-link" for a, _o in actions) == len(synthetic.rows)
    assert ("feed-review", "linked") in actions and ("feed-review", "not-linked") in actions
    decided = [e for e in events if e.action == "feed-review"]
    assert all(e.patient_id and e.username == "index.team" for e in decided)
    for e in events:  # no child data in the audit detail
        detail = json.loads(e.detail)
        assert set(detail) <= {
            "feed",
            "row",
            "probability",
            "reason",
            "source",
            "sha256",
            "format",
            "linked",
            "review",
            "rejected",
        }


def test_an_exact_nhs_number_links_outright_unless_the_rest_disagrees(store: Store) -> None:
    with store.engine.connect() as conn:
        kids = conn.execute(
            select(child.c.pk, child.c.nhs_number, child.c.given, child.c.family,
                   child.c.birth_date).where(child.c.pk.in_((100, 200)))
            .order_by(child.c.pk)
        ).all()  # fmt: skip
    base = _feed(store, size=5).rows[0]
    a, b = kids
    # a: family name misspelt and a year out on the birth date, NHS number right.
    row_a = dataclasses.replace(
        base, number=2, given=a.given, family=a.family + "x", nhs_number=a.nhs_number,
        birth_date=a.birth_date.replace(year=a.birth_date.year - 1), postcode=None,
    )  # fmt: skip
    # b: NHS number right but name and birth date of someone else entirely.
    row_b = dataclasses.replace(
        base, number=3, given="Quentin", family="Zzyzx", nhs_number=b.nhs_number,
        birth_date=dataclasses.replace(base).birth_date, postcode=None,
    )  # fmt: skip
    out = store.cli("feed", "load", _write(store, "n.csv", to_csv([row_a, row_b])),
                    "--source", SOURCE)  # fmt: skip
    assert _linked_pks(store.engine) == [a.pk]
    assert "1 linked" in out


def test_audit_chain_is_intact_after_loads(store: Store) -> None:
    store.cli("feed", "load", _write(store, "a.csv", to_csv(_feed(store, 50, 1).rows)),
              "--source", SOURCE)  # fmt: skip
    assert "intact" in store.cli("audit", "verify")


def test_model_file_is_versioned_and_loads() -> None:
    from cpindex.feeds.model import MODEL_PATH, MODEL_VERSION, load_model

    document = json.loads(MODEL_PATH.read_text())
    assert document["cpindex_model_version"] == MODEL_VERSION
    assert load_model()["link_type"] == "link_only"


def test_a_linked_involvement_shows_on_the_childs_record(store: Store) -> None:
    from cpindex.records import load_record

    synthetic = _feed(store, size=100)
    row = next(r for r in synthetic.rows if synthetic.kinds[r.number] == "exact" and r.nhs_number)
    store.cli("feed", "load", _write(store, "one.csv", to_csv([row])), "--source", SOURCE)
    with store.engine.connect() as conn:
        index_id = conn.execute(
            select(child.c.index_id).where(child.c.pk == synthetic.truth[row.number])
        ).scalar_one()
        record = load_record(conn, index_id)
    assert record is not None
    shown = [(i.name, i.role, i.organisation, i.phone) for i in record.involvements]
    assert (row.practitioner_name, row.role, row.organisation, row.phone) in shown
