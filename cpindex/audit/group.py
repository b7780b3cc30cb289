"""Group commit for the audit: one writer thread per process appends the rows of many
requests, with their rate counters and their chain, in one transaction.

Every search and view must have its chained row committed before its answer is sent.
Writing each row in its own write transaction makes requests queue on the store's one
write lock (SQLite's busy handler then sleeps them in growing steps), so throughput falls
as users arrive. Here a request hands its row to the writer and waits for that row's
commit; the writer takes whatever has queued meanwhile (a group), locks the chain head
once, spends the group's rate limits in order, chains and inserts the rows, and commits.
Several processes on one database still serialise on the chain head row, once per group.

A group that fails is written again one row per transaction, so one bad row fails its
own request only; a request whose row did not commit gets the error, never its answer.

Requests served on the event loop `await append_async(...)`: no worker thread is held while
the row waits for its group, and the writer wakes each event loop once per group (one
`call_soon_threadsafe` for all of that loop's rows), not once per row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from cpindex.audit.chain import HEAD_FOR_UPDATE, chain_rows, head_of, write_chained
from cpindex.auth.limits import (
    COUNTER_FOR_UPDATE,
    counter_keys,
    counter_params,
    spend_all,
    stored_counters,
    write_counters,
)
from cpindex.clock import Clock
from cpindex.store.db import read_in_one_trip, sent_with_commit, serialised

__all__ = ["GroupWriter", "Limit", "Written"]

_log = logging.getLogger("cpindex.audit")
_MAX_GROUP = 500
_WAIT_SECONDS = 120.0  # a store that does not answer in this long fails the request
_IDLE_SECONDS = 30.0  # an idle writer thread ends (servers in tests come and go)


@dataclass(frozen=True)
class Limit:
    """A rate limit to spend with the row: `over` rewrites the row when it is refused."""

    user_id: int
    kind: str
    limit: int
    over: Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Written:
    """The committed row's id, and the seconds to wait when its limit refused it."""

    row_id: int
    wait: int | None


@dataclass
class _Job:
    """One row to write; a thread waits on `done`, a coroutine on `future` (in `loop`)."""

    values: dict[str, Any]
    limit: Limit | None
    done: threading.Event = field(default_factory=threading.Event)
    result: Written | None = None
    error: BaseException | None = None
    loop: asyncio.AbstractEventLoop | None = None
    future: asyncio.Future[Written] | None = None


class GroupWriter:
    """Appends audit rows for one process; `append` returns once the row is committed.

    The thread starts at the first append and ends after 30 s idle or at `close` (a
    daemon: a process that ends without closing loses nothing committed, and no answer
    waits on an uncommitted row).
    """

    def __init__(self, engine: Engine, clock: Clock, *, max_group: int = _MAX_GROUP) -> None:
        self._engine = engine
        self._clock = clock
        self._max_group = max_group
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.groups = 0  # groups committed (tests and the benchmark read it)
        self.waiting = 0  # appends queued or being written, not yet answered

    def append(self, values: dict[str, Any], limit: Limit | None = None) -> Written:
        """Queue one row (`at` is set when its group is written) and wait for its commit."""
        job = _Job(values, limit)
        self._put(job)
        try:
            if not job.done.wait(_WAIT_SECONDS):
                raise TimeoutError("the audit row was not written in time")
        finally:
            with self._lock:
                self.waiting -= 1
        if job.error is not None:
            raise job.error
        assert job.result is not None
        return job.result

    async def append_async(self, values: dict[str, Any], limit: Limit | None = None) -> Written:
        """`append` for a coroutine on the event loop: awaits the commit, holds no thread."""
        loop = asyncio.get_running_loop()
        job = _Job(values, limit, loop=loop, future=loop.create_future())
        assert job.future is not None
        self._put(job)
        try:
            return await asyncio.wait_for(asyncio.shield(job.future), _WAIT_SECONDS)
        except TimeoutError:
            raise TimeoutError("the audit row was not written in time") from None
        finally:
            with self._lock:
                self.waiting -= 1

    def _put(self, job: _Job) -> None:
        with self._lock:  # put under the lock: a thread stopping when idle cannot miss it
            self._start()
            self.waiting += 1
            self._queue.put(job)

    def close(self) -> None:
        """Write what is queued, then stop the thread."""
        with self._lock:
            self._closed = True
            thread = self._thread
            if thread is not None:
                self._queue.put(None)
        if thread is not None:
            thread.join()

    def _start(self) -> None:
        """Under self._lock: a writer thread is running (started again after idling)."""
        if self._closed:
            raise RuntimeError("the audit writer is closed")
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="cpindex-audit-writer", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            try:
                first = self._queue.get(timeout=_IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():  # idle: stop; the next append starts one
                        self._thread = None
                        return
                continue
            if first is None:
                break
            jobs = [first]
            with contextlib.suppress(queue.Empty):
                while len(jobs) < self._max_group:
                    job = self._queue.get_nowait()
                    if job is None:
                        stopping = True
                        break
                    jobs.append(job)
            self._write_group(jobs)

    def _write_group(self, jobs: list[_Job]) -> None:
        try:
            results = self._commit(jobs)
        except Exception as exc:
            if len(jobs) == 1:
                self._fail(jobs[0], exc)
                return
            for job in jobs:  # one bad row must not fail the others
                try:
                    self._finish([job], self._commit([job]))
                except Exception as single:
                    self._fail(job, single)
            return
        self._finish(jobs, results)

    def _finish(self, jobs: list[_Job], results: list[Written]) -> None:
        self.groups += 1
        for job, result in zip(jobs, results, strict=True):
            job.result = result
        self._wake(jobs)

    @staticmethod
    def _fail(job: _Job, exc: BaseException) -> None:
        _log.error("could not write an audit row: %s", type(exc).__name__)  # no child data
        job.error = exc
        GroupWriter._wake([job])

    @staticmethod
    def _wake(jobs: list[_Job]) -> None:
        """Threads by their events; each event loop once, for all of its jobs."""
        by_loop: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
        for job in jobs:
            if job.loop is None:
                job.done.set()
            else:
                by_loop.setdefault(job.loop, []).append(job)
        for loop, waiting in by_loop.items():
            with contextlib.suppress(RuntimeError):  # a loop that has closed awaits nothing
                loop.call_soon_threadsafe(_settle, waiting)

    def _commit(self, jobs: list[_Job]) -> list[Written]:
        """One transaction for the group; retried once if the store was busy.

        Three steps whatever the store: lock the chain head and read the group's counters,
        spend and chain in memory, write. On PostgreSQL the reads share one round trip and
        the writes another, with the COMMIT (cpindex.store.db): the head is held for about
        one round trip, not five, which is what several processes queue on.
        """
        limited = [(i, job.limit) for i, job in enumerate(jobs) if job.limit]
        asks = [(lim.user_id, lim.kind, lim.limit) for _, lim in limited]
        keys = counter_keys(asks)
        for attempt in (1, 2):
            try:
                with serialised(self._engine) as conn:
                    # the head first: the counters read after it change only under it
                    head_rows, *counter_rows = read_in_one_trip(
                        conn,
                        [(HEAD_FOR_UPDATE, {})]
                        + [(COUNTER_FOR_UPDATE, counter_params(key)) for key in keys],
                    )
                    stored = stored_counters(keys, counter_rows)
                    now = self._clock.now()
                    spent_waits, spent = spend_all(stored, asks, now)
                    waits: list[int | None] = [None] * len(jobs)
                    for (i, _), wait in zip(limited, spent_waits, strict=True):
                        waits[i] = wait
                    rows = []
                    for job, wait in zip(jobs, waits, strict=True):
                        values = {**job.values, "at": now}
                        if wait is not None and job.limit is not None:
                            values = job.limit.over(values)
                        rows.append(values)
                    chained = chain_rows(rows, head_of(head_rows))
                    with sent_with_commit(conn):
                        write_counters(conn, stored, spent)
                        write_chained(conn, chained)
                return [Written(r["id"], w) for r, w in zip(chained, waits, strict=True)]
            except DBAPIError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def _settle(jobs: list[_Job]) -> None:
    """On the jobs' event loop: hand each coroutine its row id or its error."""
    for job in jobs:
        future = job.future
        if future is None or future.done():  # its request gave up waiting
            continue
        if job.error is not None:
            future.set_exception(job.error)
        else:
            assert job.result is not None
            future.set_result(job.result)
