"""The inbox in the window, by keyboard: the count in the status bar, the list, a notice,
its child's record through the reason dialog, done; sending from a record; the lock."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import QApplication, QWidget

from cpdesk.clock import FakeClock
from cpdesk.errors import RequestRejected
from cpdesk.inbox import InboxController
from cpdesk.notices import TEAM_QUEUE_NOTE, Category
from cpdesk.records import AccessReason, UserInfo
from cpdesk.session import SessionState
from cpdesk.ui.inbox import InboxPanel, InboxScreen
from cpdesk.ui.notice_dialog import NoticeDialog
from cpdesk.ui.reason_dialog import ReasonDialog
from cpdesk.ui.theme import apply_theme
from cpdesk.ui.workers import TaskRunner
from tests.cpdesk.ui.fakes import (
    JAYDEN_RECORD,
    OLIVIA_RECORD,
    FakeApi,
    FakeSignIn,
    build_window,
    gc_on_gui_thread,  # noqa: F401
)
from tests.cpdesk.ui.test_main_window import open_first, search, signed_in
from tests.helpers.fake_notices import ATTENDANCE, CANARY_TEXT, QUEUED, FakeNoticeApi

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

TEAM = UserInfo("team.test", "Alex Tester", "index-team", "National Index Team")
CANARIES = ("Xyloquent", "Quillbrook", "Vorpalith")
# Olivia's record as the index serves it: each practitioner with its PractitionerRole id.
OLIVIA_WITH_REFS = dataclasses.replace(
    OLIVIA_RECORD,
    involvements=tuple(
        dataclasses.replace(inv, role_id=f"c-olivia-involvement-{n}")
        for n, inv in enumerate(OLIVIA_RECORD.involvements, 1)
    ),
)


@pytest.fixture
def notices() -> FakeNoticeApi:
    return FakeNoticeApi()


@pytest.fixture
def api() -> FakeApi:
    api = FakeApi()
    api.records["c-olivia"] = OLIVIA_WITH_REFS
    return api


@pytest.fixture
def window(qtbot, api, notices):
    apply_theme(QApplication.instance())
    clock = FakeClock()
    win = build_window(api, clock)
    runner = TaskRunner()
    inbox = InboxController(api=lambda: notices, session=win.session, clock=clock, runner=runner)
    win.inbox = InboxScreen(inbox, win.controller, win, ask_reason=win.ask_reason, runner=runner)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.inbox.stop()
    win.runner.wait()
    win.auth_runner.wait()


def panel(win) -> InboxPanel:
    assert win.inbox.panel is not None
    return win.inbox.panel


def all_texts(root: QWidget) -> str:
    """Every text and accessible name below `root`, visible or not, list items included."""
    from tests.e2e.test_lock_e2e import accessible_texts, widget_texts

    found = widget_texts(root) + accessible_texts(root)
    for w in root.findChildren(QWidget):
        if isinstance(w, InboxPanel):
            found += [w.list.item(i).text() for i in range(w.list.count())]
    return "\n".join(found)


def activate(qtbot, win) -> None:
    """As the window manager does when a dialog closes (offscreen, nothing does)."""
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win)


def open_inbox_by_keyboard(qtbot, win) -> None:
    activate(qtbot, win)
    qtbot.keyClick(win.work.form.family, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: panel(win).list.count() > 0)
    assert win.work.stack.currentWidget() is panel(win)
    assert QApplication.focusWidget() is panel(win).list


def test_count_list_open_record_by_reason_and_done_all_by_keyboard(
    qtbot, window, api, notices
) -> None:
    signed_in(qtbot, window)
    count = window.inbox.count
    qtbot.waitUntil(lambda: count.text() == "1 new notice")
    assert count.isVisible() and "Ctrl+I" in count.accessibleName()
    open_inbox_by_keyboard(qtbot, window)
    row = panel(window).list.item(0)
    assert row.text().startswith("New · Attendance · from Sam Tester")
    assert "Xyloquent" in row.text()
    qtbot.keyClick(panel(window).list, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: panel(window).body.text() == CANARY_TEXT)
    qtbot.waitUntil(lambda: count.text() == "No new notices")  # read now
    assert notices.named("read") == [ATTENDANCE.id]
    button = panel(window).open_record
    assert QApplication.focusWidget() is button
    qtbot.keyClick(button, Qt.Key.Key_Return)
    dialog = window.findChild(ReasonDialog)
    assert dialog is not None
    assert dialog.selected() is AccessReason.HEALTH_CARE  # the notice's category suggests it
    assert "Suggested from the notice" in dialog.findChild(QWidget, "reason-suggested").text()
    qtbot.keyClick(dialog.buttons[AccessReason.HEALTH_CARE], Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.work.stack.currentWidget() is window.work.record)
    assert ("record", ("c-olivia", AccessReason.HEALTH_CARE, "")) in api.calls
    assert window.work.record.name.text() == "Olivia Rose Zebedeeson"
    # Back to the notice and mark it done, still by keyboard.
    open_inbox_by_keyboard(qtbot, window)
    qtbot.keyClick(panel(window).list, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: panel(window).body.text() == CANARY_TEXT)
    qtbot.keyClick(panel(window).done, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: panel(window).message.text() == "Marked as done.")
    assert panel(window).list.count() == 0
    assert notices.named("done") == [ATTENDANCE.id]
    assert count.text() == "No new notices"


def test_the_list_rows_are_read_by_a_screen_reader(qtbot, window) -> None:
    signed_in(qtbot, window)
    open_inbox_by_keyboard(qtbot, window)
    iface = QAccessible.queryAccessibleInterface(panel(window).list)
    assert iface.text(QAccessible.Text.Name) == "Notices waiting"
    names = [iface.child(i).text(QAccessible.Text.Name) for i in range(iface.childCount())]
    assert any(n.startswith("New · Attendance · from Sam Tester") for n in names)


def test_a_lock_with_a_notice_open_leaves_nothing_of_it(qtbot, window) -> None:
    signed_in(qtbot, window)
    open_inbox_by_keyboard(qtbot, window)
    qtbot.keyClick(panel(window).list, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: panel(window).body.text() == CANARY_TEXT)
    assert "Xyloquent" in all_texts(window)  # the check can fail
    window.controller.lock()
    assert window.session.state is SessionState.LOCKED
    texts = all_texts(window)
    assert not [c for c in CANARIES if c in texts]
    assert window.inbox.inbox.notices is None and window.inbox.inbox.opened is None
    # unlock: the count comes back; the list only when asked for
    window.controller.unlock("right")
    qtbot.waitUntil(lambda: window.session.state is SessionState.ACTIVE)
    qtbot.waitUntil(lambda: window.inbox.count.text() == "No new notices")
    assert window.work.stack.currentWidget() is not panel(window)
    assert not [c for c in CANARIES if c in all_texts(window)]


def test_send_a_notice_from_a_record(qtbot, window, notices) -> None:
    signed_in(qtbot, window)
    search(qtbot, window)
    open_first(qtbot, window)
    record = window.work.record
    activate(qtbot, window)
    qtbot.keyClick(record.back, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    dialog = window.findChild(NoticeDialog)
    assert dialog is not None
    assert dialog.chosen_category() is Category.ATTENDANCE
    ticked = [box.text() for box, _ in dialog.recipients if box.isChecked()]
    assert ticked == [
        "Ravi Penhallow (lead professional) — Social worker · Leeds Children's Services"
    ]
    qtbot.waitUntil(lambda: QApplication.focusWidget() is dialog.text)
    qtbot.keyClicks(dialog.text, "Attended A&E tonight, discharged to mother.")
    assert dialog.counter.text() == "43 of 1000 characters"
    notices.fail_next = RequestRejected("That practitioner has no account on the index.")
    qtbot.mouseClick(dialog.send, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.error.isVisible())
    assert dialog.error.text() == "That practitioner has no account on the index."
    assert dialog.text.toPlainText().startswith("Attended")  # nothing lost
    dialog.recipients[1][0].setChecked(True)
    qtbot.mouseClick(dialog.send, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: record.note.text() == "Notice sent to 2 people.")
    assert notices.named("send")[-1] == (
        "c-olivia", Category.ATTENDANCE, "Attended A&E tonight, discharged to mother.",
        ("PractitionerRole/c-olivia-involvement-2", "PractitionerRole/c-olivia-involvement-1"),
    )  # fmt: skip
    assert window.inbox.dialog is None


def test_a_shielded_childs_notice_shows_no_practitioner_and_goes_to_the_team(
    qtbot, window, notices
) -> None:
    signed_in(qtbot, window)
    search(qtbot, window)
    open_first(qtbot, window, row=1)  # Jayden, shielded
    qtbot.mouseClick(window.work.record.send_notice, Qt.MouseButton.LeftButton)
    dialog = window.findChild(NoticeDialog)
    assert dialog is not None and dialog.recipients == []
    assert dialog.chosen_category() is Category.REQUEST_CONTACT
    texts = "\n".join(
        w.text()
        for w in dialog.findChildren(QWidget)
        if hasattr(w, "text") and isinstance(w.text(), str)
    )
    assert TEAM_QUEUE_NOTE in texts
    assert JAYDEN_RECORD.index_team_contact not in texts
    qtbot.keyClicks(dialog.text, "Please put me in touch with his social worker.")
    qtbot.mouseClick(dialog.send, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: notices.named("send") != [])
    assert notices.named("send")[-1][3] == ()


def test_a_lock_closes_a_half_written_notice_and_drops_its_text(qtbot, window) -> None:
    signed_in(qtbot, window)
    search(qtbot, window)
    open_first(qtbot, window)
    qtbot.mouseClick(window.work.record.send_notice, Qt.MouseButton.LeftButton)
    dialog = window.findChild(NoticeDialog)
    qtbot.keyClicks(dialog.text, "Half written about Xyloquent")
    window.controller.lock()
    assert dialog.text.toPlainText() == ""
    assert not dialog.isVisible()
    assert window.inbox.dialog is None


def test_the_index_team_sees_its_queue_and_passes_a_request_on(qtbot, window, api, notices) -> None:
    notices.queue.append(QUEUED)
    api.sign_in = lambda *a: FakeSignIn(TEAM)  # type: ignore[method-assign]
    signed_in(qtbot, window)
    qtbot.waitUntil(lambda: window.inbox.count.text() == "2 new notices")
    open_inbox_by_keyboard(qtbot, window)
    assert panel(window).title.text() == "Notices and the index team's queue"
    assert panel(window).list.item(0).text().startswith("New · Index team queue · Request")
    qtbot.keyClick(panel(window).list, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "Vorpalith" in panel(window).body.text())
    assert panel(window).relay.isVisible() and panel(window).answer.isVisible()
    qtbot.keyClick(panel(window).relay, Qt.Key.Key_Return)
    dialog = window.findChild(NoticeDialog)
    assert dialog is not None and dialog.recipients == []  # no record open: the lead
    assert not dialog.text.isVisibleTo(dialog)  # the sender's words go on unchanged
    qtbot.mouseClick(dialog.send, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: notices.named("relay") == [(QUEUED.id, ())])
    qtbot.waitUntil(lambda: panel(window).list.count() == 1)
    qtbot.keyClick(panel(window).list, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: panel(window).body.text() == CANARY_TEXT)
    assert not panel(window).relay.isVisible()  # the team's own notice: no relay


def team_opens_the_queued_request(qtbot, window, api, notices) -> None:
    """The index team signs in with one request in its queue and opens it by keyboard."""
    notices.mine.clear()
    notices.queue.append(QUEUED)
    api.sign_in = lambda *a: FakeSignIn(TEAM)  # type: ignore[method-assign]
    signed_in(qtbot, window)
    open_inbox_by_keyboard(qtbot, window)
    qtbot.keyClick(panel(window).list, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: panel(window).current is not None)


def test_the_index_team_answers_the_sender_in_a_dialog(qtbot, window, api, notices) -> None:
    team_opens_the_queued_request(qtbot, window, api, notices)
    qtbot.keyClick(panel(window).answer, Qt.Key.Key_Return)
    dialog = window.findChild(NoticeDialog)
    assert dialog is not None and dialog.categories == {} and dialog.recipients == []
    assert dialog.windowTitle() == "cpdesk — answer the sender"
    qtbot.mouseClick(dialog.send, Qt.MouseButton.LeftButton)  # empty: refused, not sent
    assert dialog.error.text() == "Write your answer first."
    qtbot.keyClicks(dialog.text, "Passed on; they will call you.")
    qtbot.mouseClick(dialog.send, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: notices.named("answer") == [(QUEUED.id, "Passed on; they will call you.")]
    )
    qtbot.waitUntil(lambda: panel(window).message.text() == "Answer sent.")
    assert window.inbox.dialog is None


def test_with_the_childs_full_record_open_the_team_chooses_who_gets_it(
    qtbot, window, api, notices
) -> None:
    """The team's view of a shielded child lists its practitioners; the relay names them."""
    api.records["c-jayden"] = dataclasses.replace(
        OLIVIA_WITH_REFS, summary=JAYDEN_RECORD.summary, team_view=True
    )
    team_opens_the_queued_request(qtbot, window, api, notices)
    qtbot.keyClick(panel(window).open_record, Qt.Key.Key_Return)
    reason = window.findChild(ReasonDialog)
    assert reason.selected() is AccessReason.SAFEGUARDING
    qtbot.mouseClick(reason.ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.work.stack.currentWidget() is window.work.record)
    assert "shown to the index team only" in window.work.record.cached_text.text()
    assert window.work.record.name.text() == "Jayden Quillfeather"
    open_inbox_by_keyboard(qtbot, window)
    qtbot.keyClick(panel(window).list, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: panel(window).current is not None)
    qtbot.keyClick(panel(window).relay, Qt.Key.Key_Return)
    dialog = [d for d in window.findChildren(NoticeDialog) if d.isVisible()][-1]
    assert [box.isChecked() for box, _ in dialog.recipients] == [True, False]  # the lead
    dialog.recipients[0][0].setChecked(False)
    qtbot.mouseClick(dialog.send, Qt.MouseButton.LeftButton)
    assert dialog.error.text() == "Tick at least one person to send it to."
    dialog.recipients[1][0].setChecked(True)
    qtbot.mouseClick(dialog.send, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: (
            notices.named("relay") == [(QUEUED.id, ("PractitionerRole/c-olivia-involvement-1",))]
        )
    )
