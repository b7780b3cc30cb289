"""Run blocking calls (network, disk) off the GUI thread and hear back by signal.

Each call goes on a named channel ("search", "record", "sign-in"...). A newer call on a
channel supersedes the older one: the older answer is dropped when it arrives, so a slow
search can never overwrite the results of a newer one. `cancel()` drops every pending
answer at once and calls a cancel hook (the API client closes its sockets, so a stalled
call ends quickly with `Cancelled`). Callbacks always run on the GUI thread.
"""

from __future__ import annotations

import gc
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal

__all__ = ["GuiThreadGarbageCollector", "TaskRunner"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")


class _Relay(QObject):
    """Lives on the GUI thread; workers emit through it so slots run there (queued)."""

    done = Signal(int, object)
    failed = Signal(int, object)


class _Job(QRunnable):
    def __init__(self, ticket: int, fn: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self._ticket = ticket
        self._fn = fn
        self._relay = relay

    def run(self) -> None:
        try:
            result = self._fn()
        except BaseException as exc:  # every failure goes back to the GUI thread
            self._relay.failed.emit(self._ticket, exc)
        else:
            self._relay.done.emit(self._ticket, result)


@dataclass
class _Pending:
    channel: str
    on_done: Callable[[Any], None]
    on_error: Callable[[BaseException], None]


class TaskRunner(QObject):
    """Off-GUI-thread calls with supersede-by-channel and cancel.

    Signals:
        busy_changed(bool, str): whether any call is pending, and the channel of the newest.
    """

    busy_changed = Signal(bool, str)

    def __init__(
        self,
        pool: QThreadPool | None = None,
        cancel_hook: Callable[[], None] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._pool = pool or QThreadPool(self)
        self._cancel_hook = cancel_hook
        self._relay = _Relay(self)
        self._relay.done.connect(self._on_done)
        self._relay.failed.connect(self._on_failed)
        self._tickets = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._current: dict[str, int] = {}

    def set_cancel_hook(self, hook: Callable[[], None] | None) -> None:
        self._cancel_hook = hook

    @property
    def busy(self) -> bool:
        return bool(self._pending)

    def submit(
        self,
        channel: str,
        fn: Callable[[], _T],
        on_done: Callable[[_T], None],
        on_error: Callable[[BaseException], None],
    ) -> int:
        """Run `fn` on a worker; `on_done(result)` or `on_error(exc)` later, on this thread."""
        ticket = next(self._tickets)
        older = self._current.get(channel)
        if older is not None:
            self._pending.pop(older, None)  # superseded: its answer will be dropped
        self._current[channel] = ticket
        self._pending[ticket] = _Pending(channel, on_done, on_error)
        self._pool.start(_Job(ticket, fn, self._relay))
        self.busy_changed.emit(True, channel)
        return ticket

    def drop(self) -> None:
        """Forget every pending call without touching the network (lock, sign-out)."""
        had = bool(self._pending)
        self._pending.clear()
        self._current.clear()
        if had:
            self.busy_changed.emit(False, "")

    def cancel(self) -> None:
        """The user gave up waiting: drop every pending answer and break stalled calls."""
        self.drop()
        if self._cancel_hook is not None:
            try:
                self._cancel_hook()
            except Exception:
                log.exception("cancel hook failed")

    def wait(self, msecs: int = 5000) -> bool:
        """Wait for worker threads to finish (at exit and in tests)."""
        return bool(self._pool.waitForDone(msecs))

    def _take(self, ticket: int) -> _Pending | None:
        pending = self._pending.pop(ticket, None)
        if pending is None:
            return None
        if self._current.get(pending.channel) == ticket:
            del self._current[pending.channel]
        if not self._pending:
            self.busy_changed.emit(False, "")
        return pending

    def _on_done(self, ticket: int, result: object) -> None:
        pending = self._take(ticket)
        if pending is not None:
            pending.on_done(result)

    def _on_failed(self, ticket: int, exc: object) -> None:
        pending = self._take(ticket)
        if pending is not None and isinstance(exc, BaseException):
            pending.on_error(exc)


class GuiThreadGarbageCollector(QObject):
    """Run Python's cycle collector on the GUI thread only.

    The collector runs in whichever thread happens to allocate; if that is a worker and a
    collected cycle holds a widget, Qt destroys the widget off the GUI thread and crashes.
    Like qutebrowser, switch automatic collection off and collect from a GUI-thread timer.
    """

    def __init__(self, interval_ms: int = 1000, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect)

    def start(self) -> None:
        gc.disable()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        gc.collect()
        gc.enable()

    def collect(self) -> None:
        threshold = gc.get_threshold()[0]
        if gc.get_count()[0] >= threshold:
            gc.collect(0)
        if gc.get_count()[1] >= gc.get_threshold()[1]:
            gc.collect()
