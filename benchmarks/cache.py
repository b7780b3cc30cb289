"""Encrypted cache benchmark: put/get, open, key derivation, cached open vs fresh fetch.

- put and get of a typical record Bundle (a real `$everything` answer from the loopback
  index), median and p95, in the SQLCipher store beside the same table in plain sqlite3
  (same pragmas) in the same run. Targets: get median <= 2x plain sqlite3, get p95 <= 5 ms.
- Opening a cache of 500 entries (SQLCipher key, schema and quick_check, expiry sweep),
  key derivation apart. Target <= 50 ms.
- The key derivation itself (scrypt + HKDF + AES-GCM unwrap), at the shipped cost.
  Target 50–250 ms.
- A record opened from the cache (get + parse) against a fresh fetch from `cpindex serve`
  on loopback over TLS (`--children`, default 2,000).

Asserts nothing.

    .venv/bin/python benchmarks/cache.py [--rounds 300] [--children 2000] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cpdesk.cache import keys  # noqa: E402
from cpdesk.cache.store import _SCHEMA, MAX_ENTRIES, EncryptedStore  # noqa: E402
from cpdesk.clock import SystemClock  # noqa: E402
from cpdesk.net.client import IndexClient, make_http_session  # noqa: E402
from cpdesk.net.fhir import parse_bundle_bytes  # noqa: E402
from cpdesk.records import AccessReason  # noqa: E402
from cpindex.seed.demo import DEMO_PASSWORD  # noqa: E402
from tests.helpers.index_server import start_index, totp_now  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def timed(fn: Callable[[], object], rounds: int) -> list[float]:
    """Milliseconds per call."""
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


class PlainStore(EncryptedStore):
    """The same store code over plain sqlite3 (same schema and pragmas, no key): the baseline."""

    def _open(self) -> Any:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA temp_store = MEMORY")
        db.execute("PRAGMA secure_delete = ON")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        if not db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            db.executescript(f"BEGIN;{_SCHEMA}COMMIT;")
        return db


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--children", type=int, default=2000)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    figures: dict[str, float] = {}
    clock = SystemClock()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with start_index(work / "index", children=args.children, seed=1, tls=True) as index:
            client = IndexClient(
                make_http_session(),
                index.base_url,
                ca_bundle=str(index.ca_cert),
                spki_pins=[index.spki_pin],
            )
            client.sign_in("nurse.demo", DEMO_PASSWORD, totp_now("nurse.demo"))
            con = sqlite3.connect(f"file:{work / 'index' / 'index.db'}?mode=ro", uri=True)
            ids = [
                r[0] for r in con.execute("SELECT index_id FROM child WHERE shielded = 0 LIMIT 20")
            ]
            con.close()
            bundles = {i: client.record_bundle(i, AccessReason.SAFEGUARDING)[1] for i in ids}
            first = ids[0]
            fetch = timed(lambda: client.record_bundle(first, AccessReason.SAFEGUARDING), 50)
            client.sign_out()
        sizes = [len(b) for b in bundles.values()]
        figures["bundle_bytes_median"] = statistics.median(sizes)

        key = secrets.token_bytes(32)
        enc = EncryptedStore(work / "enc.db", key, clock, 3600)
        plain = PlainStore(work / "plain.db", key, clock, 3600)
        items = list(bundles.items())
        for name, store in (("sqlcipher", enc), ("sqlite", plain)):
            n = 0

            def put(store: EncryptedStore = store) -> None:
                nonlocal n
                index_id, bundle = items[n % len(items)]
                n += 1
                store.put(index_id, bundle)

            puts = timed(put, args.rounds)
            gets = timed(lambda s=store: s.get(first), args.rounds)
            figures[f"put_{name}_ms_median"] = statistics.median(puts)
            figures[f"put_{name}_ms_p95"] = percentile(puts, 95)
            figures[f"get_{name}_ms_median"] = statistics.median(gets)
            figures[f"get_{name}_ms_p95"] = percentile(gets, 95)
        figures["get_ratio_sqlcipher_to_sqlite"] = (
            figures["get_sqlcipher_ms_median"] / figures["get_sqlite_ms_median"]
        )

        for i in range(MAX_ENTRIES):
            enc.put(f"fill-{i}", items[i % len(items)][1])
        enc.put(first, bundles[first])  # the newest of the 500
        enc.close()
        opens = []
        for _ in range(10):
            t0 = time.perf_counter()
            store = EncryptedStore(work / "enc.db", key, clock, 3600)
            opens.append((time.perf_counter() - t0) * 1000)
            store.close()
        figures["open_500_entries_ms_median"] = statistics.median(opens)
        figures["open_500_entries_ms_max"] = max(opens)

        secret = secrets.token_bytes(32)
        wrapped = keys.wrap(key, secret, "a password", b"bench.key")
        derive = timed(lambda: keys.unwrap(wrapped, secret, "a password", b"bench.key"), 7)
        figures["key_derivation_ms_median"] = statistics.median(derive)
        figures["key_derivation_ms_max"] = max(derive)
        cpu = []
        for _ in range(5):
            t0 = time.process_time()
            keys.unwrap(wrapped, secret, "a password", b"bench.key")
            cpu.append((time.process_time() - t0) * 1000)
        figures["key_derivation_cpu_ms_median"] = statistics.median(cpu)
        figures["scrypt_n"] = keys.SCRYPT_N

        store = EncryptedStore(work / "enc.db", key, clock, 3600)

        def cached_open() -> None:
            hit = store.get(first)
            assert hit is not None
            parse_bundle_bytes(hit.bundle, first)

        cached = timed(cached_open, 50)
        store.close()
        figures["cached_open_ms_median"] = statistics.median(cached)
        figures["fresh_fetch_ms_median"] = statistics.median(fetch)

    targets = {
        "get_ratio_sqlcipher_to_sqlite": "<= 2",
        "get_sqlcipher_ms_p95": "<= 5",
        "open_500_entries_ms_median": "<= 50",
        "key_derivation_ms_median": "50-250",
    }
    figures["load_average_1min"] = os.getloadavg()[0]
    width = max(len(k) for k in figures)
    for name, value in figures.items():
        print(f"{name:<{width}}  {value:10.3f}  {targets.get(name, '')}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
