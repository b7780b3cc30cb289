"""Idle detection counts real input only: keys, mouse, wheel, touch; not timers or paints."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QObject, QPoint, Qt, QTimer
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QLineEdit
from pytestqt.qtbot import QtBot

from cpdesk.clock import FakeClock, SystemClock
from cpdesk.records import UserInfo
from cpdesk.session import Session, SessionState
from cpdesk.ui.activity import INPUT_EVENTS, ActivityFilter, Ticker


class Counter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


@pytest.fixture
def counter(qapp: QApplication) -> Iterator[tuple[Counter, ActivityFilter]]:
    counter = Counter()
    activity = ActivityFilter(counter)
    activity.install()
    yield counter, activity
    activity.uninstall()


@pytest.fixture
def edit(qtbot: QtBot) -> QLineEdit:
    widget = QLineEdit()
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_key_press_counts(
    counter: tuple[Counter, ActivityFilter], edit: QLineEdit, qtbot: QtBot
) -> None:
    c, _ = counter
    qtbot.keyClick(edit, Qt.Key.Key_A)
    assert c.count > 0
    assert edit.text() == "a"  # observed, not swallowed


def test_mouse_click_and_move_count(
    counter: tuple[Counter, ActivityFilter], edit: QLineEdit, qtbot: QtBot
) -> None:
    c, _ = counter
    qtbot.mouseClick(edit, Qt.MouseButton.LeftButton)
    clicks = c.count
    assert clicks > 0
    qtbot.mouseMove(edit, QPoint(5, 5))
    qtbot.mouseMove(edit, QPoint(15, 8))
    assert c.count > clicks


def test_timers_paints_and_posted_events_do_not_count(
    counter: tuple[Counter, ActivityFilter], edit: QLineEdit, qtbot: QtBot
) -> None:
    c, _ = counter
    fired: list[bool] = []
    QTimer.singleShot(0, lambda: fired.append(True))
    qtbot.waitUntil(lambda: bool(fired))
    edit.repaint()
    edit.update()
    edit.setText("changed by the app")
    # A key event the app sends itself is not the user.
    QCoreApplication.sendEvent(
        edit, QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_B, Qt.KeyboardModifier.NoModifier, "b")
    )
    QCoreApplication.processEvents()
    assert c.count == 0


class FakeEvent:
    def __init__(self, kind: QEvent.Type, spontaneous: bool = True) -> None:
        self._kind = kind
        self._spontaneous = spontaneous

    def type(self) -> QEvent.Type:
        return self._kind

    def spontaneous(self) -> bool:
        return self._spontaneous


@pytest.mark.parametrize(
    "kind",
    [
        QEvent.Type.Wheel,
        QEvent.Type.TouchBegin,
        QEvent.Type.TouchUpdate,
        QEvent.Type.TouchEnd,
        QEvent.Type.TabletMove,
        QEvent.Type.MouseMove,
        QEvent.Type.KeyPress,
    ],
)
def test_every_input_kind_counts(qapp: QApplication, kind: QEvent.Type) -> None:
    c = Counter()
    activity = ActivityFilter(c)
    assert activity.eventFilter(QObject(), FakeEvent(kind)) is False  # type: ignore[arg-type]
    assert c.count == 1
    activity.eventFilter(QObject(), FakeEvent(kind, spontaneous=False))  # type: ignore[arg-type]
    assert c.count == 1


@pytest.mark.parametrize(
    "kind",
    [
        QEvent.Type.Timer,
        QEvent.Type.Paint,
        QEvent.Type.UpdateRequest,
        QEvent.Type.Show,
        QEvent.Type.FocusIn,
        QEvent.Type.WindowActivate,
        QEvent.Type.Enter,
    ],
)
def test_non_input_events_never_count(qapp: QApplication, kind: QEvent.Type) -> None:
    assert kind not in INPUT_EVENTS
    c = Counter()
    ActivityFilter(c).eventFilter(QObject(), FakeEvent(kind))  # type: ignore[arg-type]
    assert c.count == 0


def test_uninstall_stops_reporting(
    counter: tuple[Counter, ActivityFilter], edit: QLineEdit, qtbot: QtBot
) -> None:
    c, activity = counter
    activity.uninstall()
    activity.uninstall()  # twice is fine
    qtbot.keyClick(edit, Qt.Key.Key_A)
    assert c.count == 0
    activity.install(QApplication.instance())
    activity.install()  # re-install does not double-count
    qtbot.keyClick(edit, Qt.Key.Key_A)
    once = c.count
    assert once > 0


def test_install_needs_an_application(monkeypatch: pytest.MonkeyPatch, qapp: QApplication) -> None:
    monkeypatch.setattr(QCoreApplication, "instance", staticmethod(lambda: None))
    with pytest.raises(RuntimeError):
        ActivityFilter(Counter()).install()


def test_ticker_calls_back_on_a_timer(qtbot: QtBot) -> None:
    c = Counter()
    ticker = Ticker(c, interval_ms=10)
    assert not ticker.active
    ticker.start()
    assert ticker.active
    qtbot.waitUntil(lambda: c.count >= 2, timeout=5000)
    ticker.stop()
    assert not ticker.active


def test_ticker_ticks_when_the_app_becomes_active(qapp: QApplication) -> None:
    c = Counter()
    ticker = Ticker(c, interval_ms=60_000)
    ticker._state_changed(Qt.ApplicationState.ApplicationActive)
    assert c.count == 0  # not started: nothing
    ticker.start()
    ticker._state_changed(Qt.ApplicationState.ApplicationInactive)
    assert c.count == 0
    ticker._state_changed(Qt.ApplicationState.ApplicationActive)
    assert c.count == 1
    ticker.stop()


def test_ticker_fires_on_a_deadline_closer_than_a_tick(qtbot: QtBot) -> None:
    """The idle lock is not up to a tick late: a precise one-shot fires on the deadline."""
    answers = iter([0.05])
    calls: list[int] = []

    def tick() -> float | None:
        calls.append(1)
        return next(answers, None)

    ticker = Ticker(tick, interval_ms=60_000)
    ticker.start()
    ticker._tick()  # 50 ms to the deadline: closer than a tick
    qtbot.waitUntil(lambda: len(calls) == 2, timeout=5000)  # not a minute later
    ticker.stop()


USER = UserInfo("nurse.demo", "Sam Okafor", "practitioner", "Northgate General Hospital A&E")


def test_real_input_keeps_the_session_alive_and_idle_locks_it(
    edit: QLineEdit, qtbot: QtBot
) -> None:
    """Filter + ticker + session, as the app wires them; time moved by hand."""
    clock = FakeClock()
    session = Session(clock, idle_lock_seconds=0.3, lock_to_logout_seconds=60)
    activity = ActivityFilter(session.activity)
    activity.install()
    session.sign_in(USER)
    clock.advance(0.2)
    qtbot.keyClick(edit, Qt.Key.Key_A)  # real input: the idle deadline moves
    clock.advance(0.2)
    session.tick()
    assert session.state is SessionState.ACTIVE
    edit.repaint()  # not input
    clock.advance(0.1)
    session.tick()
    assert session.state is SessionState.LOCKED
    activity.uninstall()


def test_idle_lock_with_the_real_clock(qtbot: QtBot) -> None:
    session = Session(SystemClock(), idle_lock_seconds=0.2, lock_to_logout_seconds=60)
    ticker = Ticker(session.tick, interval_ms=20)
    session.sign_in(USER)
    ticker.start()
    qtbot.waitUntil(lambda: session.state is SessionState.LOCKED, timeout=5000)
    ticker.stop()
