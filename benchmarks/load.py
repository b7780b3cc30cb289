"""The index under load: searches/s and latency at 1, 8, 32 and 64 connections, with `wrk`.

`wrk` (Debian's) drives `cpindex serve` on loopback, plain HTTP, one signed-in nurse with
the rate limits raised (never off) so capacity is measured. Each request is a fuzzy
name + date-of-birth search for a child picked at random from 3,000 real ones; in the
mixed runs every other request opens a record (`$everything` with X-Access-Reason).
Runs on SQLite and, with `--postgres-url` (or CPINDEX_BENCH_POSTGRES_URL, a throwaway
database), on PostgreSQL; with one server process and with `--workers N`. After each
run `cpindex audit verify` checks the chain. Prints the store's size, the load average
and the CPU time a request cost the server and PostgreSQL beside the figures (on 2
cores, CPU per request is what caps throughput). Asserts nothing.

With `--baseline-code DIR` (an unpacked older checkout, e.g. `git archive 6e35aa7`), the
same SQLite runs are made first against that code and its own store of the same size, and
printed beside. Targets (issue 16): throughput at 64 at least that at 1; p99 at 32 at
most 100 ms; four PostgreSQL workers at least 1.6x one.

    .venv/bin/python benchmarks/load.py [--children 100000] [--postgres-url URL]
        [--workers 1 4] [--duration 10] [--baseline-code DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pyotp
from sqlalchemy import bindparam, create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cpindex.seed.demo import DEMO_PASSWORD, demo_account  # noqa: E402

CACHE = ROOT / "benchmarks" / "cache"
KEY_FILE = CACHE / "load.key"
LIMIT = "10000000"  # the largest limit the settings allow: raised, never off
NURSE = "nurse.demo"

# wrk's Lua: a random child per request; `mixed` makes every other request a view.
LUA = """
local searches = {%(searches)s}
local views = {%(views)s}
local mixed = %(mixed)s
local n = 0
local token = "%(token)s"
request = function()
  n = n + 1
  local i = math.random(#searches)
  if mixed and n %% 2 == 0 then
    return wrk.format("GET", views[i], {["Authorization"] = token,
                                        ["X-Access-Reason"] = "health-care"})
  end
  return wrk.format("GET", searches[i], {["Authorization"] = token})
end
done = function(summary, latency, requests)
  io.write(string.format(
    "LOADJSON {\\"requests\\": %%d, \\"seconds\\": %%f, \\"p50_us\\": %%d, \\"p99_us\\": %%d, "
    .. "\\"max_us\\": %%d, \\"status_errors\\": %%d, \\"socket_errors\\": %%d}\\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    latency.max, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


@dataclass(frozen=True)
class Target:
    """What to load: which code (a checkout folder), which store, how many processes."""

    label: str
    code: Path
    db_url: str
    workers: int


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("CPINDEX_DATABASE_URL", None)
    env.update(
        CPINDEX_SEARCH_LIMIT=LIMIT,
        CPINDEX_VIEW_LIMIT=LIMIT,
        CPINDEX_SECRET_KEY_FILE=str(KEY_FILE),
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def seed(code: Path, db_url: str, children: int) -> None:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "cpindex", "seed", "--children", str(children), "--seed", "1",
         "--db", db_url, "--quiet"],
        check=True, cwd=code, env=_env(), stdout=subprocess.DEVNULL,
    )  # fmt: skip
    print(f"store {_redact(db_url)}: ready in {time.perf_counter() - started:.0f} s", flush=True)


def _redact(url: str) -> str:
    return url.split("@")[-1] if "@" in url else url.rsplit("/", 1)[-1]


def store_bytes(db_url: str) -> int:
    if db_url.startswith("sqlite:///"):
        path = Path(db_url.removeprefix("sqlite:///"))
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return int(conn.scalar(text("SELECT pg_database_size(current_database())")) or 0)
    finally:
        engine.dispose()


def sample_children(db_url: str, count: int) -> list[tuple[str, str, str, str]]:
    """(family, first given name, birth date, index id) of `count` random real children."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            top = int(conn.scalar(text("SELECT MAX(pk) FROM child")) or 0)
            picks = random.Random(16).sample(range(1, top + 1), min(count, top))
            rows = conn.execute(
                text(
                    "SELECT family, given, birth_date, index_id FROM child WHERE pk IN :pks"
                ).bindparams(bindparam("pks", expanding=True)),
                {"pks": picks},
            ).all()
    finally:
        engine.dispose()
    return [(str(r[0]), str(r[1]).split()[0], str(r[2])[:10], str(r[3])) for r in rows]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(target: Target) -> tuple[subprocess.Popen[str], str]:
    port = _free_port()
    args = [sys.executable, "-m", "cpindex", "serve", "--db", target.db_url, "--port", str(port)]
    if target.workers > 1:
        args += ["--workers", str(target.workers)]
    process = subprocess.Popen(
        args, cwd=target.code, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("cpindex ready on"):
            return process, line.split()[-1]
        if line.startswith("cpindex: warning"):
            print("  " + line.rstrip(), flush=True)
    raise RuntimeError("cpindex serve did not start")


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()


def sign_in(base: str, db_url: str) -> str:
    engine = create_engine(db_url)
    try:  # each code's step is spent once; runs sign in several times a minute
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE user_account SET totp_last_step = NULL WHERE username = :u"),
                {"u": NURSE},
            )
    except Exception:  # an older store has no spent steps to forget
        pass
    finally:
        engine.dispose()
    code = pyotp.TOTP(demo_account(NURSE).totp_secret).now()
    body = {"username": NURSE, "password": DEMO_PASSWORD, "otp": code}
    response = httpx.post(f"{base}/auth/session", json=body, timeout=60)
    response.raise_for_status()
    return str(response.json()["token"])


def lua_script(children: list[tuple[str, str, str, str]], token: str, mixed: bool) -> str:
    searches = ", ".join(
        json.dumps("/Patient?" + urlencode(
            {"family": f, "given": g, "birthdate": b, "_fuzzy-match": "true"}
        ))
        for f, g, b, _ in children
    )  # fmt: skip
    views = ", ".join(json.dumps(f"/Patient/{quote(i)}/$everything") for *_, i in children)
    return LUA % {
        "searches": searches, "views": views, "mixed": "true" if mixed else "false",
        "token": f"Bearer {token}",
    }  # fmt: skip


def run_wrk(base: str, script: Path, connections: int, duration: int) -> dict[str, float]:
    """One wrk run: searches/s, latency percentiles, errors (and the request count)."""
    threads = min(connections, 2)
    out = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s",
         "--timeout", "10s", "-s", str(script), base],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    line = next(x for x in out.splitlines() if x.startswith("LOADJSON "))
    raw = json.loads(line.removeprefix("LOADJSON "))
    return {
        "rps": round(raw["requests"] / raw["seconds"], 1),
        "p50_ms": round(raw["p50_us"] / 1000, 1),
        "p99_ms": round(raw["p99_us"] / 1000, 1),
        "max_ms": round(raw["max_us"] / 1000, 1),
        "errors": raw["status_errors"] + raw["socket_errors"],
        "requests": raw["requests"],
    }


def audit_verify(target: Target) -> bool:
    result = subprocess.run(
        [sys.executable, "-m", "cpindex", "audit", "verify", "--db", target.db_url],
        cwd=target.code, env=_env(), capture_output=True, text=True,
    )  # fmt: skip
    return result.returncode == 0


def cpu_seconds(server_pid: int) -> dict[str, float]:
    """CPU seconds used so far by the server (its process and workers) and by every
    PostgreSQL process on this machine (Linux /proc; a process gone meanwhile is lost).
    Per request, they show what a search costs, whatever the core count."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    postgres: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat.rsplit(")", 1)[1].split()
        pid = int(entry.name)
        parents[pid] = int(rest[1])
        used[pid] = (int(rest[11]) + int(rest[12])) / tick
        if name == "postgres":
            postgres.add(pid)
    server, added = {server_pid}, True
    while added:  # the workers are the server's children (and theirs)
        grown = server | {pid for pid, parent in parents.items() if parent in server}
        server, added = grown, len(grown) > len(server)
    return {
        "server": sum(used.get(pid, 0.0) for pid in server),
        "postgres": sum(used.get(pid, 0.0) for pid in postgres),
    }


def load_average() -> float:
    return round(os.getloadavg()[0], 1)


def run_target(
    target: Target, args: argparse.Namespace, children: list[tuple[str, str, str, str]]
) -> dict[str, float]:
    figures: dict[str, float] = {}
    process, base = start(target)
    try:
        token = sign_in(base, target.db_url)
        with tempfile.TemporaryDirectory() as folder:
            for mode in args.modes:
                script = Path(folder) / f"{mode}.lua"
                script.write_text(lua_script(children, token, mode == "mixed"))
                for connections in args.connections:
                    load = load_average()
                    before = cpu_seconds(process.pid)
                    cell = run_wrk(base, script, connections, args.duration)
                    spent = cpu_seconds(process.pid)
                    requests = max(1.0, cell["requests"])
                    for party in ("server", "postgres"):
                        used = spent[party] - before[party]
                        cell[f"{party}_cpu_ms_per_request"] = round(1000 * used / requests, 2)
                    ok = audit_verify(target)
                    key = f"{target.label}_{mode}_c{connections}"
                    for name, value in cell.items():
                        figures[f"{key}_{name}"] = value
                    figures[f"{key}_audit_verify_ok"] = int(ok)
                    figures[f"{key}_load_average"] = load
                    print(
                        f"{target.label:<16} {mode:<7} {connections:>3} conn "
                        f"{cell['rps']:>7.1f}/s  p50 {cell['p50_ms']:>7.1f} ms  "
                        f"p99 {cell['p99_ms']:>7.1f} ms  errors {cell['errors']:>4.0f}  "
                        f"audit {'ok' if ok else 'BROKEN'}  load {load}  CPU/request "
                        f"server {cell['server_cpu_ms_per_request']} ms, "
                        f"PostgreSQL {cell['postgres_cpu_ms_per_request']} ms",
                        flush=True,
                    )
    finally:
        stop(process)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=100_000)
    parser.add_argument("--postgres-url", default=os.environ.get("CPINDEX_BENCH_POSTGRES_URL"))
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--sqlite-workers", type=int, nargs="+", default=[1, 2], help="0: none")
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--modes", nargs="+", default=["search", "mixed"])
    parser.add_argument("--duration", type=int, default=10, help="seconds per run")
    parser.add_argument("--baseline-code", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("load.py needs wrk (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    CACHE.mkdir(parents=True, exist_ok=True)
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"uptime at start: {uptime}", flush=True)
    figures: dict[str, float] = {"children": args.children, "load_average_start": load_average()}
    targets: list[Target] = []
    if args.baseline_code:
        base_url = f"sqlite:///{CACHE / f'load-{args.children}-base.db'}"
        seed(args.baseline_code.resolve(), base_url, args.children)
        targets.append(Target("baseline_sqlite_w1", args.baseline_code.resolve(), base_url, 1))
    sqlite_workers = [n for n in args.sqlite_workers if n]
    if sqlite_workers:
        sqlite_url = f"sqlite:///{CACHE / f'load-{args.children}-head.db'}"
        seed(ROOT, sqlite_url, args.children)
        targets += [Target(f"sqlite_w{n}", ROOT, sqlite_url, n) for n in sqlite_workers]
    if args.postgres_url:
        seed(ROOT, args.postgres_url, args.children)
        targets += [Target(f"postgres_w{n}", ROOT, args.postgres_url, n) for n in args.workers]
    for target in targets:
        size = store_bytes(target.db_url)
        figures[f"{target.label}_store_bytes"] = size
        print(f"{target.label}: {args.children:,} children, store {size / 1e6:,.0f} MB", flush=True)
        children = sample_children(target.db_url, 3000)
        figures.update(run_target(target, args, children))
    figures["load_average_end"] = load_average()
    print(f"uptime at end: {subprocess.run(['uptime'], capture_output=True, text=True).stdout}")
    print_targets(figures, args)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    return 0


def print_targets(figures: dict[str, Any], args: argparse.Namespace) -> None:
    """The issue's targets beside the figures (printed, never asserted)."""
    print("\ntargets (search-only):")
    for label in sorted({k.split("_search_")[0] for k in figures if "_search_c" in k}):
        one, many = figures.get(f"{label}_search_c1_rps"), figures.get(f"{label}_search_c64_rps")
        p99 = figures.get(f"{label}_search_c32_p99_ms")
        print(f"  {label:<20} c64/c1 throughput {many}/{one}   p99 at 32: {p99} ms (<= 100)")
    for c in args.connections:
        one = figures.get(f"postgres_w1_search_c{c}_rps")
        four = figures.get(f"postgres_w4_search_c{c}_rps")
        if one and four:
            ratio = round(four / one, 2)
            figures[f"postgres_w4_over_w1_search_c{c}_ratio"] = ratio
            print(f"  PostgreSQL 4 workers / 1 at {c} connections: {ratio}x (>= 1.6)")


if __name__ == "__main__":
    raise SystemExit(main())
