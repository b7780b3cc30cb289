"""Application-wide idle detection: only real user input counts as activity.

One event filter on the QApplication sees every event for every object. It reports keys,
mouse buttons, movement, wheel, touch and tablet input, and only when the event came
from the window system (`spontaneous()`): timers, network replies, repaints and events
the app posts to itself never keep a session alive. It only *reports*; the Session
decides what activity means (KeePassXC's InactivityTimer does the same).

Signals: none. The callback is plain Python (`Session.activity`), called synchronously.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QEvent, QObject

__all__ = ["INPUT_EVENTS", "ActivityFilter"]

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
