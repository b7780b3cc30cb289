"""Sign-in races over real HTTP (a real `cpindex serve` on loopback), SQLite and PostgreSQL.

The lock-out holds however requests are timed: a password check takes its slot in the
store before Argon2 runs, so the right details sent while a dozen wrong guesses are still
being checked are refused. A one-time code is accepted once: the same code sent twice at
the same moment signs in at most once (RFC 6238 section 5.2).
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pyotp
import pytest
import requests
from sqlalchemy import Engine, select, text

from cpindex.auth.users import create_user
from cpindex.store.db import make_engine
from cpindex.store.schema import audit_event, user_account
from tests.cpindex.conftest import TEST_PASSWORD, backends
from tests.helpers.index_server import RunningIndex, seed_index, start_index

LOCKOUT_FAILURES = 5


def _fresh_postgres_database(base_url: str, name: str) -> str:
    """A new, empty database beside the test one (the shared store stays untouched)."""
    admin = make_engine(base_url)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="module", params=backends())
def race_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningIndex, Engine]]:
    """A small seeded store of its own and a server with the default lock-out (5)."""
    folder = tmp_path_factory.mktemp("race")
    if request.param == "postgresql":
        url = _fresh_postgres_database(os.environ["CPINDEX_TEST_POSTGRES_URL"], "cpindex_race")
        seed_index(folder / "unused.db", children=50, db_url=url)
    else:
        url = seed_index(folder / "race.db", children=50)
    env = {"CPINDEX_LOCKOUT_FAILURES": str(LOCKOUT_FAILURES)}
    engine = make_engine(url)
    with start_index(folder, tls=False, db_url=url, env=env) as index:
        yield index, engine
    engine.dispose()


def _new_user(engine: Engine) -> tuple[str, pyotp.TOTP]:
    name = f"r.{uuid.uuid4().hex[:12]}"
    secret = pyotp.random_base32()
    with engine.begin() as conn:
        create_user(
            conn, name, TEST_PASSWORD, role="practitioner", organisation="Race Org",
            totp_secret=secret,
        )  # fmt: skip
    return name, pyotp.TOTP(secret)


def _post(index: RunningIndex, name: str, password: str, otp: str) -> int:
    response = requests.post(
        f"{index.base_url}/auth/session",
        json={"username": name, "password": password, "otp": otp},
        timeout=120,
    )
    return response.status_code


def _slots_taken(engine: Engine, name: str) -> int:
    """Password checks in flight plus failures counted (the old schema had no slots)."""
    with engine.connect() as conn:
        columns = user_account.c
        if "checks_in_flight" not in columns:
            return LOCKOUT_FAILURES
        row = conn.execute(
            select(columns.checks_in_flight, columns.failed_count, columns.locked_until).where(
                columns.username == name
            )
        ).one()
    return LOCKOUT_FAILURES if row[2] is not None else int(row[0]) + int(row[1])


def test_right_details_during_a_dozen_wrong_guesses_are_refused(
    race_server: tuple[RunningIndex, Engine],
) -> None:
    index, engine = race_server
    name, totp = _new_user(engine)
    with ThreadPoolExecutor(max_workers=13) as pool:
        wrong = [pool.submit(_post, index, name, f"wrong {i}", totp.now()) for i in range(12)]
        deadline = time.monotonic() + 60
        while _slots_taken(engine, name) < LOCKOUT_FAILURES and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(0.02)  # the finding's gap; the wait above is what makes it certain
        right = pool.submit(_post, index, name, TEST_PASSWORD, totp.now())
        answers = [future.result() for future in wrong]
        assert right.result() == 401
    assert answers == [401] * 12
    with engine.connect() as conn:
        outcomes = conn.scalars(
            select(audit_event.c.outcome).where(
                audit_event.c.username == name, audit_event.c.action == "sign-in"
            )
        ).all()
        locked_until = conn.scalar(
            select(user_account.c.locked_until).where(user_account.c.username == name)
        )
    # no more than --lockout-failures passwords were ever checked; the rest were refused
    assert outcomes.count("failure") <= LOCKOUT_FAILURES
    assert len(outcomes) == 13
    assert "success" not in outcomes
    assert locked_until is not None


def test_the_same_code_sent_twice_at_once_signs_in_once(
    race_server: tuple[RunningIndex, Engine],
) -> None:
    index, engine = race_server
    name, totp = _new_user(engine)
    code = totp.now()
    start = threading.Barrier(2)

    def send() -> int:
        start.wait()
        return _post(index, name, TEST_PASSWORD, code)

    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = sorted(f.result() for f in [pool.submit(send), pool.submit(send)])
    assert answers == [201, 401]
    # and later with the same code (its step and earlier ones are spent): refused
    assert _post(index, name, TEST_PASSWORD, code) == 401
