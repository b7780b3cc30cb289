"""Per-user rate limits on searches and views, counted in the store.

A window opens at a user's first request of a kind and lasts a minute; the `limit`+1st
request inside it is refused with the seconds until the window ends (Retry-After). The
counters live in `rate_counter`, so every server process behind a load balancer counts
against the same budget. Spent inside the audit's group transaction (cpindex.audit.group):
the requests of one group are counted together, in order, under the chain head's lock, so
a search's reads never wait for the write lock and the limits hold exactly across
processes at one commit per group.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

from sqlalchemy import Connection, insert, select, update

from cpindex.store.schema import rate_counter

__all__ = ["WINDOW", "take", "take_many"]

WINDOW = dt.timedelta(minutes=1)


def take(conn: Connection, user_id: int, kind: str, limit: int, now: dt.datetime) -> int | None:
    """Spend one request of `kind`; None if allowed, else seconds to wait (at least 1).

    `conn` must be in a serialised transaction (cpindex.store.db.serialised); see take_many.
    """
    return take_many(conn, [(user_id, kind, limit)], now)[0]


def _spend(
    state: tuple[dt.datetime, int] | None, limit: int, now: dt.datetime
) -> tuple[tuple[dt.datetime, int], int | None]:
    """(counter after one more request, None or seconds to wait) — the rule `take` applies."""
    if state is None or now >= state[0] + WINDOW or now < state[0]:
        return (now, 1), None
    start, count = state
    if count >= limit:
        return state, max(1, math.ceil((start + WINDOW - now).total_seconds()))
    return (start, count + 1), None


def take_many(
    conn: Connection, asks: Sequence[tuple[int, str, int]], now: dt.datetime
) -> list[int | None]:
    """`take` for each (user_id, kind, limit) in order; one read and one write per counter.

    `conn` must be in a serialised transaction that already holds the chain head's lock
    (cpindex.audit.chain.append_rows takes it first), so no other writer changes these
    rows meanwhile and a new counter row cannot be inserted twice.
    """
    keys = sorted({(user_id, kind) for user_id, kind, _ in asks})
    stored: dict[tuple[int, str], tuple[dt.datetime, int]] = {}
    for user_id, kind in keys:  # few keys per group: usually one per signed-in user
        row = conn.execute(
            select(rate_counter.c.window_start, rate_counter.c.count)
            .where((rate_counter.c.user_id == user_id) & (rate_counter.c.kind == kind))
            .with_for_update()
        ).first()
        if row is not None:
            stored[(user_id, kind)] = (row[0], int(row[1]))
    state = dict(stored)
    waits: list[int | None] = []
    for user_id, kind, limit in asks:
        before = state.get((user_id, kind))
        state[(user_id, kind)], wait = _spend(before, limit, now)
        waits.append(wait)
    for key, (start, count) in state.items():
        if key not in stored:
            conn.execute(
                insert(rate_counter).values(
                    user_id=key[0], kind=key[1], window_start=start, count=count
                )
            )
        elif stored[key] != (start, count):
            where = (rate_counter.c.user_id == key[0]) & (rate_counter.c.kind == key[1])
            conn.execute(update(rate_counter).where(where).values(window_start=start, count=count))
    return waits
