"""Waiting on the Qt event loop for the benchmarks, without busy polling.

The two cores are shared with the index server the benchmark talks to, so a wait runs
short nested event loops instead of spinning; `wake()` ends the current one at once when
the awaited event has happened (for example from a paint filter), so no 20 ms tick is
added to a measured figure.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QEventLoop, QTimer


class EventLoopWaiter:
    """`wait(cond)` runs the event loop until `cond()` holds; `wake()` re-checks at once."""

    def __init__(self) -> None:
        self._loops: list[QEventLoop] = []

    def wait(self, cond: Callable[[], bool], seconds: float = 60) -> None:
        end = time.monotonic() + seconds
        while not cond():
            loop = QEventLoop()
            self._loops.append(loop)
            QTimer.singleShot(20, loop.quit)
            loop.exec()
            self._loops.remove(loop)
            if time.monotonic() > end:
                raise TimeoutError("timed out")

    def wake(self) -> None:
        for loop in self._loops:
            loop.quit()
