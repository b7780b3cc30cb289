"""The lock panel: what it shows, what it emits, and that secrets do not linger in it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLayout, QLineEdit, QPushButton, QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from cpdesk.records import UserInfo
from cpdesk.ui.lockscreen import PANEL_PT, LockScreen, format_locked_at

USER = UserInfo("nurse.demo", "Sam Okafor", "practitioner", "Northgate General Hospital A&E")
LOCKED_AT = dt.datetime(2026, 11, 26, 14, 2, tzinfo=dt.UTC)


def host(qtbot: QtBot, child: QWidget) -> QWidget:
    """A top-level window that never pushes size hints (offscreen warns when it does)."""
    window = QWidget()
    layout = QVBoxLayout(window)
    layout.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
    layout.addWidget(child)
    qtbot.addWidget(window)
    window.resize(800, 600)
    window.show()
    qtbot.waitExposed(window)
    return window


@pytest.fixture
def panel(qtbot: QtBot) -> Iterator[LockScreen]:
    widget = LockScreen()
    widget.show_locked(USER, LOCKED_AT)
    window = host(qtbot, widget)
    yield widget
    window.close()


def visible_text(root: QWidget) -> str:
    texts = []
    for widget in root.findChildren(QWidget):
        if not widget.isVisibleTo(root):
            continue
        if isinstance(widget, QLabel | QPushButton):
            texts.append(widget.text())
    return "\n".join(texts)


def test_shows_app_user_and_time(panel: LockScreen) -> None:
    text = visible_text(panel)
    assert "cpdesk" in text
    assert "Sam Okafor" in text
    assert "Northgate General Hospital A&E" in text
    assert format_locked_at(LOCKED_AT) in text
    assert panel.password.isVisible()
    assert not panel.pin.isVisible()


def test_locked_at_is_local_hours_and_minutes() -> None:
    local = LOCKED_AT.astimezone()
    assert format_locked_at(LOCKED_AT) == f"Locked at {local:%H:%M}"


def test_enter_submits_the_password_and_clears_it(panel: LockScreen, qtbot: QtBot) -> None:
    qtbot.keyClicks(panel.password, "demo-pass-2026")
    with qtbot.waitSignal(panel.unlock_requested) as blocker:
        qtbot.keyClick(panel.password, Qt.Key.Key_Return)
    assert blocker.args == ["demo-pass-2026"]
    assert panel.password.text() == ""


def test_unlock_button_submits(panel: LockScreen, qtbot: QtBot) -> None:
    panel.password.setText("x")
    with qtbot.waitSignal(panel.unlock_requested):
        qtbot.mouseClick(panel.unlock_button, Qt.MouseButton.LeftButton)


def test_empty_password_asks_for_one(panel: LockScreen, qtbot: QtBot) -> None:
    with qtbot.assertNotEmitted(panel.unlock_requested):
        qtbot.mouseClick(panel.unlock_button, Qt.MouseButton.LeftButton)
    assert "Enter your password" in panel.message.text()
    assert panel.message.isVisible()


def test_pin_when_allowed(panel: LockScreen, qtbot: QtBot) -> None:
    panel.show_locked(USER, LOCKED_AT, allow_pin=True)
    assert panel.pin.isVisible()
    qtbot.keyClicks(panel.pin, "4821")
    with qtbot.waitSignal(panel.pin_unlock_requested) as blocker:
        qtbot.keyClick(panel.pin, Qt.Key.Key_Return)
    assert blocker.args == ["4821"]
    assert panel.pin.text() == ""


def test_pin_ignored_when_not_allowed(panel: LockScreen, qtbot: QtBot) -> None:
    panel.pin.setText("4821")  # hidden field: must never unlock
    panel.password.setText("pw")
    with (
        qtbot.assertNotEmitted(panel.pin_unlock_requested),
        qtbot.waitSignal(panel.unlock_requested),
    ):
        panel.unlock_button.click()
    assert panel.pin.text() == ""


def test_sign_out_button(panel: LockScreen, qtbot: QtBot) -> None:
    with qtbot.waitSignal(panel.sign_out_requested):
        qtbot.mouseClick(panel.sign_out_button, Qt.MouseButton.LeftButton)


def test_checking_disables_inputs_and_messages(panel: LockScreen) -> None:
    panel.set_checking(True)
    assert not panel.password.isEnabled()
    assert not panel.unlock_button.isEnabled()
    assert panel.sign_out_button.isEnabled()  # signing out is always possible
    assert panel.message.text() == "Checking…"
    panel.set_checking(False)
    panel.show_message("The password is not right. 4 tries left.")
    assert panel.password.isEnabled()
    assert panel.message.property("role") == "error"
    panel.show_message("Checking", error=False)
    assert panel.message.property("role") == "hint"


def test_new_lock_resets_everything(panel: LockScreen) -> None:
    panel.password.setText("half-typed")
    panel.show_message("old")
    panel.show_locked(USER, LOCKED_AT + dt.timedelta(minutes=5))
    assert panel.password.text() == ""
    assert not panel.message.isVisible()
    assert format_locked_at(LOCKED_AT + dt.timedelta(minutes=5)) in visible_text(panel)


def test_empty_panel_before_first_lock(qtbot: QtBot) -> None:
    panel = LockScreen()
    qtbot.addWidget(panel)
    assert panel.user_label.text() == ""
    assert panel.locked_label.text() == ""


def test_every_input_and_button_has_an_accessible_name(panel: LockScreen) -> None:
    for widget in panel.findChildren(QLineEdit) + panel.findChildren(QPushButton):
        assert widget.accessibleName(), widget
    assert panel.accessibleName() == "cpdesk is locked"


def test_font_is_large(panel: LockScreen) -> None:
    assert panel.font().pointSize() >= PANEL_PT
    assert panel.password.font().pointSize() >= PANEL_PT
