"""`cpindex source ...` and `cpindex feed ...`: the command-line side of council feeds.

The load prints one summary line and then the report back to the source, one rejected
row a line ("row N<TAB>rejected<TAB>reason"); `--report FILE` writes it as JSON too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

from sqlalchemy import Engine, select

from cpindex.feeds.formats import FeedRejected
from cpindex.feeds.link import Thresholds
from cpindex.feeds.store import (
    Actor,
    SourceExists,
    StaleReview,
    UnknownSource,
    add_source,
    decide_review,
    load_feed,
    pending_reviews,
)
from cpindex.store.schema import feed, source

__all__ = ["describe_error", "run_feed_command"]


def describe_error(exc: BaseException) -> str | None:
    """The one-line message for a feed error, or None when it is not one of ours."""
    if isinstance(exc, SourceExists):
        return f"source {exc} already exists"
    if isinstance(exc, UnknownSource):
        return f"no source {exc}: register it with `cpindex source add`"
    if isinstance(exc, FeedRejected):
        return f"feed refused, nothing loaded: {exc}"
    if isinstance(exc, StaleReview):
        return f"review item {exc} is not pending (decided, or its feed was replaced)"
    return None


def run_feed_command(args: argparse.Namespace, engine: Engine) -> int:
    now = dt.datetime.now(dt.UTC)
    if args.command == "source":
        if args.source_command == "add":
            add_source(engine, args.name, now)
            print(f"source {' '.join(args.name.split())} added")
            return 0
        with engine.connect() as conn:
            rows = conn.execute(
                select(source.c.name, feed.c.id, feed.c.received_at)
                .outerjoin(feed, (feed.c.source_id == source.c.id) & feed.c.current.is_(True))
                .order_by(source.c.name)
            ).all()
        for name, feed_id, received in rows:
            current = f"feed {feed_id} at {received:%Y-%m-%d %H:%M}" if feed_id else "no feed"
            print(f"{name}\t{current}")
        return 0
    if args.feed_command == "load":
        return _load(args, engine, now)
    if args.feed_command == "train":
        return _train(args, engine)
    if args.feed_command == "demo":
        from cpindex.feeds.demo import DEMO_SOURCE, load_demo_feed

        report = load_demo_feed(engine, now)
        print(f"{DEMO_SOURCE}: feed {report.feed_id}, {report.review} to review")
        return 0
    return _review(args, engine, now)


def _load(args: argparse.Namespace, engine: Engine, now: dt.datetime) -> int:
    size = args.file.stat().st_size
    if size > args.max_bytes:
        raise FeedRejected(f"the file is larger than the limit of {args.max_bytes:,} bytes")
    report = load_feed(
        engine,
        args.file.read_bytes(),
        args.source,
        now=now,
        thresholds=Thresholds(
            link=args.link_threshold, review=args.review_threshold, present=args.present_share
        ),
        max_bytes=args.max_bytes,
        link_engine=args.engine,
        progress=lambda text: print(text, file=sys.stderr, flush=True),
    )
    if report.unchanged:
        print(f"feed {report.feed_id}: the same file as the current feed; nothing changed")
    else:
        print(
            f"feed {report.feed_id} ({report.format}): {report.linked} linked, "
            f"{report.review} to review, {len(report.rejected)} rejected"
        )
    for bad in report.rejected:
        print(f"row {bad.number}\trejected\t{bad.reason}")
    if args.report is not None:
        args.report.write_text(json.dumps(report.as_json(), indent=1) + "\n", encoding="utf-8")
    return 0


def _train(args: argparse.Namespace, engine: Engine) -> int:
    from cpindex.feeds.model import MODEL_PATH, save_model
    from cpindex.feeds.train import train_model

    with engine.connect() as conn:
        model, trained_on = train_model(conn, feed_rows=args.rows, seed=args.seed)
    out = args.out or MODEL_PATH
    save_model(model, trained_on, out)
    print(f"model written to {out} (trained on {trained_on['children']} children)")
    return 0


def _review(args: argparse.Namespace, engine: Engine, now: dt.datetime) -> int:
    if args.decision is None:
        with engine.connect() as conn:
            items = pending_reviews(conn)
        for item in items:
            # Only ids and the probability: the names stay in the index (no child data out).
            print(
                f"{item.id}\t{item.source}\tfeed {item.feed_id}\trow {item.row.number}"
                f"\t{item.probability:.3f}"
            )
        print(f"{len(items)} links to review", file=sys.stderr)
        return 0
    if args.id is None:
        raise ValueError("give the review item with --id")
    decide_review(
        engine,
        args.id,
        args.decision == "link",
        now=now,
        actor=Actor(username=args.by, role="index-team"),
    )
    print(f"review item {args.id}: {args.decision}")
    return 0
