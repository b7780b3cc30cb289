"""Search latency and recall at 1,000,000 synthetic children, beside a naive full scan.

Seeds SQLite databases (cached in benchmarks/cache/, gitignored), builds 1,000 realistic
searches from known children (exact; misspelled family name; nickname; day and month
swapped; name + postcode; a date-of-birth range with family and given name), and prints
p50/p95/p99 in-process and through `cpindex serve` over HTTP and HTTPS on loopback with a
kept-alive connection. The naive baseline reads and scores every name row; it is run on a
sample of the same searches (each takes seconds). The same in-process run at the smaller
size shows how p95 grows. With `--postgres-url URL` (or CPINDEX_BENCH_POSTGRES_URL) the
same searches also run against that PostgreSQL database, seeded alike (a throwaway one:
the seed refuses a database seeded differently), in-process and over HTTP: the
PostgreSQL column. Asserts nothing.

    .venv/bin/python benchmarks/search.py [--children 1000000] [--postgres-url URL] [--json FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pyotp
from sqlalchemy import Connection, func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cpdesk.demo_certs import make_demo_certificates  # noqa: E402
from cpindex.api.fhir import searchset_bundle  # noqa: E402
from cpindex.records import load_summaries  # noqa: E402
from cpindex.search.engine import naive_search, search_children, warm_up  # noqa: E402
from cpindex.search.nicknames import NICKNAMES  # noqa: E402
from cpindex.search.params import parse_search  # noqa: E402
from cpindex.seed.demo import DEMO_PASSWORD, demo_account  # noqa: E402
from cpindex.seed.generate import GENERATOR_VERSION, seed_database  # noqa: E402
from cpindex.store.db import make_engine  # noqa: E402
from cpindex.store.schema import child  # noqa: E402
from tests.helpers.spent_codes import forget_spent_code_at  # noqa: E402

CACHE = ROOT / "benchmarks" / "cache"
KINDS = ("exact", "misspelt_family", "nickname", "swapped_date", "name_postcode", "dob_range")
Params = list[tuple[str, str]]


def seeded(children: int, seed: int, url: str | None = None) -> str:
    CACHE.mkdir(parents=True, exist_ok=True)
    url = url or f"sqlite:///{CACHE / f'search-{children}-seed{seed}-v{GENERATOR_VERSION}.db'}"
    started = time.perf_counter()
    result = seed_database(make_engine(url, bulk_load=True), children=children, seed=seed)
    took = time.perf_counter() - started
    state = f"seeded in {took:.1f} s" if result.created else "cached"
    backend = url.split(":", 1)[0].split("+", 1)[0]
    print(f"{backend} database with {children:,} children: {state}", flush=True)
    return url


def misspell(name: str, rng: random.Random) -> str:
    """One edit: substitute, delete, insert or swap two neighbouring letters."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    for _ in range(20):
        i = rng.randrange(len(name))
        op = rng.randrange(4)
        if op == 0:
            out = name[:i] + rng.choice(letters) + name[i + 1 :]
        elif op == 1 and len(name) > 3:
            out = name[:i] + name[i + 1 :]
        elif op == 2:
            out = name[:i] + rng.choice(letters) + name[i:]
        elif op == 3 and i < len(name) - 1:
            out = name[:i] + name[i + 1] + name[i] + name[i + 2 :]
        else:
            continue
        out = out.replace("-", "") if out.startswith("-") or out.endswith("-") else out
        if out.lower() != name.lower() and all(c.isalpha() or c in "-'" for c in out):
            return out[0].upper() + out[1:]
    return name + "e"


def build_searches(conn: Connection, count: int, seed: int) -> list[tuple[str, str, Params]]:
    """(kind, true index id, params) for `count` searches of known children."""
    rng = random.Random(seed)
    total = conn.scalar(select(func.max(child.c.pk))) or 0
    nick_of = {formal: nicks for formal, nicks in NICKNAMES.items()}
    searches: list[tuple[str, str, Params]] = []
    while len(searches) < count:
        kind = KINDS[len(searches) % len(KINDS)]
        row = conn.execute(
            select(
                child.c.index_id, child.c.given, child.c.family, child.c.birth_date,
                child.c.gender, child.c.postcode_key, child.c.effectively_shielded,
            ).where(child.c.pk == rng.randint(1, total))
        ).first()  # fmt: skip
        if row is None:
            continue
        index_id, given_all, family, birth, gender, postcode, shielded = row
        given = given_all.split()[0]
        dob = birth.isoformat()
        fuzzy = ("_fuzzy-match", "true")
        if kind == "exact":
            params = [("family", family), ("given", given), ("birthdate", dob)]
        elif kind == "misspelt_family":
            params = [
                ("family", misspell(family, rng)),
                ("given", given),
                ("birthdate", dob),
                fuzzy,
            ]
        elif kind == "nickname":
            if given not in nick_of:
                continue
            nick = rng.choice(nick_of[given])
            params = [("family", family), ("given", nick), ("birthdate", dob), fuzzy]
        elif kind == "swapped_date":
            if birth.day > 12 or birth.day == birth.month:
                continue
            swapped = birth.replace(month=birth.day, day=birth.month).isoformat()
            params = [("family", family), ("given", given), ("birthdate", swapped), fuzzy]
        elif kind == "name_postcode":
            if shielded:
                continue  # a postcode search never returns a shielded household, by design
            pc = f"{postcode[:-3]} {postcode[-3:]}"
            params = [("family", family), ("birthdate", dob), ("gender", gender),
                      ("address-postalcode", pc), fuzzy]  # fmt: skip
        else:
            start = birth - dt.timedelta(days=rng.randint(0, 364))
            end = start + dt.timedelta(days=365)
            params = [("family", family), ("given", given), ("birthdate", f"ge{start}"),
                      ("birthdate", f"le{end}")]  # fmt: skip
        searches.append((kind, index_id, params))
    return searches


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * pct / 100
    low = int(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def summary(prefix: str, values_ms: list[float]) -> dict[str, float]:
    return {
        f"{prefix}_p50_ms": round(percentile(values_ms, 50), 3),
        f"{prefix}_p95_ms": round(percentile(values_ms, 95), 3),
        f"{prefix}_p99_ms": round(percentile(values_ms, 99), 3),
    }


def in_process(conn: Connection, params: Params) -> list[str] | None:
    """What the handler does minus HTTP: parse, search, load summaries, build the Bundle.

    None means "too many matches" (no list, as the API answers).
    """
    request = parse_search(params)
    matches = search_children(conn, request)
    if len(matches) > request.max_results:
        return None
    rows = load_summaries(conn, [m.child_pk for m in matches])
    entries = [(rows[m.child_pk], m.score) for m in matches]
    bundle = searchset_bundle(entries, "0300 000 0000", dt.datetime.now(dt.UTC))
    json.dumps(bundle)
    return [c.index_id for c, _ in entries]


def naive(conn: Connection, params: Params) -> list[str] | None:
    request = parse_search(params)
    matches = naive_search(conn, request)
    if len(matches) > request.max_results:
        return None
    rows = load_summaries(conn, [m.child_pk for m in matches])
    return [rows[m.child_pk].index_id for m in matches]


def timed(
    fn: Callable[[Params], list[str] | None], searches: list[tuple[str, str, Params]]
) -> tuple[list[float], dict[str, list[bool]]]:
    times: list[float] = []
    found: dict[str, list[bool]] = {k: [] for k in KINDS}
    for kind, index_id, params in searches:
        started = time.perf_counter()
        ids = fn(params)
        times.append((time.perf_counter() - started) * 1000)
        found[kind].append(ids is not None and index_id in ids)
    return times, found


def by_kind(
    searches: list[tuple[str, str, Params]], times: list[float], tag: str
) -> dict[str, float]:
    """p95 of each kind of search, to see which one sets the overall p95."""
    figures = {}
    for kind in KINDS:
        mine = [t for (k, _, _), t in zip(searches, times, strict=True) if k == kind]
        figures[f"in_process_{kind}_{tag}_p95_ms"] = round(percentile(mine, 95), 3)
    return figures


def start_server(url: str, tls: bool, workdir: Path) -> tuple[subprocess.Popen[str], str, Any]:
    port = 20000 + random.SystemRandom().randrange(20000)
    args = [sys.executable, "-m", "cpindex", "serve", "--db", url, "--port", str(port),
            "--secret-key-file", str(CACHE / "secret.key")]  # fmt: skip
    verify: Any = False
    if tls:
        certs = make_demo_certificates(workdir / f"certs-{port}")
        args += ["--tls-cert", str(certs.server_cert), "--tls-key", str(certs.server_key)]
        verify = str(certs.ca_cert)
    env = {**os.environ, "CPINDEX_SEARCH_LIMIT": "1000000", "CPINDEX_VIEW_LIMIT": "1000000"}
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("cpindex ready on"):
            return process, line.split()[-1], verify
    raise RuntimeError("server did not start")


def over_http(
    url: str, tls: bool, searches: list[tuple[str, str, Params]], workdir: Path
) -> list[float]:
    process, base, verify = start_server(url, tls, workdir)
    try:
        with httpx.Client(base_url=base, verify=verify, timeout=30) as client:
            account = demo_account("nurse.demo")
            # each code's step is spent once; the runs sign in several times a minute
            forget_spent_code_at(url, account.username)
            response = client.post(
                "/auth/session",
                json={"username": account.username, "password": DEMO_PASSWORD,
                      "otp": pyotp.TOTP(account.totp_secret).now()},
            )  # fmt: skip
            response.raise_for_status()
            client.headers["Authorization"] = f"Bearer {response.json()['token']}"
            for _, _, params in searches[:50]:  # warm the connection and caches
                client.get("/Patient", params=params)
            times = []
            for _, _, params in searches:
                started = time.perf_counter()
                response = client.get("/Patient", params=params)
                response.read()
                times.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    raise RuntimeError(f"HTTP {response.status_code}")
            return times
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


def run_size(
    children: int, args: argparse.Namespace, workdir: Path, http: bool
) -> tuple[dict[str, float], list[tuple[str, str, Params]]]:
    url = seeded(children, args.seed)
    engine = make_engine(url)
    warm_up()
    figures: dict[str, float] = {}
    tag = f"{children // 1000}k"
    with engine.connect() as conn:
        searches = build_searches(conn, args.searches, args.seed + 99)
        for _, _, params in searches[:50]:
            in_process(conn, params)
        times, found = timed(lambda p: in_process(conn, p), searches)
        figures |= summary(f"in_process_{tag}", times)
        figures |= by_kind(searches, times, tag)
        for kind in KINDS:
            hits = found[kind]
            figures[f"recall_{kind}_{tag}_pct"] = round(100 * sum(hits) / len(hits), 2)
        figures[f"too_many_matches_{tag}_pct"] = round(
            100 * sum(1 for _, _, p in searches if in_process(conn, p) is None) / len(searches), 2
        )
        figures[f"recall_all_{tag}_pct"] = round(
            100 * sum(sum(v) for v in found.values()) / len(searches), 2
        )
        sample = searches[: args.naive_sample]
        naive_times, _ = timed(lambda p: naive(conn, p), sample)
        figures |= summary(f"naive_{tag}", naive_times)
        figures[f"naive_sample_size_{tag}"] = len(sample)
        same_sample = [times[i] for i in range(len(sample))]
        figures[f"speedup_vs_naive_p50_{tag}"] = round(
            percentile(naive_times, 50) / percentile(same_sample, 50), 1
        )
        figures[f"speedup_vs_naive_p95_{tag}"] = round(
            percentile(naive_times, 95) / percentile(times, 95), 1
        )
    engine.dispose()
    if http:
        figures |= summary(f"http_{tag}", over_http(url, False, searches, workdir))
        figures |= summary(f"https_{tag}", over_http(url, True, searches, workdir))
    return figures, searches


def measured(
    conn: Connection, searches: list[tuple[str, str, Params]], tag: str, warm: int = 50
) -> dict[str, float]:
    """In-process p50/p95/p99, p95 by kind and recall (after `warm` searches untimed)."""
    for _, _, params in searches[:warm]:
        in_process(conn, params)
    times, found = timed(lambda p: in_process(conn, p), searches)
    figures = summary(f"in_process_{tag}", times) | by_kind(searches, times, tag)
    figures[f"recall_all_{tag}_pct"] = round(
        100 * sum(sum(v) for v in found.values()) / len(searches), 2
    )
    figures[f"recall_misspelt_family_{tag}_pct"] = round(
        100 * sum(found["misspelt_family"]) / len(found["misspelt_family"]), 2
    )
    return figures


def run_postgres(
    url: str,
    children: int,
    args: argparse.Namespace,
    searches: list[tuple[str, str, Params]],
    workdir: Path,
) -> dict[str, float]:
    """The same searches on PostgreSQL (seeded alike): in-process and over plain HTTP."""
    seeded(children, args.seed, url)
    engine = make_engine(url)
    tag = f"pg_{children // 1000}k"
    figures: dict[str, float] = {}
    with engine.connect() as conn:
        figures |= measured(conn, searches, tag)
    engine.dispose()
    figures |= summary(f"http_{tag}", over_http(url, False, searches, workdir))
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=None, help="growth baseline (children/10)")
    parser.add_argument("--searches", type=int, default=1000)
    parser.add_argument("--naive-sample", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("CPINDEX_BENCH_POSTGRES_URL"),
        help="also run on this (throwaway) PostgreSQL database",
    )
    args = parser.parse_args()
    small = args.small or max(1000, args.children // 10)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        figures = {"children": float(args.children), "children_small": float(small)}
        big_figures, searches = run_size(args.children, args, workdir, http=True)
        figures |= big_figures
        figures |= run_size(small, args, workdir, http=False)[0]
        if args.postgres_url:
            figures |= run_postgres(args.postgres_url, args.children, args, searches, workdir)
    big, little = f"{args.children // 1000}k", f"{small // 1000}k"
    figures["p95_growth_ratio"] = round(
        figures[f"in_process_{big}_p95_ms"] / figures[f"in_process_{little}_p95_ms"], 2
    )
    figures["misspelling_recall_pct"] = figures[f"recall_misspelt_family_{big}_pct"]
    width = max(len(k) for k in figures)
    print(f"\n{'figure':<{width}}  value")
    for key, value in figures.items():
        print(f"{key:<{width}}  {value:g}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
