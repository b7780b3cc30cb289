"""The "Links to review" screen: a council's row and the candidate child, side by side.

Draws what `cpdesk.review.ReviewController` tells it (`ReviewView`) and hands the user's
intents back as signals. Each compared field carries its agreement as a badge with a
sign and a word ("✓ Same", "≈ Close", "✗ Different", "– Not given"), never by colour
alone, and its accessible name says it all in one sentence. Link, Not this child and Skip
are buttons with their shortcuts in their text (Alt+L, Alt+N, Alt+S).

Built when opened, and destroyed (after `wipe()` empties every text in the same turn) at
a lock, a sign-out or "Back to search": nothing of it survives.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from cpdesk.dates import format_date
from cpdesk.review import LEGEND, Agreement, ComparedField, ReviewCase, why
from cpdesk.ui.header import header_bar
from cpdesk.ui.theme import set_role

__all__ = ["ReviewPage"]

_BADGE_ROLE = {
    Agreement.SAME: "badge-same",
    Agreement.CLOSE: "badge-caf",
    Agreement.DIFFERENT: "badge-error",
    Agreement.MISSING: "hint",
}
SHIELDED_TEXT = (
    "Shielded child: you see the index team's full view, and this view is audited. "
    "Never pass the address or former names on."
)


def _label(text: str = "", role: str = "", *, wrap: bool = True) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(wrap)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if role:
        set_role(label, role)
    return label


def _button(text: str, name: str, keys: str, role: str = "") -> QPushButton:
    button = QPushButton(f"{text}  ({keys})")
    button.setObjectName(name)
    button.setShortcut(QKeySequence(keys))
    button.setAccessibleName(text)
    button.setAccessibleDescription(f"Shortcut {keys}")
    if role:
        set_role(button, role)
    return button


class ReviewPage(QWidget):
    """Signals:
    link_requested, not_this_child_requested, skip_requested, reload_requested: the
    decisions and "Check again"; back_requested, lock_requested: the header buttons.
    """

    link_requested = Signal()
    not_this_child_requested = Signal()
    skip_requested = Signal()
    reload_requested = Signal()
    back_requested = Signal()
    lock_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("page")
        self.back = _button("Back to search", "review-back", "Alt+Left")
        self.back.clicked.connect(self.back_requested)
        self.lock_button = QPushButton("Lock (Ctrl+L)")
        self.lock_button.setObjectName("lock")
        self.lock_button.clicked.connect(self.lock_requested)
        header = header_bar("Links to review", self.back, self.lock_button)

        self.position = _label("", "h2")
        self.position.setObjectName("review-position")
        self.about = _label("", "hint")
        self.about.setObjectName("review-about")
        self.message = _label("")
        self.message.setObjectName("review-message")
        self.message.setAccessibleName("Last action")
        self.shielded = QFrame()
        self.shielded.setObjectName("review-shielded")
        set_role(self.shielded, "shielded")
        self.shielded_text = _label(SHIELDED_TEXT)
        shielded_layout = QHBoxLayout(self.shielded)
        shielded_layout.setContentsMargins(14, 10, 14, 10)
        shielded_layout.addWidget(self.shielded_text)
        self.shielded.hide()

        self.card = QFrame()
        self.card.setObjectName("review-comparison")
        set_role(self.card, "card")
        self.card.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.grid = QGridLayout(self.card)
        self.grid.setContentsMargins(18, 14, 18, 14)
        self.grid.setHorizontalSpacing(18)
        self.grid.setVerticalSpacing(10)
        captions = ("", "What the council sent", "Match", "What the index holds")
        for column, text in enumerate(captions):
            self.grid.addWidget(_label(text, "fact-label"), 0, column)
        self.grid.setColumnStretch(1, 1)
        self.grid.setColumnStretch(3, 1)
        self._rows: list[tuple[QLabel, QLabel, QLabel, QLabel]] = []

        self.legend = _label(LEGEND, "hint")
        self.legend.setObjectName("review-legend")

        self.worker_card = QFrame()
        self.worker_card.setObjectName("review-practitioner")
        set_role(self.worker_card, "card")
        worker_layout = QVBoxLayout(self.worker_card)
        worker_layout.setContentsMargins(18, 14, 18, 14)
        worker_layout.addWidget(_label("Who the council says works with the child", "fact-label"))
        self.worker = _label("")
        self.worker.setObjectName("review-practitioner-text")
        worker_layout.addWidget(self.worker)

        self.link = _button("Link", "review-link", "Alt+L", "primary")
        self.link.setToolTip("This row is about this child: add the practitioner to the record")
        self.not_this = _button("Not this child", "review-not-this-child", "Alt+N")
        self.not_this.setToolTip("This row is about someone else: the index will not ask again")
        self.skip = _button("Skip", "review-skip", "Alt+S")
        self.skip.setToolTip("Decide later: the row stays in the queue")
        self.link.clicked.connect(self.link_requested)
        self.not_this.clicked.connect(self.not_this_child_requested)
        self.skip.clicked.connect(self.skip_requested)
        buttons = QHBoxLayout()
        buttons.addWidget(self.link)
        buttons.addWidget(self.not_this)
        buttons.addWidget(self.skip)
        buttons.addStretch(1)
        self.decision = QWidget()
        self.decision.setLayout(buttons)

        self.again = _button("Check again", "review-again", "F5")
        self.again.clicked.connect(self.reload_requested)
        self.again.hide()

        body = QWidget()
        stack = QVBoxLayout(body)
        stack.setContentsMargins(24, 16, 24, 16)
        stack.setSpacing(12)
        for widget in (self.position, self.about, self.message, self.shielded, self.card,
                       self.legend, self.worker_card, self.decision, self.again):  # fmt: skip
            stack.addWidget(widget)
        stack.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(body)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(header)
        layout.addWidget(scroll, 1)
        self._show_case_widgets(False)
        self.message.hide()

    # -- ReviewView ----------------------------------------------------------------------

    def show_waiting(self, text: str) -> None:
        self.position.setText(text)

    def set_busy(self, busy: bool) -> None:
        for button in (self.link, self.not_this, self.skip, self.again):
            button.setEnabled(not busy)

    def show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))
        self.message.setAccessibleName(f"Last action, {text}" if text else "Last action")

    def show_finished(self, text: str) -> None:
        self._clear_case()
        self._show_case_widgets(False)
        self.position.setText(text)
        self.again.show()
        self.again.setFocus()

    def show_case(
        self, case: ReviewCase, fields: Sequence[ComparedField], position: int, total: int
    ) -> None:
        self._clear_case()
        self.position.setText(f"Link {position} of {total}")
        self.about.setText(why(case))
        child = case.candidate
        shown = [
            *fields,
            ComparedField("Address", "", child.address, Agreement.MISSING),
            ComparedField("Gender", "", child.gender.capitalize(), Agreement.MISSING),
        ]
        for number, item in enumerate(shown, start=1):
            self._row(number, item, index_only=number > len(fields))
        agreeing = sum(f.agreement is Agreement.SAME for f in fields)
        differing = sum(f.agreement is Agreement.DIFFERENT for f in fields)
        self.card.setAccessibleName(
            f"Comparison: {agreeing} of {len(fields)} details the same, {differing} different"
        )
        worker = case.practitioner
        lines = [f"{worker.name}, {worker.role}", worker.organisation]
        lines.append(" · ".join(v for v in (worker.phone, worker.email) if v))
        if worker.since:
            lines.append(f"Since {format_date(worker.since, long=True)}"
                         + (" · lead professional" if worker.lead else ""))  # fmt: skip
        self.worker.setText("\n".join(line for line in lines if line))
        self.shielded.setVisible(child.shielded)
        self.again.hide()
        self._show_case_widgets(True)
        self.card.setFocus()

    # -- building and emptying ---------------------------------------------------------

    def _row(self, number: int, item: ComparedField, *, index_only: bool) -> None:
        while len(self._rows) < number:
            cells = (_label("", "fact-label"), _label(""), _label("", wrap=False), _label(""))
            for column, cell in enumerate(cells):
                self.grid.addWidget(cell, len(self._rows) + 1, column)
            cells[2].setObjectName("review-mark")
            self._rows.append(cells)
        caption, feed, mark, index = self._rows[number - 1]
        caption.setText(item.label)
        feed.setText(item.feed or ("" if index_only else "Not given"))
        index.setText(item.index or "Not recorded")
        different = item.agreement is Agreement.DIFFERENT
        for value in (feed, index):
            set_role(value, "contact" if different else "")
        mark.setText("" if index_only else f"{item.agreement.mark} {item.agreement.word}")
        set_role(mark, "" if index_only else _BADGE_ROLE[item.agreement])
        if index_only:
            sentence = f"{item.label}, the index holds {item.index or 'nothing'}"
        else:
            sentence = (
                f"{item.label}: {item.agreement.word}. The council sent "
                f"{item.feed or 'nothing'}; the index holds {item.index or 'nothing'}"
            )
        for cell in (caption, feed, mark, index):
            cell.setAccessibleName(sentence)
            cell.show()

    def _clear_case(self) -> None:
        for cells in self._rows:
            for cell in cells:
                cell.setText("")
                cell.setAccessibleName("")
                cell.hide()
        self.about.setText("")
        self.worker.setText("")
        self.card.setAccessibleName("")
        self.shielded.hide()

    def _show_case_widgets(self, on: bool) -> None:
        for widget in (self.card, self.legend, self.worker_card, self.decision):
            widget.setVisible(on)

    def wipe(self) -> None:
        """Empty every text that can hold child data, now (lock, sign-out, leaving)."""
        self._clear_case()
        self._show_case_widgets(False)
        self.position.setText("")
        self.show_message("")
