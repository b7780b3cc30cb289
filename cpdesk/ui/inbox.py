"""The inbox: notices about children, drawn for `cpdesk.inbox.InboxController`.

`InboxPanel` is a page of the workspace (beside the results and the record): a list that
the arrow keys move and Enter opens, and one notice with its actions (open the child's
record through the reason dialog, the notice's category suggesting the reason; mark it
done; for the index team's queue, pass it on or answer the sender). `InboxScreen` is the
controller's `InboxView`: it puts the unread count in the status bar, builds the panel
into each new workspace, opens the dialogs, and empties all of it at a lock or sign-out.
It decides nothing. Notice text lives only in these widgets and the controller's memory:
never in a window title, a tooltip, a log line or a file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from cpdesk.notices import Notice
from cpdesk.ui.theme import set_role

if TYPE_CHECKING:
    from cpdesk.controller import WorkController
    from cpdesk.inbox import InboxController
    from cpdesk.records import AccessReason, ChildRecord
    from cpdesk.ui.main_window import MainWindow
    from cpdesk.ui.notice_dialog import NoticeDialog
    from cpdesk.ui.work_page import WorkPage
    from cpdesk.ui.workers import TaskRunner

__all__ = ["InboxPanel", "InboxScreen", "describe", "when"]

TICK_MS = 5000  # how often the poll timer asks the controller whether a poll is due
SHORTCUT = "Ctrl+I"
EMPTY = "No notices waiting. New ones appear here, and their number in the status bar."
_ID = Qt.ItemDataRole.UserRole


def when(notice: Notice) -> str:
    """'2 Dec 14:02' in the machine's time zone ('' when the index sent no time)."""
    if notice.sent is None:
        return ""
    local = notice.sent.astimezone()
    return f"{local.day} {local:%b %H:%M}"


def describe(notice: Notice) -> str:
    """One list row: new or read, category, from whom, when; then the first line."""
    state = "New" if not notice.read else "Read"
    where = "Index team queue · " if notice.queued else ""
    relayed = " (passed on by the index team)" if notice.relayed else ""
    sender = notice.asked_by or notice.sender
    first = notice.text.splitlines()[0] if notice.text else ""
    if len(first) > 90:
        first = first[:89].rstrip() + "…"
    head = f"{state} · {where}{notice.category.label} · from {sender}{relayed}"
    stamp = when(notice)
    return f"{head} · {stamp}\n{first}" if stamp else f"{head}\n{first}"


class InboxPanel(QWidget):
    """Signals:
    open_requested(str): read a notice (by id); record_requested(): open its child's record;
    done_requested(str), relay_requested(str), answer_requested(str): its actions;
    back_requested(): from a notice to the list; close_requested(): back to the search.
    """

    open_requested = Signal(str)
    record_requested = Signal()
    done_requested = Signal(str)
    relay_requested = Signal(str)
    answer_requested = Signal(str)
    back_requested = Signal()
    close_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("inbox")
        self._notice: Notice | None = None
        self.title = QLabel("Notices")
        set_role(self.title, "h1")
        self.close_button = QPushButton("← Back to search")
        self.close_button.setObjectName("close-inbox")
        self.close_button.clicked.connect(self.close_requested)
        top = QHBoxLayout()
        top.addWidget(self.close_button)
        top.addSpacing(12)
        top.addWidget(self.title, 1)
        self.message = QLabel("")
        self.message.setObjectName("inbox-message")
        self.message.setWordWrap(True)
        self.hint = QLabel("")
        self.hint.setWordWrap(True)
        set_role(self.hint, "hint")
        self.list = QListWidget()
        self.list.setObjectName("notice-list")
        self.list.setAccessibleName("Notices waiting")
        self.list.setWordWrap(True)
        self.list.setSpacing(4)
        self.list.itemActivated.connect(self._activated)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.list)
        self.pages.addWidget(self._build_detail())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 12, 20, 12)
        layout.setSpacing(8)
        layout.addLayout(top)
        layout.addWidget(self.hint)
        layout.addWidget(self.message)
        layout.addWidget(self.pages, 1)
        self.clear()

    def _build_detail(self) -> QWidget:
        self.detail = QFrame()
        self.detail.setObjectName("notice")
        set_role(self.detail, "card")
        layout = QVBoxLayout(self.detail)
        layout.setContentsMargins(18, 14, 18, 14)
        layout.setSpacing(8)
        self.heading = QLabel("")
        set_role(self.heading, "h2")
        self.facts = QLabel("")
        self.facts.setWordWrap(True)
        set_role(self.facts, "hint")
        self.body = QLabel("")
        self.body.setObjectName("notice-body")
        self.body.setWordWrap(True)
        self.body.setTextFormat(Qt.TextFormat.PlainText)
        self.body.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        self.about = QLabel("")
        self.about.setWordWrap(True)
        set_role(self.about, "hint")
        self.open_record = QPushButton("Open the child's record…")
        self.open_record.setObjectName("notice-open-record")
        set_role(self.open_record, "primary")
        self.open_record.clicked.connect(self.record_requested)
        self.done = QPushButton("Mark as done")
        self.done.setObjectName("notice-done")
        self.done.clicked.connect(lambda: self._emit(self.done_requested.emit))
        self.relay = QPushButton("Pass on…")
        self.relay.setObjectName("notice-relay")
        self.relay.clicked.connect(lambda: self._emit(self.relay_requested.emit))
        self.answer = QPushButton("Answer the sender…")
        self.answer.setObjectName("notice-answer")
        self.answer.clicked.connect(lambda: self._emit(self.answer_requested.emit))
        self.back = QPushButton("Back to notices")
        self.back.setObjectName("notice-back")
        self.back.clicked.connect(self.back_requested)
        shortcut = QShortcut(QKeySequence("Alt+Left"), self.detail)
        shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        shortcut.activated.connect(self.back_requested)
        buttons = QHBoxLayout()
        for button in (self.open_record, self.done, self.relay, self.answer, self.back):
            button.setAutoDefault(True)  # Enter presses the focused button, as Space does
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout.addWidget(self.heading)
        layout.addWidget(self.facts)
        layout.addWidget(self.body)
        layout.addWidget(self.about)
        layout.addLayout(buttons)
        layout.addStretch(1)
        return self.detail

    # -- drawing -------------------------------------------------------------------------

    def show_list(self, notices: tuple[Notice, ...], team: bool) -> None:
        self._clear_detail()
        self.list.clear()
        self.title.setText("Notices and the index team's queue" if team else "Notices")
        self.hint.setText(
            "Arrow keys move, Enter opens a notice. Opening the child's record asks for a "
            "reason, as always."
        )
        for notice in notices:
            item = QListWidgetItem(describe(notice))
            item.setData(_ID, notice.id)
            item.setData(Qt.ItemDataRole.AccessibleTextRole, describe(notice).replace("\n", ". "))
            if not notice.read:
                font = item.font()
                font.setBold(True)
                item.setFont(font)
            self.list.addItem(item)
        self.show_message("" if notices else EMPTY)
        self.pages.setCurrentWidget(self.list)
        if notices:
            self.list.setCurrentRow(0)
            self.list.setFocus()
        else:
            self.close_button.setFocus()

    def show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def show_notice(self, notice: Notice, team: bool) -> None:
        self._notice = notice
        queue = team and notice.queued
        self.heading.setText(notice.category.label)
        sent = f" on {when(notice)}" if notice.sent else ""
        if notice.relayed and notice.asked_by:
            facts = f"From {notice.asked_by}, passed on by the index team ({notice.sender}){sent}."
        elif notice.relayed:
            facts = f"From the index team ({notice.sender}){sent}."
        else:
            facts = f"From {notice.sender}{sent}."
        self.facts.setText(facts)
        self.body.setText(notice.text)
        self.body.setAccessibleName(f"Notice, {notice.text}")
        self.about.setText(
            "A request about a shielded child, for the index team: open the record to see "
            "who works with the child, then pass it on or answer the sender (say nothing that "
            "locates the child)."
            if queue
            else "The notice does not name the child: open the record to see who it is about "
            "(the index records your reason)."
        )
        self.relay.setVisible(queue)
        self.answer.setVisible(queue)
        self.show_message("")
        self.pages.setCurrentWidget(self.detail)
        self.open_record.setFocus()

    @property
    def current(self) -> Notice | None:
        """The notice on screen, if any."""
        return self._notice

    def clear(self) -> None:
        """Empty every text a notice put here (lock, sign-out, leaving the inbox)."""
        self.list.clear()
        self.show_message("")
        self.hint.clear()
        self._clear_detail()
        self.pages.setCurrentWidget(self.list)

    def _clear_detail(self) -> None:
        self._notice = None
        for label in (self.heading, self.facts, self.body, self.about):
            label.clear()
        self.body.setAccessibleName("")

    def _activated(self, item: QListWidgetItem) -> None:
        self.open_requested.emit(str(item.data(_ID)))

    def _emit(self, emit: Callable[[str], object]) -> None:
        if self._notice is not None:
            emit(self._notice.id)


class InboxScreen(QObject):
    """The `InboxView` of `InboxController`: the status-bar count, the panel, the dialogs."""

    def __init__(
        self,
        inbox: InboxController,
        controller: WorkController,
        window: MainWindow,
        *,
        ask_reason: Callable[[str, AccessReason | None], None],
        runner: TaskRunner | None = None,
        tick_ms: int = TICK_MS,
    ) -> None:
        """`ask_reason(index_id, suggested)` opens the reason dialog for a child's record;
        `runner`: the inbox's own, waited for at `stop()`."""
        super().__init__(window)
        self._runner = runner
        self.inbox = inbox
        self.controller = controller
        self.window = window
        self._ask_reason = ask_reason
        self.panel: InboxPanel | None = None
        self.dialog: NoticeDialog | None = None
        self.count = QPushButton("")
        self.count.setObjectName("notice-count")
        self.count.setFlat(True)
        self.count.setToolTip(f"Open your notices ({SHORTCUT})")
        self.count.clicked.connect(self.open_inbox)
        self.count.hide()
        window.status.insertPermanentWidget(0, self.count)
        shortcut = QShortcut(QKeySequence(SHORTCUT), window)
        # Also right after a dialog closed, before the window manager re-activates us.
        shortcut.setContext(Qt.ShortcutContext.ApplicationShortcut)
        shortcut.activated.connect(self.open_inbox)
        self.timer = QTimer(self)
        self.timer.setInterval(tick_ms)
        self.timer.timeout.connect(inbox.tick)
        self.timer.start()
        window.workspace_hooks.append(self._built)
        inbox.attach(self)

    def stop(self) -> None:
        """At exit: no more polls; let a call in flight end (the client cancels it)."""
        self.timer.stop()
        if self._runner is not None:
            self._runner.drop()
            self._runner.wait(3000)

    # -- wiring into each new workspace ---------------------------------------------------

    def _built(self, work: WorkPage) -> None:
        panel = InboxPanel()
        work.stack.addWidget(panel)
        panel.open_requested.connect(self.inbox.open_notice)
        panel.record_requested.connect(self._open_record)
        panel.done_requested.connect(self.inbox.mark_done)
        panel.relay_requested.connect(self._relay)
        panel.answer_requested.connect(self._write_answer)
        panel.back_requested.connect(self.inbox.back_to_list)
        panel.close_requested.connect(self._close)
        panel.destroyed.connect(lambda: self._forget(panel))
        work.record.notice_requested.connect(self._write_notice)
        work.inbox_requested.connect(self.open_inbox)
        self.panel = panel

    def _forget(self, panel: InboxPanel) -> None:
        if self.panel is panel:
            self.panel = None

    def _work(self) -> WorkPage | None:
        return self.window.work

    # -- intents ------------------------------------------------------------------------

    def open_inbox(self) -> None:
        work = self._work()
        if work is None or self.panel is None:
            return
        self.panel.clear()  # nothing stale while the list is fetched again
        work.stack.setCurrentWidget(self.panel)
        self.inbox.open_inbox()

    def _close(self) -> None:
        self.inbox.close_inbox()
        work = self._work()
        if work is not None:
            work.show_results_pane()

    def _open_record(self) -> None:
        notice = self.panel.current if self.panel is not None else None
        if notice is not None:
            self._ask_reason(notice.patient_id, self.inbox.reason_for(notice))

    def _write_notice(self) -> None:
        opened = self.controller.state.opened
        if opened is None:
            return
        record = opened.record
        dialog = self._dialog(record)
        dialog.send_requested.connect(
            lambda category, text, refs: self.inbox.send(record, category, text, refs)
        )

    def _relay(self, notice_id: str) -> None:
        """Who to pass it on to: chosen from the team's full view of the child when it is
        open (Open the child's record…), else the lead professional."""
        notice = self.panel.current if self.panel is not None else None
        opened = self.controller.state.opened
        record = opened.record if opened is not None else None
        if notice is None or record is None or record.index_id != notice.patient_id:
            record = None
        dialog = self._dialog(record, relay=True)
        dialog.send_requested.connect(lambda _c, _t, refs: self.inbox.relay(notice_id, refs))

    def _write_answer(self, notice_id: str) -> None:
        dialog = self._dialog(None, answer=True)
        dialog.send_requested.connect(lambda _c, text, _r: self.inbox.answer(notice_id, text))

    def _dialog(
        self, record: ChildRecord | None, *, answer: bool = False, relay: bool = False
    ) -> NoticeDialog:
        from cpdesk.ui.notice_dialog import NoticeDialog

        dialog = NoticeDialog(record, self.window, answer=answer, relay=relay)
        dialog.finished.connect(dialog.deleteLater)
        dialog.finished.connect(lambda _r: self._dialog_closed(dialog))
        self.dialog = dialog
        dialog.open()
        return dialog

    def _dialog_closed(self, dialog: NoticeDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None

    # -- InboxView ----------------------------------------------------------------------

    def show_notice_count(self, text: str, unread: int | None) -> None:
        self.count.setText(text)
        self.count.ensurePolished()  # the style sheet's padding and bold count in the width
        self.count.setMinimumWidth(self.count.sizeHint().width())
        self.count.setAccessibleName(f"{text}. Open the notices ({SHORTCUT})" if text else "")
        self.count.setVisible(unread is not None)
        work = self._work()
        if work is not None:  # the header's button says it too
            new = f" · {unread} new" if unread else ""
            work.inbox_button.setText(f"Notices{new} ({SHORTCUT})")

    def show_inbox(self, notices: tuple[Notice, ...], team: bool) -> None:
        if self.panel is not None:
            self.panel.show_list(notices, team)

    def show_inbox_message(self, text: str) -> None:
        if self.panel is not None:
            self.panel.show_message(text)

    def show_open_notice(self, notice: Notice, team: bool) -> None:
        if self.panel is not None:
            self.panel.show_notice(notice, team)

    def clear_inbox(self) -> None:
        dialog, self.dialog = self.dialog, None
        if dialog is not None:
            dialog.reject()
        if self.panel is not None:
            self.panel.clear()

    def notice_sent(self, text: str) -> None:
        dialog, self.dialog = self.dialog, None
        if dialog is not None:
            dialog.accept()
        work = self._work()
        if work is None:
            return
        if work.stack.currentWidget() is work.record:
            work.record.note.setText(text)  # the record's own status line, beside Back
            work.record.note.show()
        elif self.panel is not None:
            self.panel.show_message(text)

    def notice_send_failed(self, text: str) -> None:
        if self.dialog is not None:
            self.dialog.show_error(text)
        elif self.panel is not None:
            self.panel.show_message(text)
