"""Injectable clocks, so session and cache logic is tested by moving time, not sleeping.

`now()` must keep counting while the machine sleeps: a laptop shut overnight with a
missed suspend signal must wake up locked. On Linux that is CLOCK_BOOTTIME; elsewhere
`time.monotonic()` already includes sleep (Windows, macOS).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Protocol

__all__ = ["Clock", "FakeClock", "SystemClock"]


class Clock(Protocol):
    """A monotonic clock that counts suspended time, and the wall clock for display."""

    def now(self) -> float:
        """Seconds on a monotonic clock that keeps counting during sleep."""
        ...

    def wall(self) -> dt.datetime:
        """The current wall-clock time, timezone-aware (UTC)."""
        ...


class SystemClock:
    """The real clock: CLOCK_BOOTTIME where it exists, else time.monotonic()."""

    def now(self) -> float:
        boottime = getattr(time, "CLOCK_BOOTTIME", None)
        if boottime is not None:
            return time.clock_gettime(boottime)
        return time.monotonic()

    def wall(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class FakeClock:
    """A clock that only moves when told to, for tests."""

    def __init__(self, start: float = 1000.0, wall: dt.datetime | None = None) -> None:
        self._now = start
        self._wall = wall or dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)

    def now(self) -> float:
        return self._now

    def wall(self) -> dt.datetime:
        return self._wall

    def advance(self, seconds: float) -> None:
        self._now += seconds
        self._wall += dt.timedelta(seconds=seconds)
