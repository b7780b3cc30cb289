"""The signed-in workspace: header with Lock and Sign out, search form, results or record.

Built at sign-in, emptied at lock (every text with child data goes in the lock's own
event-loop turn) and refilled at unlock, destroyed at sign-out. It only draws and reports
intents; the controller (cpdesk/controller.py) decides, and keeps the in-memory state it
is redrawn from.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from cpdesk.ui.header import header_bar
from cpdesk.ui.record_view import RecordView
from cpdesk.ui.results import ResultsView
from cpdesk.ui.search import SearchForm
from cpdesk.ui.theme import set_role

__all__ = ["WorkPage"]

FORM_WIDTH = 420


class WorkPage(QWidget):
    """Signals:
    lock_requested, sign_out_requested, cancel_requested, settings_requested,
    review_requested, inbox_requested: the header and busy-bar buttons ("Links to review":
    index team only).
    """

    lock_requested = Signal()
    sign_out_requested = Signal()
    cancel_requested = Signal()
    settings_requested = Signal()
    review_requested = Signal()
    inbox_requested = Signal()

    def __init__(
        self,
        copy: Callable[[str], None],
        today: Callable[[], dt.date],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("page")
        self.lock_button = QPushButton("Lock (Ctrl+L)")
        self.lock_button.setObjectName("lock")
        self.lock_button.clicked.connect(self.lock_requested)
        self.settings_button = QPushButton("Settings")
        self.settings_button.setObjectName("settings")
        self.settings_button.clicked.connect(self.settings_requested)
        self.review_button = QPushButton("Links to review (Alt+R)")
        self.review_button.setObjectName("open-review")
        self.review_button.setShortcut(QKeySequence("Alt+R"))
        self.review_button.setAccessibleName("Links to review")
        self.review_button.clicked.connect(self.review_requested)
        self.review_button.hide()  # shown for the index team (MainWindow.show_workspace)
        self.sign_out_button = QPushButton("Sign out")
        self.sign_out_button.setObjectName("sign-out")
        self.sign_out_button.clicked.connect(self.sign_out_requested)
        self.inbox_button = QPushButton("Notices (Ctrl+I)")
        self.inbox_button.setObjectName("open-inbox")
        self.inbox_button.clicked.connect(self.inbox_requested)
        header = header_bar(
            "cpdesk · children's index",
            self.review_button,
            self.inbox_button,
            self.settings_button,
            self.lock_button,
            self.sign_out_button,
        )
        self.warning = QFrame()
        set_role(self.warning, "warning")
        self.warning_text = QLabel("")
        self.warning_text.setWordWrap(True)
        QHBoxLayout(self.warning).addWidget(self.warning_text)
        self.warning.hide()
        self.form = SearchForm(today)
        form_scroll = QScrollArea()
        form_scroll.setAccessibleName("Find a child")  # it takes focus: a reader names it
        form_scroll.setWidgetResizable(True)
        form_scroll.setFrameShape(QFrame.Shape.NoFrame)
        form_scroll.setWidget(self.form)
        form_scroll.setFixedWidth(FORM_WIDTH)
        form_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.results = ResultsView(today)
        self.record = RecordView(copy, today)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.results)
        self.stack.addWidget(self.record)
        self.busy_text = QLabel("")
        self.busy_text.setObjectName("busy-text")
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(False)
        self.busy.setAccessibleName("Waiting for the index")
        self.cancel = QPushButton("Cancel")
        self.cancel.setObjectName("cancel-busy")
        self.cancel.setToolTip("Stop waiting for the index")
        self.cancel.clicked.connect(self.cancel_requested)
        self.busy_row = QWidget()
        busy_layout = QHBoxLayout(self.busy_row)
        busy_layout.setContentsMargins(20, 4, 20, 0)
        busy_layout.addWidget(self.busy_text)
        busy_layout.addWidget(self.busy, 1)
        busy_layout.addWidget(self.cancel)
        self.busy_row.hide()
        self.notice = QLabel("")
        self.notice.setObjectName("work-notice")
        self.notice.setWordWrap(True)
        set_role(self.notice, "error")
        self.notice.setContentsMargins(20, 4, 20, 0)
        self.notice.hide()
        right = QVBoxLayout()
        right.setSpacing(0)
        right.addWidget(self.busy_row)
        right.addWidget(self.notice)
        right.addWidget(self.stack, 1)
        body = QHBoxLayout()
        body.setSpacing(0)
        body.addWidget(form_scroll)
        rule = QFrame()
        rule.setFrameShape(QFrame.Shape.VLine)
        body.addWidget(rule)
        body.addLayout(right, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(header)
        layout.addWidget(self.warning)
        layout.addLayout(body, 1)

    def show_results_pane(self) -> None:
        self.stack.setCurrentWidget(self.results)
        self.results.focus_table()

    def show_record_pane(self) -> None:
        self.stack.setCurrentWidget(self.record)

    def set_busy(self, busy: bool, text: str = "") -> None:
        self.busy_text.setText(text)
        self.busy_row.setVisible(busy)

    def show_notice(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    def show_expiry_warning(self, text: str) -> None:
        self.warning_text.setText(text)
        self.warning.setVisible(bool(text))

    def wipe(self) -> None:
        """Empty every widget that can hold child data, synchronously."""
        self.form.clear()
        self.results.clear()
        self.record.clear()
        self.notice.clear()
