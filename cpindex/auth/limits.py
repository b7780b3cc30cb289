"""Per-user rate limits on searches and views, counted in the store.

A window opens at a user's first request of a kind and lasts a minute; the `limit`+1st
request inside it is refused with the seconds until the window ends (Retry-After). The
counters live in `rate_counter`, so every server process behind a load balancer counts
against the same budget. Called inside the request's serialised audit transaction, so
checking the limit costs no extra commit.
"""

from __future__ import annotations

import datetime as dt
import math

from sqlalchemy import Connection, insert, select, update

from cpindex.store.schema import rate_counter

__all__ = ["WINDOW", "take"]

WINDOW = dt.timedelta(minutes=1)


def take(conn: Connection, user_id: int, kind: str, limit: int, now: dt.datetime) -> int | None:
    """Spend one request of `kind`; None if allowed, else seconds to wait (at least 1).

    `conn` must be in a serialised transaction (cpindex.store.db.serialised); the row is
    locked with FOR UPDATE on PostgreSQL.
    """
    key = (rate_counter.c.user_id == user_id) & (rate_counter.c.kind == kind)
    row = conn.execute(
        select(rate_counter.c.window_start, rate_counter.c.count).where(key).with_for_update()
    ).first()
    if row is None:
        conn.execute(
            insert(rate_counter).values(user_id=user_id, kind=kind, window_start=now, count=1)
        )
        return None
    start, count = row[0], int(row[1])
    if now >= start + WINDOW or now < start:
        conn.execute(update(rate_counter).where(key).values(window_start=now, count=1))
        return None
    if count >= limit:
        wait: float = (start + WINDOW - now).total_seconds()
        return max(1, math.ceil(wait))
    conn.execute(update(rate_counter).where(key).values(count=count + 1))
    return None
