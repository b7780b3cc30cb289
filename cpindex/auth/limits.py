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
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from cpindex.audit.chain import lock_head
from cpindex.store.schema import rate_counter

__all__ = [
    "COUNTER_FOR_UPDATE",
    "WINDOW",
    "Counters",
    "counter_keys",
    "counter_params",
    "spend_all",
    "stored_counters",
    "take",
    "write_counters",
]

WINDOW = dt.timedelta(minutes=1)


def take(conn: Connection, user_id: int, kind: str, limit: int, now: dt.datetime) -> int | None:
    """Spend one request of `kind`; None if allowed, else seconds to wait (at least 1).

    `conn` must be in a serialised transaction (cpindex.store.db.serialised). The audit
    chain head is locked first, as the group writer does: counters are then created and
    changed one transaction at a time (two first requests cannot both insert the row) and
    always in the same lock order.
    """
    lock_head(conn)
    key = (user_id, kind)
    stored = stored_counters([key], [conn.execute(COUNTER_FOR_UPDATE, counter_params(key)).all()])
    waits, spent = spend_all(stored, [(user_id, kind, limit)], now)
    write_counters(conn, stored, spent)
    return waits[0]


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


Counters = dict[tuple[int, str], tuple[dt.datetime, int]]


def counter_keys(asks: Sequence[tuple[int, str, int]]) -> list[tuple[int, str]]:
    """The (user_id, kind) counters `asks` spend, in a fixed order (locks taken alike)."""
    return sorted({(user_id, kind) for user_id, kind, _ in asks})


# Statements built once (building one costs more than running it): a counter, locked for
# the transaction (few per group: usually one per signed-in user), its update and insert.
COUNTER_FOR_UPDATE = (
    select(rate_counter.c.window_start, rate_counter.c.count)
    .where(
        (rate_counter.c.user_id == bindparam("key_user"))
        & (rate_counter.c.kind == bindparam("key_kind"))
    )
    .with_for_update()
)
_COUNTER_UPDATE = (
    update(rate_counter)
    .where(
        (rate_counter.c.user_id == bindparam("key_user"))
        & (rate_counter.c.kind == bindparam("key_kind"))
    )
    .values(window_start=bindparam("new_start"), count=bindparam("new_count"))
)
_COUNTER_INSERT = insert(rate_counter)


def counter_params(key: tuple[int, str]) -> dict[str, Any]:
    """COUNTER_FOR_UPDATE's values for the (user_id, kind) counter."""
    return {"key_user": key[0], "key_kind": key[1]}


def stored_counters(
    keys: Sequence[tuple[int, str]], answers: Sequence[Sequence[Sequence[Any]]]
) -> Counters:
    """The counters that exist, from each key's COUNTER_FOR_UPDATE rows (none: not yet)."""
    return {
        key: (rows[0][0], int(rows[0][1])) for key, rows in zip(keys, answers, strict=True) if rows
    }


def spend_all(
    stored: Counters, asks: Sequence[tuple[int, str, int]], now: dt.datetime
) -> tuple[list[int | None], Counters]:
    """Each ask's wait (None: allowed), in order, and every counter afterwards."""
    state = dict(stored)
    waits: list[int | None] = []
    for user_id, kind, limit in asks:
        state[(user_id, kind)], wait = _spend(state.get((user_id, kind)), limit, now)
        waits.append(wait)
    return waits, state


def write_counters(conn: Connection, stored: Counters, spent: Counters) -> None:
    """Insert the new counters and update the changed ones (nothing for the unchanged)."""
    for key, (start, count) in spent.items():
        if key not in stored:
            values = {"user_id": key[0], "kind": key[1], "window_start": start, "count": count}
            conn.execute(_COUNTER_INSERT, values)
        elif stored[key] != (start, count):
            conn.execute(
                _COUNTER_UPDATE, {**counter_params(key), "new_start": start, "new_count": count}
            )
