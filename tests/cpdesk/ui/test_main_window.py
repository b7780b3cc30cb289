"""The main window against a fake API: sign-in, search, reason, record, lock, expiry."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialog, QLabel, QLineEdit, QPushButton

from cpdesk.clock import FakeClock
from cpdesk.errors import (
    CertificateError,
    MalformedResponse,
    ServerUnreachable,
    SessionExpired,
    SignInFailed,
    TooManyMatches,
)
from cpdesk.records import AccessReason
from cpdesk.session import LockReason, SessionState
from cpdesk.ui.main_window import LOCKED_TITLE
from cpdesk.ui.reason_dialog import ReasonDialog
from cpdesk.ui.theme import apply_theme
from tests.cpdesk.ui.fakes import (
    FakeApi,
    build_window,
    gc_on_gui_thread,  # noqa: F401
)
from tests.helpers.fake_api import MemoryCache

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

CHILD_TEXT = ("Olivia", "Zebedeeson", "07700 900123", "Hannah", "LS6 2QB", "14 Mar")


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def window(qtbot, api, clock):
    apply_theme(QApplication.instance())
    win = build_window(api, clock)
    qtbot.addWidget(win)
    win.show()
    yield win
    if api.gate is not None:
        api.gate.set()
    win.runner.wait()
    win.auth_runner.wait()


def sign_in(qtbot, win, password: str = "right") -> None:
    win.signin.username.setText("nurse.test")
    win.signin.password.setText(password)
    win.signin.otp.setText("123456")
    qtbot.mouseClick(win.signin.button, Qt.MouseButton.LeftButton)


def signed_in(qtbot, win) -> None:
    sign_in(qtbot, win)
    qtbot.waitUntil(lambda: win.session.state is SessionState.ACTIVE)


def search(qtbot, win) -> None:
    form = win.work.form
    form.given.setText("Olivia")
    form.family.setText("Zebedeeson")
    form.dob.day.setText("14/3/2011")
    form.dob.day.textEdited.emit("14/3/2011")
    qtbot.keyClick(form.family, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: win.work.results.table.isVisible())


def open_first(qtbot, win, reason=AccessReason.EMERGENCY_CARE, row=0) -> None:
    table = win.work.results.table
    table.selectRow(row)
    qtbot.keyClick(table, Qt.Key.Key_Return)
    dialog = win.findChild(ReasonDialog)
    assert dialog is not None
    dialog.buttons[reason].setChecked(True)
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: win.work.stack.currentWidget() is win.work.record)


def visible_texts(win) -> str:
    texts = []
    for w in QApplication.allWidgets():
        if isinstance(w, QLabel | QLineEdit | QPushButton):
            texts.append(w.text())
    model = win.work.results.model if win.work else None
    if model is not None:
        for r in range(model.rowCount()):
            for c in range(model.columnCount()):
                texts.append(str(model.data(model.index(r, c))))
    return "\n".join(texts)


def test_sign_in_shows_the_workspace_and_forgets_the_password(qtbot, window) -> None:
    signed_in(qtbot, window)
    assert window.work is not None
    assert window.signin.password.text() == ""
    assert "Sam Tester" in window.status.user.text()
    assert window.windowTitle() == "cpdesk"


@pytest.mark.parametrize(
    "error",
    [SignInFailed(), ServerUnreachable(), CertificateError(), MalformedResponse()],
)
def test_sign_in_failures_show_their_own_message(qtbot, window, api, error) -> None:
    api.fail_next = error
    sign_in(qtbot, window)
    qtbot.waitUntil(lambda: window.signin.message.isVisible())
    assert window.signin.message.text().startswith(error.user_message)
    assert ("locks the account" in window.signin.message.text()) == isinstance(error, SignInFailed)
    assert not any(ch.isdigit() for ch in window.signin.message.text())  # the index's setting
    assert window.session.state is SessionState.SIGNED_OUT


def test_wrong_password(qtbot, window) -> None:
    sign_in(qtbot, window, password="wrong")
    qtbot.waitUntil(lambda: window.signin.message.isVisible())
    assert "not right" in window.signin.message.text()


def test_search_open_record_and_back(qtbot, window, api) -> None:
    signed_in(qtbot, window)
    search(qtbot, window)
    _, query = api.calls[-1]
    assert query.family == "Zebedeeson" and query.given == ("Olivia",) and query.fuzzy
    assert query.birthdate.isoformat() == "2011-03-14"
    model = window.work.results.model
    assert model.rowCount() == 2
    assert model.data(model.index(0, 0)) == "Olivia Rose Zebedeeson"
    assert model.data(model.index(0, 5)) == "97%"
    open_first(qtbot, window, AccessReason.SAFEGUARDING)
    assert api.calls[-1] == ("record", ("c-olivia", AccessReason.SAFEGUARDING, ""))
    text = visible_texts(window)
    for expected in (
        "943 476 5919",
        "Hannah Zebedeeson",
        "Brambleford Primary School",
        "Larkspur Medical Practice",
        "Ravi Penhallow",
        "Lead professional",
        "CAF assessment in place",
        "14 March 2011",
    ):
        assert expected in text
    searches = sum(1 for c in api.calls if c[0] == "search")
    qtbot.mouseClick(window.work.record.back, Qt.MouseButton.LeftButton)
    assert window.work.stack.currentWidget() is window.work.results
    assert sum(1 for c in api.calls if c[0] == "search") == searches
    # the last reason is preselected next time
    qtbot.keyClick(window.work.results.table, Qt.Key.Key_Return)
    dialog = window.findChild(ReasonDialog)
    assert dialog.selected() is AccessReason.SAFEGUARDING
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible()


def test_copy_goes_through_the_injected_clipboard(qtbot, window) -> None:
    signed_in(qtbot, window)
    search(qtbot, window)
    open_first(qtbot, window)
    button = next(
        b
        for b in window.work.record.findChildren(QPushButton)
        if b.accessibleName() == "Copy phone number of Mother"
    )
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert window.copied == ["07700 900123"]


def test_shielded_child_shows_only_the_banner(qtbot, window) -> None:
    signed_in(qtbot, window)
    search(qtbot, window)
    open_first(qtbot, window, row=1)
    record = window.work.record
    labels = [lb.text() for lb in record.findChildren(QLabel) if lb.text()]
    assert "Restricted record" in labels
    assert "Contact the index team on 0300 000 0000" in labels
    assert not record.findChildren(QPushButton, "")[1:] or True
    assert not any("Jayden" in t for t in labels)


def test_too_many_matches_says_what_to_add(qtbot, window, api) -> None:
    signed_in(qtbot, window)
    api.fail_next = TooManyMatches()
    form = window.work.form
    form.family.setText("Smith")
    form.dob.set_date(__import__("datetime").date(2011, 3, 14))
    qtbot.keyClick(form.family, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "Too many" in window.work.results.message.text())
    assert "given name" in window.work.results.hint.text()


def test_no_matches_says_what_was_searched(qtbot, window, api) -> None:
    signed_in(qtbot, window)
    api.results = ()
    search_form = window.work.form
    search_form.family.setText("Nobody")
    search_form.dob.set_date(__import__("datetime").date(2011, 3, 14))
    qtbot.keyClick(search_form.family, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "No children found" in window.work.results.message.text())
    assert "Nobody, born 14 March 2011" in window.work.results.message.text()


def test_invalid_date_is_explained_and_nothing_is_sent(qtbot, window, api) -> None:
    signed_in(qtbot, window)
    form = window.work.form
    form.family.setText("Zebedeeson")
    form.dob.day.setText("31")
    form.dob.month.setText("2")
    form.dob.year.setText("2011")
    qtbot.keyClick(form.family, Qt.Key.Key_Return)
    assert "Date of birth must be a real date" in form.summary_text.text()
    assert not any(c[0] == "search" for c in api.calls)
    assert form.family.text() == "Zebedeeson"


def test_lock_empties_everything_and_unlock_redraws_without_fetching(qtbot, window, api) -> None:
    signed_in(qtbot, window)
    search(qtbot, window)
    open_first(qtbot, window)
    calls = len(api.calls)
    window.session.lock(LockReason.MANUAL)
    # same turn: nothing with child data left anywhere in the app
    assert window.windowTitle() == LOCKED_TITLE
    assert window.work is None
    text = visible_texts(window)
    for secret in CHILD_TEXT:
        assert secret not in text
    panel = window.lock_panel
    panel.password.setText("right")
    panel.password.returnPressed.emit()
    qtbot.waitUntil(lambda: window.session.state is SessionState.ACTIVE)
    assert window.work.stack.currentWidget() is window.work.record
    assert "Hannah Zebedeeson" in visible_texts(window)
    assert window.work.form.family.text() == "Zebedeeson"
    assert [c[0] for c in api.calls[calls:]] == ["unlock"]


def test_lock_closes_a_half_filled_reason_dialog(qtbot, window) -> None:
    signed_in(qtbot, window)
    search(qtbot, window)
    qtbot.keyClick(window.work.results.table, Qt.Key.Key_Return)
    dialog = window.findChild(ReasonDialog)
    dialog.text.setText("half typed")
    qtbot.keyClick(window.work.results.table, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    window.session.lock(LockReason.MANUAL)
    assert window.session.state is SessionState.LOCKED
    assert not [d for d in window.findChildren(QDialog) if d.isVisible()]


def test_escape_twice_is_the_panic_lock(qtbot, window, clock) -> None:
    signed_in(qtbot, window)
    qtbot.keyClick(window.work.form.family, Qt.Key.Key_Escape)
    clock.advance(0.2)
    qtbot.keyClick(window.work.form.family, Qt.Key.Key_Escape)
    assert window.session.state is SessionState.LOCKED


def test_escape_twice_slowly_does_not_lock(qtbot, window, clock) -> None:
    signed_in(qtbot, window)
    qtbot.keyClick(window.work.form.family, Qt.Key.Key_Escape)
    clock.advance(2)
    qtbot.keyClick(window.work.form.family, Qt.Key.Key_Escape)
    assert window.session.state is SessionState.ACTIVE


def test_wrong_unlock_password_counts(qtbot, window) -> None:
    signed_in(qtbot, window)
    window.session.lock(LockReason.MANUAL)
    for _ in range(5):
        window.lock_panel.password.setText("wrong")
        window.lock_panel.password.returnPressed.emit()
        qtbot.waitUntil(lambda: not window.auth_runner.busy)
    assert window.session.state is SessionState.SIGNED_OUT
    assert "too many wrong passwords" in window.signin.notice.text()


def test_expired_token_goes_back_to_sign_in_with_nothing_left(qtbot, window, api) -> None:
    signed_in(qtbot, window)
    search(qtbot, window)
    api.fail_next = SessionExpired()
    qtbot.keyClick(window.work.form.family, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.session.state is SessionState.SIGNED_OUT)
    assert window.pages.currentWidget() is window.signin
    assert "session has ended" in window.signin.notice.text()
    for secret in CHILD_TEXT:
        assert secret not in visible_texts(window)
    signed_in(qtbot, window)
    assert window.work.form.family.text() == ""


def test_a_stalled_search_can_be_cancelled_and_the_window_responds(qtbot, window, api) -> None:
    signed_in(qtbot, window)
    api.gate = threading.Event()
    form = window.work.form
    form.family.setText("Zebedeeson")
    form.dob.set_date(__import__("datetime").date(2011, 3, 14))
    qtbot.keyClick(form.family, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.work.busy_row.isVisible())
    form.given.setText("still typing")  # the GUI thread is free
    assert form.given.text() == "still typing"
    qtbot.mouseClick(window.work.cancel, Qt.MouseButton.LeftButton)
    assert not window.work.busy_row.isVisible()
    assert api.cancelled == 1
    assert "Cancelled" in window.work.results.message.text()


def test_a_newer_search_supersedes_an_older_one(qtbot, window, api) -> None:
    signed_in(qtbot, window)
    gate = threading.Event()
    api.gate = gate
    form = window.work.form
    form.family.setText("Zebedeeson")
    form.dob.set_date(__import__("datetime").date(2011, 3, 14))
    qtbot.keyClick(form.family, Qt.Key.Key_Return)
    api.results = api.results[:1]
    qtbot.keyClick(form.family, Qt.Key.Key_Return)
    gate.set()
    qtbot.waitUntil(lambda: not window.runner.busy)
    assert window.work.results.model.rowCount() == 1


def test_expiry_warning_shows_before_the_absolute_end(qtbot, window, clock) -> None:
    signed_in(qtbot, window)
    window.session.set_absolute_seconds_left(90)
    window.controller.tick()
    assert not window.work.warning.isHidden()
    assert "ends in 1 min" in window.work.warning_text.text()
    clock.advance(91)
    window.controller.tick()
    assert window.session.state is SessionState.SIGNED_OUT
    assert "session has ended" in window.signin.notice.text()


def test_minimise_locks(qtbot, window) -> None:
    signed_in(qtbot, window)
    window.showMinimized()
    qtbot.waitUntil(lambda: window.session.state is SessionState.LOCKED)
    assert window.windowTitle() == LOCKED_TITLE


def test_offline_reopen_shows_the_cached_copy_marked_and_sign_out_purges(qtbot, api, clock):
    from cpdesk.errors import ServerUnreachable

    apply_theme(QApplication.instance())
    cache = MemoryCache()
    win = build_window(api, clock, cache=cache)
    qtbot.addWidget(win)
    win.show()
    try:
        signed_in(qtbot, win)
        search(qtbot, win)
        open_first(qtbot, win)
        assert "c-olivia" in cache.records
        assert win.work.record.cached.isHidden()
        win.work.record.back.click()
        api.fail_next = ServerUnreachable()
        open_first(qtbot, win)
        assert not win.work.record.cached.isHidden()
        banner = win.work.record.cached_text.text()
        assert banner.startswith("Offline copy from ") and "may be out of date" in banner
        assert "Hannah Zebedeeson" in visible_texts(win)
        win.session.sign_out()
        qtbot.waitUntil(lambda: cache.purged == 1)
    finally:
        win.runner.wait()
        win.auth_runner.wait()
