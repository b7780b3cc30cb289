"""Application-wide idle detection: only real user input counts as activity.

One event filter on the QApplication sees every event for every object. It reports keys,
mouse buttons, movement, wheel, touch and tablet input, and only when the event came
from the window system (`spontaneous()`): timers, network replies, repaints and events
the app posts to itself never keep a session alive. It only *reports*; the Session
decides what activity means (KeePassXC's InactivityTimer does the same).

Signals: none. The callback is plain Python (`Session.activity`), called synchronously.
`Ticker` drives the controller's tick (`Session.tick` and the time shown) from a QTimer,
on the idle deadline, and again whenever the app becomes active (after a wake the timer
may be late by the whole sleep).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QGuiApplication

__all__ = ["INPUT_EVENTS", "TICK_MS", "ActivityFilter", "Ticker"]

TICK_MS = 250

_T = QEvent.Type
INPUT_EVENTS = frozenset(
    {
        _T.KeyPress,
        _T.KeyRelease,
        _T.MouseButtonPress,
        _T.MouseButtonRelease,
        _T.MouseButtonDblClick,
        _T.MouseMove,
        _T.NonClientAreaMouseButtonPress,
        _T.NonClientAreaMouseMove,
        _T.Wheel,
        _T.TouchBegin,
        _T.TouchUpdate,
        _T.TouchEnd,
        _T.TabletPress,
        _T.TabletMove,
        _T.TabletRelease,
        _T.InputMethod,
    }
)


class ActivityFilter(QObject):
    """Calls `on_activity()` for each real input event anywhere in the application."""

    def __init__(self, on_activity: Callable[[], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._on_activity = on_activity
        self._app: QCoreApplication | None = None

    def install(self, app: QCoreApplication | None = None) -> None:
        """Start watching `app` (default: the running application)."""
        app = app or QCoreApplication.instance()
        if app is None:
            raise RuntimeError("no QApplication to watch")
        self.uninstall()
        app.installEventFilter(self)
        self._app = app

    def uninstall(self) -> None:
        if self._app is not None:
            self._app.removeEventFilter(self)
            self._app = None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in INPUT_EVENTS and event.spontaneous():
            self._on_activity()
        return False  # observe only: never swallow input


class Ticker(QObject):
    """Calls `on_tick()` every `interval_ms`, when the application becomes active again,
    and on the idle deadline itself.

    Activation: after a resume the timer may be late by the whole sleep, and the check for
    a missed suspend signal must run at once, not at the next tick. Deadline: `on_tick`
    returns the seconds to the next deadline (or None); once that is closer than a tick,
    a precise one-shot fires on it, so the lock is not up to a tick late.
    """

    def __init__(
        self,
        on_tick: Callable[[], float | None],
        interval_ms: int = TICK_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._on_tick = on_tick
        self._interval_ms = interval_ms
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)
        self._deadline = QTimer(self)
        self._deadline.setSingleShot(True)
        self._deadline.setTimerType(Qt.TimerType.PreciseTimer)
        self._deadline.timeout.connect(self._tick)
        app = QCoreApplication.instance()
        if isinstance(app, QGuiApplication):
            app.applicationStateChanged.connect(self._state_changed)

    def start(self) -> None:
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        self._deadline.stop()

    @property
    def active(self) -> bool:
        return self._timer.isActive()

    def _tick(self) -> None:
        left = self._on_tick()
        if left is None or self._deadline.isActive():
            return
        left_ms = left * 1000
        if left_ms < self._interval_ms + 50:
            self._deadline.start(math.ceil(left_ms))

    def _state_changed(self, state: Qt.ApplicationState) -> None:
        if state == Qt.ApplicationState.ApplicationActive and self._timer.isActive():
            self._tick()
