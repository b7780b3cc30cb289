"""Privacy screen against a fake API: PIN unlock, nothing vetoes a lock, clipboard, fail closed.

Real widgets, real key presses (QTest marks them spontaneous, as the window system does),
a fake index that can stall (`FakeApi.gate`) and a fake clock where time matters.
"""

from __future__ import annotations

import logging
import threading

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QClipboard, QGuiApplication
from PySide6.QtWidgets import QApplication, QDialog, QMenu, QPushButton

from cpdesk.app import Connection, build_app
from cpdesk.clock import FakeClock
from cpdesk.controller import RELOCKED_MESSAGE
from cpdesk.platform import FAIL_CLOSED_IDLE_SECONDS
from cpdesk.platform.base import CallbackList, LockCallback
from cpdesk.platform.null import NullCaptureGuard, NullLockListener
from cpdesk.policy import load_policy
from cpdesk.session import LockReason, SessionState
from cpdesk.ui.clipboard import SensitiveClipboard
from cpdesk.ui.lockscreen import LockScreen, PinDialog
from cpdesk.ui.main_window import LOCKED_TITLE, MainWindow
from cpdesk.ui.reason_dialog import ReasonDialog
from cpdesk.ui.settings_dialog import build_settings_dialog
from cpdesk.ui.theme import apply_theme
from tests.cpdesk.ui.fakes import (
    FakeApi,
    build_window,
    gc_on_gui_thread,  # noqa: F401
)
from tests.cpdesk.ui.test_main_window import open_first, search, signed_in, visible_texts

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

CHILD_TEXT = ("Olivia", "Zebedeeson", "07700 900123", "Hannah", "LS6 2QB", "14 Mar")


class FakeLockListener:
    """A LockListener whose OS signals the test fires by hand; `sources` may be empty."""

    def __init__(self, sources: tuple[str, ...] = ()) -> None:
        self._sources = sources
        self._callbacks = CallbackList()

    @property
    def sources(self) -> tuple[str, ...]:
        return self._sources

    @property
    def detects_screen_lock(self) -> bool:
        return bool(self._sources)

    def subscribe(self, callback: LockCallback) -> None:
        self._callbacks.subscribe(callback)

    def close(self) -> None:
        return None

    def fire(self, reason: LockReason) -> None:
        self._callbacks.fire(reason)


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_window(qtbot, api, clock, tmp_path):
    apply_theme(QApplication.instance())
    made: list[MainWindow] = []
    policy = load_policy(tmp_path / "none", environ={})

    def factory(
        *,
        allow_pin: bool = False,
        clipboard: SensitiveClipboard | None = None,
        lock_on_focus_loss: bool = False,
    ):
        win = build_window(
            api,
            clock,
            copy=clipboard.copy if clipboard else None,
            clear_clipboard=clipboard.clear_now if clipboard else lambda: None,
            settings_factory=lambda parent: build_settings_dialog(
                policy,
                listener=NullLockListener(),
                idle_lock_seconds=60,
                guard=NullCaptureGuard(),
                capture_applied=None,
                parent=parent,
            ),
            allow_pin=allow_pin,
            lock_on_focus_loss=lock_on_focus_loss,
        )
        qtbot.addWidget(win)
        win.show()
        made.append(win)
        return win

    yield factory
    if api.gate is not None:
        api.gate.set()
    for win in made:
        win.runner.wait()
        win.auth_runner.wait()


def open_dialogs(win: MainWindow) -> list[QDialog]:
    return [d for d in win.findChildren(QDialog) if d.isVisible()]


def ctrl_l(qtbot, widget) -> None:
    qtbot.keyClick(widget, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)


def assert_privacy_screen(win: MainWindow) -> None:
    assert win.session.state is SessionState.LOCKED
    assert win.windowTitle() == LOCKED_TITLE
    assert win.work is None
    assert isinstance(win.pages.currentWidget(), LockScreen)
    assert not open_dialogs(win)
    text = visible_texts(win)
    for secret in CHILD_TEXT:
        assert secret not in text


# -- PIN unlock ---------------------------------------------------------------------------


def set_pin(qtbot, win: MainWindow, pin: str = "2468") -> None:
    dialog = win.findChild(PinDialog)
    assert dialog is not None and dialog.isVisible()
    qtbot.keyClicks(dialog.pin, pin)
    qtbot.keyClicks(dialog.again, pin)
    qtbot.mouseClick(dialog.set_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: win.controller.pin_is_set)  # hashed on the auth worker


def enter_pin(qtbot, win: MainWindow, pin: str) -> None:
    """Type a PIN and wait for its check (scrypt, on the auth worker)."""
    panel = win.lock_panel
    assert isinstance(panel, LockScreen)
    qtbot.keyClicks(panel.pin, pin)
    qtbot.keyClick(panel.pin, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not win.auth_runner.busy)


def test_pin_set_after_sign_in_unlocks_locally_and_is_gone_after_sign_out(
    qtbot, make_window, api
) -> None:
    win = make_window(allow_pin=True)
    signed_in(qtbot, win)
    set_pin(qtbot, win)
    search(qtbot, win)
    open_first(qtbot, win)
    calls = len(api.calls)
    ctrl_l(qtbot, win.work.record)
    assert_privacy_screen(win)
    panel = win.lock_panel
    assert panel.pin.isVisibleTo(win) and panel.password.isVisibleTo(win)
    assert panel.hint.text() == (
        "Enter your PIN or password to carry on where you left off. "
        "If nobody unlocks it, cpdesk signs out at "
        f"{win.session.signs_out_at.astimezone():%H:%M}."
    )
    enter_pin(qtbot, win, "1111")
    assert win.session.state is SessionState.LOCKED
    assert "PIN is not right. 4 tries left" in panel.message.text()
    enter_pin(qtbot, win, "2468")
    assert win.session.state is SessionState.ACTIVE
    assert "Hannah Zebedeeson" in visible_texts(win)  # redrawn from memory
    assert api.calls[calls:] == []  # no server call, no new audited fetch
    win.work.sign_out_button.click()
    assert not win.controller.pin_is_set
    signed_in(qtbot, win)
    assert win.findChild(PinDialog) is not None  # a new sign-in offers a new PIN


def test_the_pin_is_hashed_and_checked_off_the_gui_thread(qtbot, make_window, monkeypatch) -> None:
    """scrypt is slow on purpose: the GUI thread must keep drawing (and locking) meanwhile."""
    import hashlib

    on_gui_thread: list[bool] = []
    real_scrypt = hashlib.scrypt

    def spy(*args, **kwargs):
        on_gui_thread.append(threading.current_thread() is threading.main_thread())
        return real_scrypt(*args, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", spy)
    win = make_window(allow_pin=True)
    signed_in(qtbot, win)
    set_pin(qtbot, win)
    win.session.lock(LockReason.MANUAL)
    enter_pin(qtbot, win, "1111")
    enter_pin(qtbot, win, "2468")
    assert win.session.state is SessionState.ACTIVE
    assert on_gui_thread == [False, False, False]  # set, wrong try, right try


def test_five_wrong_pins_sign_out(qtbot, make_window) -> None:
    win = make_window(allow_pin=True)
    signed_in(qtbot, win)
    set_pin(qtbot, win)
    win.session.lock(LockReason.MANUAL)
    for _ in range(5):
        enter_pin(qtbot, win, "9999")
    assert win.session.state is SessionState.SIGNED_OUT
    assert "too many wrong" in win.signin.notice.text()
    assert not win.controller.pin_is_set


def test_pin_dialog_refuses_bad_pins_and_can_be_skipped(qtbot, make_window) -> None:
    win = make_window(allow_pin=True)
    signed_in(qtbot, win)
    dialog = win.findChild(PinDialog)
    for pin, again, message in (("12", "12", "4 to 12 digits"), ("1234", "1235", "not the same")):
        qtbot.keyClicks(dialog.pin, pin)
        qtbot.keyClicks(dialog.again, again)
        qtbot.mouseClick(dialog.set_button, Qt.MouseButton.LeftButton)
        assert message in dialog.message.text()
        assert dialog.pin.text() == dialog.again.text() == ""
    qtbot.mouseClick(dialog.skip_button, Qt.MouseButton.LeftButton)
    assert not win.controller.pin_is_set
    win.session.lock(LockReason.MANUAL)
    assert not win.lock_panel.pin.isVisibleTo(win)  # no PIN set: password only


def test_no_pin_offered_when_policy_does_not_allow_it(qtbot, make_window) -> None:
    win = make_window(allow_pin=False)
    signed_in(qtbot, win)
    assert win.findChild(PinDialog) is None
    win.session.lock(LockReason.MANUAL)
    assert not win.lock_panel.pin.isVisibleTo(win)


# -- triggers ------------------------------------------------------------------------------


def test_the_toolbar_lock_button_locks(qtbot, make_window) -> None:
    win = make_window()
    signed_in(qtbot, win)
    search(qtbot, win)
    open_first(qtbot, win)
    qtbot.mouseClick(win.work.lock_button, Qt.MouseButton.LeftButton)
    assert_privacy_screen(win)
    assert win.session.lock_reason is LockReason.MANUAL


@pytest.mark.parametrize("policy_on", [True, False])
def test_focus_loss_locks_only_when_policy_says_so(qtbot, make_window, policy_on) -> None:
    win = make_window(lock_on_focus_loss=policy_on)
    signed_in(qtbot, win)
    app = QApplication.instance()
    app.focusWindowChanged.emit(win.windowHandle())  # focus moves inside cpdesk: no lock
    assert win.session.state is SessionState.ACTIVE
    app.focusWindowChanged.emit(None)  # what Qt reports when another app takes focus
    expected = SessionState.LOCKED if policy_on else SessionState.ACTIVE
    assert win.session.state is expected


# -- nothing vetoes or delays a lock -------------------------------------------------------


def test_ctrl_l_in_a_half_typed_reason_dialog_locks_at_once(qtbot, make_window) -> None:
    win = make_window()
    signed_in(qtbot, win)
    search(qtbot, win)
    qtbot.keyClick(win.work.results.table, Qt.Key.Key_Return)
    dialog = win.findChild(ReasonDialog)
    qtbot.keyClicks(dialog.text, "Called by the ward about Oliv")
    ctrl_l(qtbot, dialog.text)  # typed into the modal dialog itself
    assert_privacy_screen(win)
    assert win.findChild(ReasonDialog) is None


def test_ctrl_l_in_the_settings_dialog_locks_at_once(qtbot, make_window) -> None:
    win = make_window()
    signed_in(qtbot, win)
    search(qtbot, win)
    win.work.settings_button.click()
    (dialog,) = open_dialogs(win)
    ctrl_l(qtbot, dialog.table)
    assert_privacy_screen(win)


@pytest.mark.qt_log_ignore("This plugin does not support (raise|grabbing)")
def test_lock_closes_menus_and_dialogs_that_are_not_children_of_the_window(
    qtbot, make_window
) -> None:
    win = make_window()
    signed_in(qtbot, win)
    search(qtbot, win)
    menu = QMenu(win.work.results.table)
    menu.addAction("Copy Olivia Zebedeeson")
    menu.popup(win.mapToGlobal(win.rect().center()))
    qtbot.waitUntil(lambda: QApplication.activePopupWidget() is menu)
    stray = QDialog()  # e.g. a message box someone opened without a parent
    stray.setWindowTitle("Olivia Zebedeeson")
    stray.show()
    win.session.lock(LockReason.OS_LOCK)
    assert QApplication.activePopupWidget() is None
    assert not menu.isVisible() and not stray.isVisible()


def test_panic_key_inside_a_dialog_locks(qtbot, make_window, clock) -> None:
    win = make_window()
    signed_in(qtbot, win)
    search(qtbot, win)
    qtbot.keyClick(win.work.results.table, Qt.Key.Key_Return)
    dialog = win.findChild(ReasonDialog)
    qtbot.keyClick(dialog.text, Qt.Key.Key_Escape)  # first Esc closes the dialog
    clock.advance(0.2)
    qtbot.keyClick(win.work.results.table, Qt.Key.Key_Escape)
    assert_privacy_screen(win)


def test_a_search_in_flight_neither_delays_the_lock_nor_draws_after_it(
    qtbot, make_window, api
) -> None:
    win = make_window()
    signed_in(qtbot, win)
    api.gate = threading.Event()
    form = win.work.form
    form.given.setText("Olivia")
    form.family.setText("Zebedeeson")
    form.dob.day.setText("14/3/2011")
    form.dob.day.textEdited.emit("14/3/2011")
    qtbot.keyClick(form.family, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: any(c[0] == "search" for c in api.calls))
    assert win.runner.busy
    ctrl_l(qtbot, form.family)
    assert_privacy_screen(win)  # the same turn: nothing waited for the stalled call
    api.gate.set()  # the answer arrives after the lock
    assert win.runner.wait(5000)
    qtbot.wait(50)  # let the queued answer reach the GUI thread
    assert_privacy_screen(win)
    assert win.controller.state.results is None  # dropped, not kept for the redraw


def test_an_unlock_in_flight_when_the_app_relocks_does_not_unlock(qtbot, make_window, api) -> None:
    win = make_window()
    signed_in(qtbot, win)
    win.session.lock(LockReason.MANUAL)
    api.gate = threading.Event()
    panel = win.lock_panel
    qtbot.keyClicks(panel.password, "right")
    qtbot.keyClick(panel.password, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: ("unlock", None) in api.calls)
    ctrl_l(qtbot, panel)  # locked again while the server checks the right password
    api.gate.set()
    qtbot.waitUntil(lambda: not win.auth_runner.busy)
    assert_privacy_screen(win)
    assert win.lock_panel.message.text() == RELOCKED_MESSAGE
    qtbot.keyClicks(win.lock_panel.password, "right")  # a new attempt still works
    qtbot.keyClick(win.lock_panel.password, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: win.session.state is SessionState.ACTIVE)


def test_an_os_lock_during_an_unlock_check_wins(qtbot, make_window, api) -> None:
    win = make_window()
    signed_in(qtbot, win)
    win.session.lock(LockReason.MANUAL)
    api.gate = threading.Event()
    win.lock_panel.password.setText("right")
    win.lock_panel.password.returnPressed.emit()
    qtbot.waitUntil(lambda: ("unlock", None) in api.calls)
    win.session.lock(LockReason.OS_LOCK)  # what a listener does
    api.gate.set()
    qtbot.waitUntil(lambda: not win.auth_runner.busy)
    assert win.session.state is SessionState.LOCKED


# -- clipboard -----------------------------------------------------------------------------


@pytest.fixture
def clipboard(qapp) -> QClipboard:
    board = QGuiApplication.clipboard()
    board.clear()
    return board


def copy_mother_phone(qtbot, win: MainWindow) -> None:
    button = next(
        b
        for b in win.work.record.findChildren(QPushButton)
        if b.accessibleName() == "Copy phone number of Mother"
    )
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


@pytest.mark.parametrize("how", ["lock", "sign-out", "timer"])
def test_a_copied_phone_number_is_cleared(qtbot, make_window, clipboard, how: str) -> None:
    seconds = 0.2 if how == "timer" else 60
    win = make_window(clipboard=SensitiveClipboard(seconds))
    signed_in(qtbot, win)
    search(qtbot, win)
    open_first(qtbot, win)
    copy_mother_phone(qtbot, win)
    assert clipboard.text() == "07700 900123"
    assert clipboard.mimeData().data("x-kde-passwordManagerHint").data() == b"secret"
    if how == "lock":
        ctrl_l(qtbot, win.work.record)
        assert clipboard.text() == ""  # same turn as the lock
    elif how == "sign-out":
        win.work.sign_out_button.click()
        assert clipboard.text() == ""
    else:
        qtbot.waitUntil(lambda: clipboard.text() == "", timeout=5000)
        assert win.session.state is SessionState.ACTIVE


# -- fail closed ---------------------------------------------------------------------------


def test_no_os_lock_signal_fails_closed_says_so_once_and_shows_it(
    qapp, qtbot, tmp_path, caplog
) -> None:
    policy = load_policy(tmp_path / "none", environ={})
    assert policy.idle_lock_seconds == 120
    caplog.set_level(logging.DEBUG)
    app = build_app(
        policy,
        Connection("https://127.0.0.1:9"),
        lock_listener_factory=lambda _: FakeLockListener(),
    )
    try:
        qtbot.addWidget(app.window)
        app.finish_start()  # what the first paint would trigger
        assert app.session.idle_lock_seconds == FAIL_CLOSED_IDLE_SECONDS == 60
        said = [r for r in caplog.records if "does not tell cpdesk" in r.getMessage()]
        assert len(said) == 1 and said[0].levelno == logging.WARNING
        assert "after 60 seconds without input" in said[0].getMessage()
        from cpdesk.records import UserInfo

        app.session.sign_in(UserInfo("u", "User", "practitioner", "Org"))
        app.window.show()
        app.window.work.settings_button.click()
        dialog = app.window.findChild(QDialog, "settingsDialog")
        assert "does not tell cpdesk when its screen locks" in dialog.lock_detection.text()
        assert "60 seconds" in dialog.lock_detection.text()
    finally:
        app.shutdown()


def test_an_os_lock_signal_keeps_the_policy_limit_and_locks_the_window(
    qapp, qtbot, tmp_path
) -> None:
    listener = FakeLockListener(("org.freedesktop.ScreenSaver.ActiveChanged",))
    policy = load_policy(tmp_path / "none", environ={})
    app = build_app(
        policy, Connection("https://127.0.0.1:9"), lock_listener_factory=lambda _: listener
    )
    try:
        qtbot.addWidget(app.window)
        app.window.show()
        qtbot.waitUntil(lambda: app.listener is listener)  # after the first paint
        assert app.session.idle_lock_seconds == 120
        from cpdesk.records import UserInfo

        app.session.sign_in(UserInfo("u", "User", "practitioner", "Org"))
        listener.fire(LockReason.SUSPEND)
        assert app.session.lock_reason is LockReason.SUSPEND
        assert app.window.windowTitle() == LOCKED_TITLE
    finally:
        app.shutdown()


def test_exit_clears_a_copied_number(qapp, qtbot, tmp_path, clipboard) -> None:
    policy = load_policy(tmp_path / "none", environ={})
    app = build_app(
        policy,
        Connection("https://127.0.0.1:9"),
        lock_listener_factory=lambda _: FakeLockListener(),
    )
    qtbot.addWidget(app.window)
    app.clipboard.copy("07700 900123")
    assert clipboard.text() == "07700 900123"
    app.shutdown()
    assert clipboard.text() == ""
