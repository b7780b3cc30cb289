"""POST /$feed over a real socket: its own body limit (feed_max_bytes), every other route
keeps 4 KiB, and an oversized feed changes nothing."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from cpindex.feeds.formats import to_csv
from cpindex.feeds.synthetic import make_feed
from cpindex.store.db import make_engine
from cpindex.store.schema import feed, involvement, practitioner
from tests.helpers.index_server import RunningIndex, sign_in_token, start_index

SOURCE = "Socket Borough Council"
FEED_LIMIT = 1_048_576  # small enough to exceed quickly; a real feed fits in the default


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningIndex]:
    env = {"CPINDEX_FEED_MAX_BYTES": str(FEED_LIMIT), "CPINDEX_READ_TIMEOUT": "20"}
    folder = tmp_path_factory.mktemp("feed-limit")
    with start_index(folder, children=1500, tls=False, env=env) as running:
        subprocess.run(
            [sys.executable, "-m", "cpindex", "source", "add", SOURCE, "--db", running.db_url],
            check=True, cwd=Path(__file__).resolve().parents[2], capture_output=True,
            timeout=120,
        )  # fmt: skip
        yield running


def _counts(index: RunningIndex) -> dict[str, int]:
    engine = make_engine(index.db_url)
    try:
        with engine.connect() as conn:
            return {
                t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                for t in (feed, involvement, practitioner)
            }
    finally:
        engine.dispose()


def _post_feed(index: RunningIndex, body: bytes, token: str) -> requests.Response:
    return requests.post(
        f"{index.base_url}/$feed",
        params={"source": SOURCE},
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"},
        timeout=300,
    )


def _thousand_rows(index: RunningIndex) -> bytes:
    engine = make_engine(index.db_url)
    try:
        with engine.connect() as conn:
            synthetic = make_feed(conn, 1000, 5)
    finally:
        engine.dispose()
    return to_csv(synthetic.rows)


def test_a_thousand_row_feed_loads_over_http(index: RunningIndex) -> None:
    body = _thousand_rows(index)
    assert 4096 < len(body) < FEED_LIMIT
    before = _counts(index)
    answer = _post_feed(index, body, sign_in_token(index, "admin.demo"))
    assert answer.status_code == 200, answer.text
    summary: dict[str, Any] = answer.json()["entry"][0]["resource"]["issue"][0]
    assert "linked" in summary["diagnostics"]
    after = _counts(index)
    assert after["feed"] == before["feed"] + 1
    assert after["involvement"] > before["involvement"] + 500


def test_a_feed_over_its_limit_is_refused_and_changes_nothing(index: RunningIndex) -> None:
    token = sign_in_token(index, "admin.demo")
    before = _counts(index)
    body = b"child_given_name," + b"x" * FEED_LIMIT
    answer = _post_feed(index, body, token)
    assert answer.status_code == 413
    assert answer.json()["resourceType"] == "OperationOutcome"
    # streamed without a Content-Length (chunked): cut off as it arrives
    chunks = (body[i : i + 65536] for i in range(0, len(body), 65536))
    streamed = _post_feed(index, chunks, token)  # type: ignore[arg-type]
    assert streamed.status_code == 413
    assert _counts(index) == before


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/auth/session"), ("POST", "/Communication"), ("GET", "/$feed"),
     ("POST", "/$feed/x"), ("POST", "/PractitionerRole")],
)  # fmt: skip
def test_every_other_route_keeps_the_small_limit(
    index: RunningIndex, method: str, path: str
) -> None:
    answer = requests.request(
        method,
        f"{index.base_url}{path}",
        data=b"{" + b" " * 5000 + b"}",
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert answer.status_code == 413
