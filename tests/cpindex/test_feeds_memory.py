"""Review decisions are remembered: the source's next feed is not asked the same again."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

from sqlalchemy import select

from cpindex.audit.chain import verify_chain
from cpindex.feeds.formats import FeedRow, to_csv
from cpindex.feeds.link import Thresholds
from cpindex.feeds.memory import REMEMBERED_LINK, REMEMBERED_NOT, row_key
from cpindex.feeds.store import Actor, decide_review, load_feed, pending_reviews
from cpindex.store.schema import audit_event, feed_review, involvement
from tests.cpindex.test_feeds import SOURCE, Store, _feed, seeded_file, store

__all__ = ["seeded_file", "store"]  # fixtures shared with test_feeds

NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
ASK_ALL = Thresholds(link=1.0, review=0.5)  # every close row without an NHS match asks
TEAM = Actor("index.team", "index-team", "National Index Team")


def _rows_asking(store: Store, size: int = 60) -> list[FeedRow]:
    """Feed rows (no NHS numbers, so none links outright) that go to review."""
    synthetic = _feed(store, size=size)
    return [
        dataclasses.replace(r, nhs_number=None)
        for r in synthetic.rows
        if synthetic.kinds[r.number] == "exact"
    ]


def _load(store: Store, rows: list[FeedRow], when: dt.datetime = NOW) -> None:
    load_feed(store.engine, to_csv(rows), SOURCE, now=when, thresholds=ASK_ALL, actor=TEAM)


def _pending(store: Store) -> dict[str, int]:
    """{row key: review id} of the pending items."""
    with store.engine.connect() as conn:
        return {row_key(i.row): i.id for i in pending_reviews(conn)}


def test_the_next_feed_applies_link_and_not_this_child_without_asking(store: Store) -> None:
    rows = _rows_asking(store)
    assert len(rows) >= 4
    _load(store, rows)
    pending = _pending(store)
    keys = [row_key(r) for r in rows]
    assert all(k in pending for k in keys)  # every row asks once
    linked_key, not_key = keys[0], keys[1]
    decide_review(store.engine, pending[linked_key], True, now=NOW, actor=TEAM)
    decide_review(store.engine, pending[not_key], False, now=NOW, actor=TEAM)
    with store.engine.connect() as conn:
        child_of = {
            row_key(i.row): i.child_pk for i in pending_reviews(conn)
        }  # the rest, still pending
    assert linked_key not in child_of and not_key not in child_of

    # The next feed: the same rows again (one more: a new file, so a real load), with the
    # first row's identity unchanged and a third row moved house.
    moved = dataclasses.replace(rows[2], postcode="ZZ9 9ZZ" if rows[2].postcode else "AB1 2CD")
    later = [rows[0], rows[1], moved, *rows[3:]]
    _load(store, later, NOW + dt.timedelta(days=30))
    after = _pending(store)
    assert linked_key not in after and not_key not in after  # not asked again
    assert row_key(moved) in after  # a changed identity is a new question
    with store.engine.connect() as conn:
        events = conn.execute(
            select(audit_event.c.action, audit_event.c.outcome, audit_event.c.detail)
            .where(audit_event.c.action == "feed-link")
            .order_by(audit_event.c.id)
        ).all()
        linked_pks = (
            conn.execute(select(involvement.c.child_pk).where(involvement.c.source_id.is_not(None)))
            .scalars()
            .all()
        )
        _count, _head, broken = verify_chain(conn)
    assert broken is None
    last_feed = max(json.loads(d)["feed"] for _a, _o, d in events)
    latest = [(o, json.loads(d)) for _a, o, d in events if json.loads(d)["feed"] == last_feed]
    by_row = {d["row"]: (o, d) for o, d in latest}
    # a CSV row's number is its line in the file (the header is line 1)
    outcome, detail = by_row[2]
    assert outcome == "linked" and detail["reason"] == REMEMBERED_LINK
    assert detail["remembered"] == pending[linked_key]
    outcome, detail = by_row[3]
    assert outcome == "rejected" and detail["reason"] == REMEMBERED_NOT
    assert len(linked_pks) == 1  # the remembered link is in the new feed's involvements


def test_rows_asking_the_same_question_are_decided_together(store: Store) -> None:
    rows = _rows_asking(store)
    twin = dataclasses.replace(
        rows[0], number=999, practitioner_name="Another Worker", phone="0113 496 0999"
    )
    _load(store, [*rows[:3], twin])
    with store.engine.connect() as conn:
        items = [i for i in pending_reviews(conn) if row_key(i.row) == row_key(rows[0])]
    assert len(items) == 2
    decided = decide_review(store.engine, items[0].id, False, now=NOW, actor=TEAM)
    assert decided == [items[0].id, items[1].id]
    with store.engine.connect() as conn:
        statuses = dict(conn.execute(select(feed_review.c.id, feed_review.c.status)).all())
        reviews = conn.execute(
            select(audit_event.c.outcome, audit_event.c.detail).where(
                audit_event.c.action == "feed-review"
            )
        ).all()
    assert statuses[items[0].id] == statuses[items[1].id] == "not-linked"
    assert len(reviews) == 2
    assert json.loads(reviews[1][1])["same_as"] == items[0].id
