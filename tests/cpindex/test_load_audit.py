"""The audit under load: many parallel searches and views from several users, over
several `cpindex serve` processes on one store, leave exactly one chained row each; the
rate limits hold exactly; and a server killed mid-burst loses no row whose answer was sent.
Run on SQLite and, when given, PostgreSQL (the `seeded_engine` backends)."""

from __future__ import annotations

import asyncio
import signal
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyotp
import pytest
import requests
from sqlalchemy import Engine, func, select

from cpindex.audit.chain import lock_head, verify_chain
from cpindex.audit.group import GroupWriter, Written
from cpindex.clock import ManualClock
from cpindex.store.schema import audit_event, child
from tests.cpindex.conftest import TEST_PASSWORD, engine_url, new_user
from tests.helpers.index_server import RunningIndex, start_index

Child = tuple[str, str, str, str]


def _index_ids(engine: Engine, n: int) -> list[Child]:
    """(index id, family name, given name, birth date) of `n` children."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(child.c.index_id, child.c.family, child.c.given, child.c.birth_date).limit(n)
        ).all()
    return [(str(r[0]), str(r[1]), str(r[2]).split()[0], r[3].isoformat()) for r in rows]


def _token(index: RunningIndex, engine: Engine) -> str:
    name, secret = new_user(engine)
    body = {"username": name, "password": TEST_PASSWORD, "otp": pyotp.TOTP(secret).now()}
    response = requests.post(f"{index.base_url}/auth/session", json=body, timeout=60)
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


def _start(engine: Engine, tmp_path: Path, count: int, *args: str) -> list[RunningIndex]:
    servers: list[RunningIndex] = []
    try:
        for i in range(count):
            servers.append(
                start_index(tmp_path / f"s{i}", db_url=engine_url(engine), tls=False,
                            extra_args=args)
            )  # fmt: skip
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers


@pytest.fixture
def servers(seeded_engine: Engine, tmp_path: Path) -> Iterator[list[RunningIndex]]:
    running = _start(seeded_engine, tmp_path, 2)
    yield running
    for server in running:
        server.stop()


def _request(server: RunningIndex, token: str, child_row: Child, view: bool) -> tuple[str, int]:
    request_id = uuid.uuid4().hex
    headers = {"Authorization": f"Bearer {token}", "X-Request-ID": request_id}
    index_id, family, given, born = child_row
    if view:
        headers["X-Access-Reason"] = "health-care"
        url = f"{server.base_url}/Patient/{index_id}/$everything"
        response = requests.get(url, headers=headers, timeout=120)
    else:
        params = {"family": family, "given": given, "birthdate": born, "_fuzzy-match": "true"}
        response = requests.get(f"{server.base_url}/Patient", params=params, headers=headers,
                                timeout=120)  # fmt: skip
    return request_id, response.status_code


def _rows_per_request(engine: Engine, request_ids: list[str]) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(audit_event.c.request_id, func.count())
            .where(audit_event.c.request_id.in_(request_ids))
            .group_by(audit_event.c.request_id)
        ).all()
    return {str(r[0]): int(r[1]) for r in rows}


def test_parallel_searches_and_views_leave_one_row_each_in_one_chain(
    seeded_engine: Engine, servers: list[RunningIndex]
) -> None:
    tokens = [_token(servers[i % 2], seeded_engine) for i in range(3)]
    children = _index_ids(seeded_engine, 40)

    def one(i: int) -> tuple[str, int]:
        return _request(servers[i % 2], tokens[i % 3], children[i % 40], view=i % 2 == 1)

    with ThreadPoolExecutor(24) as pool:
        results = list(pool.map(one, range(120)))
    assert {code for _, code in results} == {200}
    ids = [request_id for request_id, _ in results]
    assert _rows_per_request(seeded_engine, ids) == dict.fromkeys(ids, 1)
    with seeded_engine.connect() as conn:
        assert verify_chain(conn)[2] is None


def test_limits_hold_exactly_under_parallel_load_across_processes(
    seeded_engine: Engine, tmp_path: Path
) -> None:
    running = _start(seeded_engine, tmp_path, 2, "--search-limit", "7", "--view-limit", "5")
    try:
        token = _token(running[0], seeded_engine)
        children = _index_ids(seeded_engine, 10)

        def one(i: int) -> tuple[str, int]:
            return _request(running[i % 2], token, children[i % 10], view=i % 2 == 1)

        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(one, range(40)))
    finally:
        for server in running:
            server.stop()
    searches = [code for i, (_, code) in enumerate(results) if i % 2 == 0]
    views = [code for i, (_, code) in enumerate(results) if i % 2 == 1]
    assert (searches.count(200), searches.count(429)) == (7, 13)
    assert (views.count(200), views.count(429)) == (5, 15)
    ids = [request_id for request_id, _ in results]
    assert _rows_per_request(seeded_engine, ids) == dict.fromkeys(ids, 1)


def test_a_server_killed_mid_burst_loses_no_row_whose_answer_was_sent(
    seeded_engine: Engine, tmp_path: Path
) -> None:
    (server,) = _start(seeded_engine, tmp_path, 1)
    answered: list[tuple[str, int]] = []
    try:
        token = _token(server, seeded_engine)
        children = _index_ids(seeded_engine, 50)
        enough = threading.Event()

        def one(i: int) -> None:
            try:
                result = _request(server, token, children[i % 50], view=i % 3 == 0)
            except requests.RequestException:
                return  # cut off by the kill: no answer, nothing promised
            answered.append(result)
            if len(answered) >= 40:
                enough.set()

        with ThreadPoolExecutor(16) as pool:
            for i in range(400):
                pool.submit(one, i)
            assert enough.wait(300)
            server.process.send_signal(signal.SIGKILL)
    finally:
        server.stop()
    sent = [request_id for request_id, code in answered if code == 200]
    assert len(sent) >= 40
    assert _rows_per_request(seeded_engine, sent) == dict.fromkeys(sent, 1)
    with seeded_engine.connect() as conn:
        assert verify_chain(conn)[2] is None


def _values(request_id: str, action: str | None = "search") -> dict[str, object]:
    return {
        "at": None, "request_id": request_id, "username": "t.group", "role": "practitioner",
        "organisation": "Test Organisation", "action": action, "outcome": "success",
        "patient_id": None, "detail": None, "client_address": None,
    }  # fmt: skip


def test_rows_queued_while_the_store_is_busy_commit_as_one_group(seeded_engine: Engine) -> None:
    writer = GroupWriter(seeded_engine, ManualClock())
    writer.append(_values("warm-up"))  # the thread is running
    before = writer.groups
    blocker = seeded_engine.connect()
    blocker.begin()
    lock_head(blocker)  # hold the chain head, as another process's group would
    if blocker.dialect.name == "sqlite":
        blocker.exec_driver_sql("UPDATE audit_chain SET last_id = last_id WHERE id = 1")
    ids = [f"group-{uuid.uuid4().hex}" for _ in range(12)]
    with ThreadPoolExecutor(12) as pool:
        futures = [pool.submit(writer.append, _values(i)) for i in ids]
        while writer.waiting < 12:  # all queued or in the group waiting for the head
            threading.Event().wait(0.01)
        blocker.rollback()
        blocker.close()
        written = [f.result() for f in futures]
    writer.close()
    assert writer.groups - before <= 2
    assert sorted(w.row_id for w in written) == list(
        range(min(w.row_id for w in written), min(w.row_id for w in written) + 12)
    )
    assert _rows_per_request(seeded_engine, ids) == dict.fromkeys(ids, 1)
    with seeded_engine.connect() as conn:
        assert verify_chain(conn)[2] is None


def test_one_bad_row_fails_only_its_own_request(seeded_engine: Engine) -> None:
    writer = GroupWriter(seeded_engine, ManualClock())
    blocker = seeded_engine.connect()
    blocker.begin()
    writer.append(_values("warm-up"))
    lock_head(blocker)
    if blocker.dialect.name == "sqlite":
        blocker.exec_driver_sql("UPDATE audit_chain SET last_id = last_id WHERE id = 1")
    good = [f"good-{uuid.uuid4().hex}" for _ in range(5)]
    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(writer.append, _values(i)) for i in good]
        bad = pool.submit(writer.append, _values("bad", action=None))
        while writer.waiting < 6:
            threading.Event().wait(0.01)
        blocker.rollback()
        blocker.close()
        for f in futures:
            f.result()
        with pytest.raises(Exception):  # noqa: B017 - the store's own error, whatever its class
            bad.result()
    writer.close()
    assert _rows_per_request(seeded_engine, good) == dict.fromkeys(good, 1)
    with seeded_engine.connect() as conn:
        assert verify_chain(conn)[2] is None


def test_coroutines_await_their_rows_in_groups_and_a_bad_row_fails_only_its_own(
    seeded_engine: Engine,
) -> None:
    """The event-loop path (search and view): coroutines queued while the head is held all
    commit, each with its own row id, and a bad row raises in its coroutine only."""
    writer = GroupWriter(seeded_engine, ManualClock())
    writer.append(_values("warm-up"))
    before = writer.groups
    good = [f"async-{uuid.uuid4().hex}" for _ in range(20)]

    async def burst() -> tuple[list[Written], list[BaseException | Written]]:
        blocker = seeded_engine.connect()
        blocker.begin()
        lock_head(blocker)
        if blocker.dialect.name == "sqlite":
            blocker.exec_driver_sql("UPDATE audit_chain SET last_id = last_id WHERE id = 1")
        tasks = [asyncio.create_task(writer.append_async(_values(i))) for i in good]
        bad = asyncio.create_task(writer.append_async(_values("bad", action=None)))
        while writer.waiting < 21:
            await asyncio.sleep(0.01)
        blocker.rollback()
        blocker.close()
        return list(await asyncio.gather(*tasks)), list(
            await asyncio.gather(bad, return_exceptions=True)
        )

    written, (failure,) = asyncio.run(burst())
    writer.close()
    assert isinstance(failure, Exception)
    assert len({w.row_id for w in written}) == 20
    assert writer.groups > before
    assert writer.waiting == 0
    assert _rows_per_request(seeded_engine, good) == dict.fromkeys(good, 1)
    assert _rows_per_request(seeded_engine, ["bad"]) == {}
    with seeded_engine.connect() as conn:
        assert verify_chain(conn)[2] is None


@pytest.mark.parametrize("workers", [2, 4])
def test_serve_workers_share_one_port_one_store_and_one_chain(
    seeded_engine: Engine, tmp_path: Path, workers: int
) -> None:
    (server,) = _start(seeded_engine, tmp_path, 1, "--workers", str(workers))
    try:
        tokens = [_token(server, seeded_engine) for _ in range(2)]
        children = _index_ids(seeded_engine, 30)

        def one(i: int) -> tuple[str, int]:
            return _request(server, tokens[i % 2], children[i % 30], view=i % 3 == 0)

        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(one, range(80)))
    finally:
        server.stop()
    assert server.process.returncode == 0  # SIGTERM stops every worker cleanly
    assert {code for _, code in results} == {200}
    ids = [request_id for request_id, _ in results]
    assert _rows_per_request(seeded_engine, ids) == dict.fromkeys(ids, 1)
    with seeded_engine.connect() as conn:
        assert verify_chain(conn)[2] is None
