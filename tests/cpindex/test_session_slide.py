"""Many requests on one session slide its idle expiry once, not once each.

A client with several requests in flight (or a load balancer's worth) finds the idle
expiry due for its slide in all of them at once; each writing it queued them on the
session's row lock (63 ms a request under load, the latency tail). The property: however
many slide one session at the same moment, one process writes it once, and every caller
is told the new expiry.
"""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Engine, event, select

from cpindex.api import create_app
from cpindex.clock import ManualClock
from cpindex.store.schema import user_session
from tests.cpindex.conftest import TestClient, build_services, sign_in


def test_concurrent_slides_of_one_session_write_it_once(seeded_engine: Engine) -> None:
    clock = ManualClock()
    services = build_services(seeded_engine, clock=clock)
    with TestClient(create_app(services)) as client:
        token = sign_in(client, clock)
    info = services.sessions.authenticate(token, touch=False)
    assert info is not None
    clock.advance(60)  # the slide is due
    writes: list[str] = []
    lock = threading.Lock()

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE USER_SESSION"):
            with lock:
                writes.append(statement)

    event.listen(seeded_engine, "before_cursor_execute", count)
    try:
        barrier = threading.Barrier(16)

        def slide() -> Any:
            barrier.wait()
            return services.sessions.touch(info)

        with ThreadPoolExecutor(16) as pool:
            slid = list(pool.map(lambda _: slide(), range(16)))
    finally:
        event.remove(seeded_engine, "before_cursor_execute", count)
    assert len(writes) == 1
    idle = dt.timedelta(seconds=services.sessions.idle_timeout_seconds)
    expected = min(clock.now() + idle, info.absolute_expires_at)
    assert {s.idle_expires_at for s in slid} == {expected}
    with seeded_engine.connect() as conn:
        stored = conn.scalar(
            select(user_session.c.idle_expires_at).where(user_session.c.id == info.session_id)
        )
    assert stored is not None and abs((stored - expected).total_seconds()) < 1
