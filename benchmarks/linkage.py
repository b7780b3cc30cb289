"""Feed linkage quality and speed: Splink against a plain exact-match rule, same feed.

Seeds an index (cached in benchmarks/cache/, gitignored), plants twins in it, and draws a
synthetic feed from it with errors of every kind planted (typos, nicknames, hyphenated
surnames split or joined, day/month swaps, moved postcodes, missing NHS numbers, twins,
children not in the index), keeping the truth aside. Prints precision of the auto-links,
recall, the share sent to review, twins linked to their twin, and the seconds taken, with
the baseline (link when given name, family name and date of birth match exactly one
child) beside each. `--scale` then times one full `load_feed` (check, link, write, audit)
of a large feed against a large index. Asserts nothing.

    .venv/bin/python benchmarks/linkage.py [--children 100000] [--rows 20000]
        [--scale --scale-children 1000000 --scale-rows 100000] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cpindex.feeds.formats import to_csv  # noqa: E402
from cpindex.feeds.link import Decision, Thresholds, link_rows  # noqa: E402
from cpindex.feeds.store import SourceExists, add_source, load_feed  # noqa: E402
from cpindex.feeds.synthetic import SyntheticFeed, make_feed, plant_twins  # noqa: E402
from cpindex.search.keys import birth_int, fold  # noqa: E402
from cpindex.seed.generate import GENERATOR_VERSION, seed_database  # noqa: E402
from cpindex.store.db import make_engine  # noqa: E402
from cpindex.store.schema import child_name  # noqa: E402

CACHE = ROOT / "benchmarks" / "cache"
TWINS_PER_100K = 200


def seeded_with_twins(children: int, seed: int) -> tuple[Engine, dict[int, int]]:
    """A cached seeded SQLite index with planted twins, and the twin pairs."""
    CACHE.mkdir(parents=True, exist_ok=True)
    stem = f"linkage-{children}-seed{seed}-v{GENERATOR_VERSION}"
    path, pairs_path = CACHE / f"{stem}.db", CACHE / f"{stem}-twins.json"
    url = f"sqlite:///{path}"
    started = time.perf_counter()
    if not pairs_path.exists():
        path.unlink(missing_ok=True)
        engine = make_engine(url, bulk_load=True)
        seed_database(engine, children=children, seed=seed)
        count = max(10, children * TWINS_PER_100K // 100_000)
        with engine.begin() as conn:
            pairs = plant_twins(conn, count, random.Random(seed))
        engine.dispose()
        pairs_path.write_text(json.dumps({str(k): v for k, v in pairs.items()}))
        state = f"seeded in {time.perf_counter() - started:.0f} s"
    else:
        state = "cached"
    pairs = {int(k): int(v) for k, v in json.loads(pairs_path.read_text()).items()}
    print(f"index of {children:,} children (+{len(pairs) // 2} twins): {state}", flush=True)
    return make_engine(url), pairs


def baseline(conn: Connection, feed: SyntheticFeed) -> dict[int, int | None]:
    """Link a row when its folded given, family and birth date match exactly one child."""
    keys: dict[tuple[str, str, int], set[int]] = {}
    rows = conn.execution_options(yield_per=50_000).execute(
        select(child_name.c.given_fold, child_name.c.family_fold, child_name.c.birth_int,
               child_name.c.child_pk)
    )  # fmt: skip
    for given, family, bint, pk in rows:
        keys.setdefault((given, family, int(bint)), set()).add(int(pk))
    out: dict[int, int | None] = {}
    for r in feed.rows:
        found = keys.get((fold(r.given.split()[0]), fold(r.family), birth_int(r.birth_date)))
        out[r.number] = next(iter(found)) if found and len(found) == 1 else None
    return out


def score(
    feed: SyntheticFeed, links: dict[int, int | None], review: int, prefix: str
) -> dict[str, float]:
    linked = {n: pk for n, pk in links.items() if pk is not None}
    right = sum(feed.truth[n] == pk for n, pk in linked.items())
    present = sum(pk is not None for pk in feed.truth.values())
    to_twin = sum(feed.twin_pairs.get(feed.truth[n] or -1) == pk for n, pk in linked.items())
    return {
        f"{prefix}_precision_pct": 100.0 * right / max(len(linked), 1),
        f"{prefix}_recall_pct": 100.0 * right / max(present, 1),
        f"{prefix}_review_pct": 100.0 * review / max(len(feed.rows), 1),
        f"{prefix}_twins_linked_to_twin": float(to_twin),
    }


def run_quality(children: int, rows: int, seed: int) -> dict[str, float]:
    engine, pairs = seeded_with_twins(children, seed)
    with engine.connect() as conn:
        feed = make_feed(conn, rows, seed + 1000, twin_pairs=pairs)
        started = time.perf_counter()
        decisions: list[Decision] = link_rows(conn, feed.rows, Thresholds())
        splink_s = time.perf_counter() - started
        started = time.perf_counter()
        plain = baseline(conn, feed)
        baseline_s = time.perf_counter() - started
    engine.dispose()
    links = {d.row.number: d.child_pk if d.outcome == "linked" else None for d in decisions}
    review = sum(d.outcome == "review" for d in decisions)
    figures = {
        "children": float(children),
        "feed_rows": float(rows),
        **score(feed, links, review, "splink"),
        **score(feed, plain, 0, "baseline"),
        "splink_seconds": splink_s,
        "baseline_seconds": baseline_s,
    }
    missed = Counter(
        feed.kinds[d.row.number]
        for d in decisions
        if feed.truth[d.row.number] is not None and links[d.row.number] != feed.truth[d.row.number]
    )
    for kind, count in sorted(missed.items()):
        figures[f"splink_not_linked_{kind}"] = float(count)
    return figures


def run_scale(children: int, rows: int, seed: int) -> dict[str, float]:
    engine, pairs = seeded_with_twins(children, seed)
    with engine.connect() as conn:
        feed = make_feed(conn, rows, seed + 2000, twin_pairs=pairs)
    data = to_csv(feed.rows)
    with contextlib.suppress(SourceExists):
        add_source(engine, "Benchmark Council", dt.datetime.now(dt.UTC))
    started = time.perf_counter()
    report = load_feed(engine, data, "Benchmark Council", now=dt.datetime.now(dt.UTC))
    took = time.perf_counter() - started
    engine.dispose()
    return {
        "scale_children": float(children),
        "scale_feed_rows": float(rows),
        "scale_load_seconds": took,
        "scale_target_seconds": 300.0,
        "scale_linked": float(report.linked),
        "scale_review": float(report.review),
        "scale_rejected": float(len(report.rejected)),
        "scale_load_avg_1min": os.getloadavg()[0],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--scale", action="store_true")
    parser.add_argument("--scale-children", type=int, default=1_000_000)
    parser.add_argument("--scale-rows", type=int, default=100_000)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    figures: dict[str, Any] = {"load_avg_1min_at_start": os.getloadavg()[0]}
    figures.update(run_quality(args.children, args.rows, args.seed))
    print(f"\n{args.rows:,}-row feed against {args.children:,} children")
    print(f"{'':32}{'Splink':>10}{'baseline':>10}{'target':>10}")
    for label, key, target in (
        ("precision of auto-links %", "precision_pct", ">= 99.5"),
        ("recall %", "recall_pct", ">= 97"),
        ("sent to review %", "review_pct", "<= 3"),
        ("twins linked to their twin", "twins_linked_to_twin", "0"),
        ("seconds", "seconds", ""),
    ):
        s, b = figures[f"splink_{key}"], figures[f"baseline_{key}"]
        print(f"{label:32}{s:>10.2f}{b:>10.2f}{target:>10}")
    for key, value in figures.items():
        if key.startswith("splink_not_linked_"):
            print(f"  not linked, planted {key.removeprefix('splink_not_linked_')}: {value:.0f}")
    if args.scale:
        figures.update(run_scale(args.scale_children, args.scale_rows, args.seed))
        print(
            f"\nfull load of {args.scale_rows:,} rows against {args.scale_children:,} children: "
            f"{figures['scale_load_seconds']:.0f} s (target <= 300 s; load average "
            f"{figures['scale_load_avg_1min']:.1f} on {os.cpu_count()} cores)"
        )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
