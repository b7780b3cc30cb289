"""Name keys, date swaps, nicknames; and the audit hook that every search and view passes."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import Engine, func, select

from cpindex.search.keys import fold, phonetic, postcode_key, swapped_birth_int
from cpindex.search.nicknames import name_variants
from cpindex.seed.demo import fixed_child
from cpindex.store.schema import audit_event
from tests.cpindex.conftest import Api


def test_fold_and_phonetic() -> None:
    assert fold("O'Brien-Smyth") == "obriensmyth"
    assert fold("Zoë Ångström") == "zoeangstrom"
    assert phonetic("Smith") == phonetic("Smyth")
    assert phonetic("") == ""
    assert postcode_key(" ls6  2qb ") == "LS62QB"


def test_swapped_dates() -> None:
    assert swapped_birth_int(dt.date(2013, 4, 7)) == 20130704
    assert swapped_birth_int(dt.date(2011, 3, 14)) is None  # no 14th month
    assert swapped_birth_int(dt.date(2012, 5, 5)) is None  # the same date
    assert swapped_birth_int(dt.date(2012, 2, 10)) == 20121002


def test_nicknames_both_ways() -> None:
    assert "william" in name_variants("bill")
    assert "bill" in name_variants("william")
    assert name_variants("zebedee") == frozenset()


def _count(engine: Engine, action: str) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).where(audit_event.c.action == action)) or 0


def test_every_search_and_view_is_recorded(api: Api, seeded_engine: Engine) -> None:
    olivia = fixed_child("Smithfield", "Olivia")
    searches, views = _count(seeded_engine, "search"), _count(seeded_engine, "view")
    rid = "4a7d1c9e-0b2f-4e6a-8c3d-5f7e9a1b3c5d"
    api.client.get(
        "/Patient",
        params={"family": "Smithfield", "birthdate": "2011-03-14"},
        headers=api.headers(**{"X-Request-ID": rid}),
    )
    api.everything(olivia.index_id, "other", "Checking%20a%20referral")
    assert _count(seeded_engine, "search") == searches + 1
    assert _count(seeded_engine, "view") == views + 1
    with seeded_engine.connect() as conn:
        search_row = (
            conn.execute(select(audit_event).where(audit_event.c.request_id == rid)).one()._mapping
        )
        view_row = conn.execute(
            select(audit_event)
            .where(audit_event.c.action == "view")
            .order_by(audit_event.c.id.desc())
        ).first()
    assert search_row["username"] == "nurse.demo" and search_row["role"] == "practitioner"
    assert json.loads(search_row["detail"])["results"] == 1
    assert view_row is not None and view_row._mapping["patient_id"] == olivia.index_id
    assert json.loads(view_row._mapping["detail"]) == {
        "reason": "other",
        "reason_text": "Checking a referral",
    }
