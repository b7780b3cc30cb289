"""Two `cpindex serve` processes on one database share lock-out, rate limits and the audit
chain, as servers behind a load balancer must (on SQLite and on PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyotp
import pytest
import requests
from sqlalchemy import Engine

from cpindex.audit.chain import verify_chain
from tests.cpindex.conftest import TEST_PASSWORD, engine_url, new_user
from tests.helpers.index_server import RunningIndex, start_index

SEARCH = {"family": "Smithfield", "birthdate": "2011-03-14"}


@pytest.fixture
def pair(seeded_engine: Engine, tmp_path: Path) -> Iterator[tuple[RunningIndex, RunningIndex]]:
    args = ("--search-limit", "4", "--lockout-failures", "3")
    url = engine_url(seeded_engine)
    first = start_index(tmp_path / "a", db_url=url, tls=False, extra_args=args)
    try:
        second = start_index(tmp_path / "b", db_url=url, tls=False, extra_args=args)
    except BaseException:
        first.stop()
        raise
    with first, second:
        yield first, second


def _sign_in(
    index: RunningIndex, name: str, secret: str, password: str = TEST_PASSWORD
) -> requests.Response:
    body = {"username": name, "password": password, "otp": pyotp.TOTP(secret).now()}
    return requests.post(f"{index.base_url}/auth/session", json=body, timeout=30)


def test_two_servers_share_limits_lockout_and_the_chain(
    seeded_engine: Engine, pair: tuple[RunningIndex, RunningIndex]
) -> None:
    a, b = pair
    # rate limit: a budget of 4 searches a minute, spent across both servers
    name, secret = new_user(seeded_engine)
    token = _sign_in(a, name, secret).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    codes = [
        requests.get(
            f"{s.base_url}/Patient", params=SEARCH, headers=headers, timeout=30
        ).status_code
        for s in (a, b, a, b, a, b)
    ]
    assert codes == [200, 200, 200, 200, 429, 429]
    # lock-out: three failures, spread over both servers, lock the account on both
    other, other_secret = new_user(seeded_engine)
    for server in (a, b, a):
        assert _sign_in(server, other, other_secret, "wrong").status_code == 401
    assert _sign_in(b, other, other_secret).status_code == 401
    assert _sign_in(a, other, other_secret).status_code == 401

    # concurrent appends from both processes still make one intact chain
    def fail(i: int) -> int:
        return _sign_in((a, b)[i % 2], f"nobody.{i}", secret, "wrong").status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(fail, range(40))) == {401}
    with seeded_engine.connect() as conn:
        assert verify_chain(conn)[2] is None
