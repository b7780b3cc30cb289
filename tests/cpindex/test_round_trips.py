"""The audit group's shared round trips (cpindex.store.db) keep the transaction's meaning.

On PostgreSQL the head lock and the counter reads are sent together, and the writes go
with the COMMIT. Sent together must not mean read together: the counters are read only
once the head's lock is held, so they show what the lock's previous holder committed
(one statement reading both would use a snapshot from before its lock wait, and spend a
limit twice). And the writes sent with the COMMIT are all or nothing.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.exc import IntegrityError

from cpindex.audit.chain import HEAD_FOR_UPDATE, head_of, lock_head
from cpindex.auth.limits import COUNTER_FOR_UPDATE, counter_params
from cpindex.store.db import read_in_one_trip, sent_with_commit, serialised
from cpindex.store.schema import rate_counter, user_account
from tests.cpindex.conftest import new_user

KIND = "trip-test"


def _user_id(engine: Engine) -> int:
    name, _ = new_user(engine)
    with engine.connect() as conn:
        return int(conn.scalar(select(user_account.c.id).where(user_account.c.username == name)))


def _counter(engine: Engine, user_id: int) -> Any:
    with engine.connect() as conn:
        return conn.execute(
            select(rate_counter.c.window_start, rate_counter.c.count).where(
                (rate_counter.c.user_id == user_id) & (rate_counter.c.kind == KIND)
            )
        ).first()


def test_counters_sent_with_the_head_lock_are_read_after_it(seeded_engine: Engine) -> None:
    user_id = _user_id(seeded_engine)
    start = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)
    answers: list[Any] = []
    locked = threading.Event()

    def group() -> None:
        locked.wait(10)
        with serialised(seeded_engine) as conn:
            answers.append(
                read_in_one_trip(
                    conn,
                    [(HEAD_FOR_UPDATE, {}), (COUNTER_FOR_UPDATE, counter_params((user_id, KIND)))],
                )
            )

    reader = threading.Thread(target=group)
    reader.start()
    with serialised(seeded_engine) as holder:  # another process's group, holding the head
        head = lock_head(holder)
        locked.set()
        time.sleep(0.5)  # the reader is now waiting for the head
        holder.execute(
            insert(rate_counter).values(user_id=user_id, kind=KIND, window_start=start, count=7)
        )
    reader.join(30)
    head_rows, counter_rows = answers[0]
    assert head_of(head_rows) == head
    assert counter_rows == [(start, 7)]  # typed as conn.execute gives them: aware UTC


def test_writes_sent_with_the_commit_are_all_or_nothing(seeded_engine: Engine) -> None:
    user_id = _user_id(seeded_engine)
    start = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)
    row = {"user_id": user_id, "kind": KIND, "window_start": start, "count": 1}
    refused = (IntegrityError, psycopg.IntegrityError)  # raised by the pipeline's COMMIT
    with pytest.raises(refused), serialised(seeded_engine) as conn, sent_with_commit(conn):
        conn.execute(insert(rate_counter).values(**row))
        conn.execute(insert(rate_counter).values(**row))  # the same key again: refused
    assert _counter(seeded_engine, user_id) is None
    with serialised(seeded_engine) as conn, sent_with_commit(conn):
        conn.execute(insert(rate_counter).values(**row))
    assert _counter(seeded_engine, user_id) == (start, 1)
    with serialised(seeded_engine) as conn:
        conn.execute(delete(rate_counter).where(rate_counter.c.user_id == user_id))
