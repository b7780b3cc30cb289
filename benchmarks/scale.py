"""Search latency as the PostgreSQL store grows: 1 M children beside 5 M (or more).

Issue 16's national-scale check: the same kinds of search as `benchmarks/search.py`
(exact, misspelt family name, nickname, day/month swap, name + postcode, date range), built
from each store's own children, run in-process on each PostgreSQL store in turn, with the
store's size on disk and, when this run seeds it, the seed's time. Each URL names a
throwaway database, seeded with `--children` of the matching size (a store seeded alike
before is reused: `cpindex seed` is idempotent). Prints p50/p95/p99 per size and the p95
ratio of the largest store to the first (target: at most 2x). Asserts nothing.

    .venv/bin/python benchmarks/scale.py --store 1000000=postgresql+psycopg://.../cpindex_1m \\
        --store 5000000=postgresql+psycopg://.../cpindex_5m [--searches 1000] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from search import build_searches, measured, seeded  # noqa: E402

from cpindex.search.engine import warm_up  # noqa: E402
from cpindex.store.db import make_engine, postgres_settings_off  # noqa: E402


def run_store(children: int, url: str, args: argparse.Namespace) -> dict[str, float]:
    started = time.perf_counter()
    seeded(children, args.seed, url)
    tag = f"pg_{children // 1000}k"
    figures: dict[str, float] = {f"{tag}_seed_or_check_s": round(time.perf_counter() - started)}
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            size = conn.scalar(text("SELECT pg_database_size(current_database())")) or 0
            figures[f"{tag}_store_bytes"] = int(size)
            off = ", ".join(line.split()[0] for line in postgres_settings_off(conn)) or "none"
            gb = int(size) / 1e9
            print(f"{children:,} children, store {gb:.1f} GB; server settings off: {off}")
            searches = build_searches(conn, args.searches, args.seed + 99)
            figures |= measured(conn, searches, tag, warm=100)
    finally:
        engine.dispose()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--store", action="append", required=True, metavar="CHILDREN=URL",
        help="a PostgreSQL store and its size; the first is the baseline",
    )  # fmt: skip
    parser.add_argument("--searches", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    warm_up()
    stores = [(int(s.split("=", 1)[0]), s.split("=", 1)[1]) for s in args.store]
    figures: dict[str, float] = {"load_average_start": round(os.getloadavg()[0], 1)}
    for children, url in stores:
        figures |= run_store(children, url, args)
    figures["load_average_end"] = round(os.getloadavg()[0], 1)
    first, last = (f"in_process_pg_{c // 1000}k_p95_ms" for c in (stores[0][0], stores[-1][0]))
    figures["p95_ratio_largest_to_first"] = round(figures[last] / figures[first], 2)
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value:g}")
    print(f"\ntarget: p95 at {stores[-1][0]:,} at most 2x that at {stores[0][0]:,}: "
          f"{figures['p95_ratio_largest_to_first']}x")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
