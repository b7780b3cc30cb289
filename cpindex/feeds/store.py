"""Sources, feed loads and review decisions: each one transaction, each audited.

A feed is checked and linked first (reading only); then one serialised transaction
replaces the source's involvements, records the feed, queues its doubtful rows and
appends the audit rows. A feed that fails before or during that transaction (refused,
killed) leaves the index exactly as it was. Loading the file the source's current feed
came from again changes nothing but one audit row saying so.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from cpindex.audit.chain import append_rows
from cpindex.feeds.formats import DEFAULT_MAX_BYTES, FeedRow, Rejected, parse_feed
from cpindex.feeds.link import Decision, Thresholds, link_rows
from cpindex.feeds.memory import apply_memory, remember, same_question
from cpindex.store.db import serialised
from cpindex.store.schema import child, feed, feed_review, involvement, practitioner, source

__all__ = [
    "FeedReport",
    "NoSuchReview",
    "ReviewItem",
    "SourceExists",
    "StaleReview",
    "UnknownSource",
    "add_source",
    "decide_review",
    "index_ids",
    "load_feed",
    "pending_count",
    "pending_reviews",
    "review_item",
]


class SourceExists(Exception):
    pass


class UnknownSource(Exception):
    pass


class StaleReview(Exception):
    """The review item is decided already, or its feed was replaced by a newer one."""


class NoSuchReview(StaleReview):
    """No review item has that id."""


@dataclass(frozen=True)
class Actor:
    """Who loads or decides: the CLI, or a signed-in admin / index-team user."""

    username: str = "cli"
    role: str | None = None
    organisation: str | None = None


@dataclass
class FeedReport:
    """What a load did; `rejected` is the report back to the source (numbers and reasons)."""

    feed_id: int
    format: str
    unchanged: bool = False
    linked: int = 0
    review: int = 0
    rejected: list[Rejected] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "feed": self.feed_id,
            "format": self.format,
            "unchanged": self.unchanged,
            "linked": self.linked,
            "review": self.review,
            "rejected": [{"row": r.number, "reason": r.reason} for r in self.rejected],
        }


def add_source(engine: Engine, name: str, now: dt.datetime) -> int:
    name = " ".join(name.split())
    if not name:
        raise ValueError("a source needs a name")
    with engine.begin() as conn:
        if conn.execute(select(source.c.id).where(source.c.name == name)).first():
            raise SourceExists(name)
        return int(
            conn.execute(
                insert(source).values(name=name, created_at=now).returning(source.c.id)
            ).scalar_one()
        )


def _source_id(conn: Connection, name: str) -> int:
    found = conn.execute(select(source.c.id).where(source.c.name == name)).scalar()
    if found is None:
        raise UnknownSource(name)
    return int(found)


def _current(conn: Connection, source_id: int) -> tuple[int, str, str] | None:
    row = conn.execute(
        select(feed.c.id, feed.c.sha256, feed.c.format).where(
            feed.c.source_id == source_id, feed.c.current.is_(True)
        )
    ).first()
    return (int(row[0]), str(row[1]), str(row[2])) if row else None


def _audit(
    actor: Actor, now: dt.datetime, action: str, outcome: str, patient: str | None, **detail: Any
) -> dict[str, Any]:
    return {
        "at": now,
        "request_id": None,
        "username": actor.username,
        "role": actor.role,
        "organisation": actor.organisation,
        "action": action,
        "outcome": outcome,
        "patient_id": patient,
        "detail": json.dumps(detail, sort_keys=True),
    }


def load_feed(
    engine: Engine,
    data: bytes,
    source_name: str,
    *,
    now: dt.datetime,
    thresholds: Thresholds | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    link_engine: str = "duckdb",
    actor: Actor | None = None,
    progress: Callable[[str], None] | None = None,
) -> FeedReport:
    """Check, link and load one feed file for a registered source (see module docstring)."""
    actor = actor or Actor()
    thresholds = thresholds or Thresholds()
    say = progress or (lambda _text: None)
    digest = hashlib.sha256(data).hexdigest()
    with engine.connect() as conn:
        source_id = _source_id(conn, source_name)
        current = _current(conn, source_id)
    if current is not None and current[1] == digest:
        with serialised(engine) as conn:
            append_rows(
                conn,
                [
                    _audit(
                        actor,
                        now,
                        "feed-load",
                        "unchanged",
                        None,
                        feed=current[0],
                        source=source_name,
                        sha256=digest,
                    )
                ],
            )
        return FeedReport(current[0], current[2], unchanged=True)
    parsed = parse_feed(data, today=now.date(), max_bytes=max_bytes)
    say(f"checked {len(parsed.rows)} rows ({len(parsed.rejected)} rejected); linking")
    with engine.connect() as conn:
        decisions = link_rows(conn, parsed.rows, thresholds, engine=link_engine)
    say("writing")
    with serialised(engine) as conn:
        if _current(conn, source_id) != current:
            raise RuntimeError("another feed from this source was loaded meanwhile; try again")
        return _write(
            conn,
            source_id,
            source_name,
            digest,
            parsed.format,
            parsed.rejected,
            decisions,
            now,
            actor,
        )


def _write(
    conn: Connection,
    source_id: int,
    source_name: str,
    digest: str,
    kind: str,
    bad_rows: Sequence[Rejected],
    decisions: Sequence[Decision],
    now: dt.datetime,
    actor: Actor,
) -> FeedReport:
    decisions, remembered = apply_memory(conn, source_id, decisions)
    rejected = list(bad_rows) + [
        Rejected(d.row.number, d.reason) for d in decisions if d.outcome == "rejected"
    ]
    rejected.sort(key=lambda r: r.number)
    linked = [d for d in decisions if d.outcome == "linked"]
    review = [d for d in decisions if d.outcome == "review"]
    old_feeds = select(feed.c.id).where(feed.c.source_id == source_id)
    conn.execute(
        update(feed_review)
        .where(feed_review.c.feed_id.in_(old_feeds), feed_review.c.status == "pending")
        .values(status="superseded", decided_at=now)
    )
    conn.execute(update(feed).where(feed.c.source_id == source_id).values(current=False))
    report_json = {
        "rows": len(decisions) + len(bad_rows),
        "linked": len(linked),
        "review": len(review),
        "rejected": [{"row": r.number, "reason": r.reason} for r in rejected],
    }
    feed_id = int(
        conn.execute(
            insert(feed)
            .values(
                source_id=source_id,
                sha256=digest,
                format=kind,
                received_at=now,
                rows=report_json["rows"],
                linked=len(linked),
                review=len(review),
                rejected=len(rejected),
                current=True,
                report=json.dumps(report_json),
            )
            .returning(feed.c.id)
        ).scalar_one()
    )
    conn.execute(delete(involvement).where(involvement.c.source_id == source_id))
    conn.execute(delete(practitioner).where(practitioner.c.source_id == source_id))
    _write_involvements(conn, source_id, feed_id, [(d.row, int(d.child_pk or 0)) for d in linked])
    if review:
        conn.execute(
            insert(feed_review),
            [
                {
                    "feed_id": feed_id,
                    "row_number": d.row.number,
                    "child_pk": d.child_pk,
                    "probability": d.probability,
                    "row_json": json.dumps(d.row.as_json()),
                    "reason": d.reason[:200],
                    "status": "pending",
                    "decided_by": None,
                    "decided_at": None,
                }
                for d in review
            ],
        )
    ids = index_ids(conn, [int(d.child_pk) for d in decisions if d.child_pk is not None])
    audit = [
        _audit(
            actor,
            now,
            "feed-load",
            "success",
            None,
            feed=feed_id,
            source=source_name,
            sha256=digest,
            format=kind,
            linked=len(linked),
            review=len(review),
            rejected=len(rejected),
        )
    ]
    audit += [
        _audit(
            actor,
            now,
            "feed-link",
            d.outcome,
            ids[int(d.child_pk)] if d.child_pk is not None else None,
            feed=feed_id,
            row=d.row.number,
            probability=round(d.probability, 6),
            reason=d.reason,
            **({"remembered": remembered[d.row.number]} if d.row.number in remembered else {}),
        )
        for d in decisions
    ]
    audit += [
        _audit(
            actor, now, "feed-link", "rejected", None, feed=feed_id, row=r.number, reason=r.reason
        )
        for r in bad_rows
    ]
    append_rows(conn, audit)
    return FeedReport(feed_id, kind, linked=len(linked), review=len(review), rejected=rejected)


def index_ids(conn: Connection, pks: Sequence[int]) -> dict[int, str]:
    wanted = sorted(set(pks))
    found: dict[int, str] = {}
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        found.update(
            (int(pk), str(iid))
            for pk, iid in conn.execute(
                select(child.c.pk, child.c.index_id).where(child.c.pk.in_(chunk))
            )
        )
    return found


def _write_involvements(
    conn: Connection, source_id: int, feed_id: int, links: Sequence[tuple[FeedRow, int]]
) -> None:
    """Practitioners (one per distinct name, role, organisation, phone, email), involvements."""
    if not links:
        return

    def key(r: FeedRow) -> tuple[str, str, str, str, str]:
        return (r.practitioner_name, r.role, r.organisation, r.phone, r.email)

    existing = _practitioner_ids(conn, source_id)
    fresh = list(dict.fromkeys(key(r) for r, _pk in links if key(r) not in existing))
    if fresh:
        conn.execute(
            insert(practitioner),
            [
                {
                    "name": k[0],
                    "role": k[1],
                    "organisation": k[2],
                    "phone": k[3],
                    "email": k[4],
                    "source_id": source_id,
                }
                for k in fresh
            ],
        )
        existing = _practitioner_ids(conn, source_id)
    conn.execute(
        insert(involvement),
        [
            {
                "child_pk": pk,
                "practitioner_id": existing[key(r)],
                "since": r.since,
                "lead": r.lead,
                "source_id": source_id,
                "feed_id": feed_id,
            }
            for r, pk in links
        ],
    )


def _practitioner_ids(conn: Connection, source_id: int) -> dict[tuple[str, ...], int]:
    rows = conn.execute(
        select(
            practitioner.c.id,
            practitioner.c.name,
            practitioner.c.role,
            practitioner.c.organisation,
            practitioner.c.phone,
            practitioner.c.email,
        ).where(practitioner.c.source_id == source_id)
    )
    return {tuple(r[1:]): int(r[0]) for r in rows}


# --- the review queue ----------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewItem:
    id: int
    feed_id: int
    source: str
    row: FeedRow
    child_pk: int
    probability: float
    reason: str = ""
    status: str = "pending"  # pending | linked | not-linked | superseded
    decided_by: str | None = None
    decided_at: dt.datetime | None = None


_ITEM_COLUMNS = (
    feed_review.c.id,
    feed_review.c.feed_id,
    source.c.name,
    feed_review.c.row_json,
    feed_review.c.child_pk,
    feed_review.c.probability,
    feed_review.c.reason,
    feed_review.c.status,
    feed_review.c.decided_by,
    feed_review.c.decided_at,
)


def _items(conn: Connection, where: Any, limit: int | None = None) -> list[ReviewItem]:
    rows = conn.execute(
        select(*_ITEM_COLUMNS)
        .join(feed, feed.c.id == feed_review.c.feed_id)
        .join(source, source.c.id == feed.c.source_id)
        .where(where)
        .order_by(feed_review.c.id)
        .limit(limit)
    )
    return [
        ReviewItem(
            int(r[0]),
            int(r[1]),
            str(r[2]),
            FeedRow.from_json(json.loads(r[3])),
            int(r[4]),
            float(r[5]),
            str(r[6] or ""),
            str(r[7]),
            r[8],
            r[9],
        )
        for r in rows
    ]


def pending_reviews(conn: Connection, limit: int | None = None) -> list[ReviewItem]:
    """The pending items, oldest first; at most `limit` of them."""
    return _items(conn, feed_review.c.status == "pending", limit)


def pending_count(conn: Connection) -> int:
    query = select(func.count()).select_from(feed_review).where(feed_review.c.status == "pending")
    return int(conn.execute(query).scalar_one())


def review_item(conn: Connection, review_id: int) -> ReviewItem | None:
    """One review item, whatever its status; None when no item has that id."""
    found = _items(conn, feed_review.c.id == review_id)
    return found[0] if found else None


def decide_review(
    engine: Engine, review_id: int, link: bool, *, now: dt.datetime, actor: Actor
) -> list[int]:
    """Link the row to its candidate child, or mark it "not this child"; audited.

    The decision is remembered for the source's later feeds (cpindex.feeds.memory), and
    applies at once to the other pending rows of this feed asking the same question (the
    same child with another practitioner). Returns the ids decided, this one first.
    """
    with serialised(engine) as conn:
        item = conn.execute(
            select(
                feed_review.c.feed_id,
                feed_review.c.row_json,
                feed_review.c.child_pk,
                feed_review.c.status,
                feed.c.source_id,
                feed.c.current,
            )
            .join(feed, feed.c.id == feed_review.c.feed_id)
            .where(feed_review.c.id == review_id)
        ).first()
        if item is None:
            raise NoSuchReview(review_id)
        if item.status != "pending" or not item.current:
            raise StaleReview(review_id)
        status = "linked" if link else "not-linked"
        row = FeedRow.from_json(json.loads(item.row_json))
        child_pk, feed_id, source_id = int(item.child_pk), int(item.feed_id), int(item.source_id)
        others = conn.execute(
            select(feed_review.c.id, feed_review.c.row_json, feed_review.c.child_pk).where(
                feed_review.c.feed_id == feed_id,
                feed_review.c.status == "pending",
                feed_review.c.id != review_id,
            )
        ).all()
        asked = [(int(i), str(raw), int(pk)) for i, raw, pk in others]
        decided = [review_id, *same_question(asked, row, child_pk)]
        if link:
            rows = dict((int(i), str(raw)) for i, raw, _pk in others)
            linked = [row] + [FeedRow.from_json(json.loads(rows[i])) for i in decided[1:]]
            _write_involvements(conn, source_id, feed_id, [(r, child_pk) for r in linked])
        conn.execute(
            update(feed_review)
            .where(feed_review.c.id.in_(decided))
            .values(status=status, decided_by=actor.username, decided_at=now)
        )
        remember(
            conn, source_id=source_id, row=row, child_pk=child_pk, decision=status,
            review_id=review_id, decided_by=actor.username, decided_at=now,
        )  # fmt: skip
        patient = index_ids(conn, [child_pk])[child_pk]
        append_rows(
            conn,
            [
                _audit(
                    actor,
                    now,
                    "feed-review",
                    status,
                    patient,
                    feed=feed_id,
                    review=one,
                    **({"same_as": review_id} if one != review_id else {}),
                )
                for one in decided
            ],
        )
    return decided
