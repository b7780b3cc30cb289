"""Write a notice: about the open record, or the index team's answer to a sender.

Category, text (1 to 1,000 characters, a live count) and, for a child who is not shielded,
who receives it (the lead professional ticked by default, any listed practitioner). For a
shielded child no practitioner is shown: the notice goes to the index team. The dialog
stays open while the index answers, so a refusal loses nothing; it is window-modal and
non-blocking (`open()`), so a lock closes it at once, and its text is cleared on close.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from cpdesk.notices import MAX_NOTICE_TEXT, TEAM_QUEUE_NOTE, Category
from cpdesk.records import ChildRecord
from cpdesk.ui.theme import set_error, set_role

__all__ = ["NoticeDialog"]

_TITLES = {  # (answer, relay) -> the dialog's heading
    (False, False): "Send a notice about this child",
    (True, False): "Answer the sender",
    (False, True): "Pass on to the people working with the child",
}


class NoticeDialog(QDialog):
    """Signals:
    send_requested(object, str, tuple): the Category, the text and the PractitionerRole
    references ticked (empty: the lead professional, or the index team's queue).
    """

    send_requested = Signal(object, str, tuple)

    def __init__(
        self,
        record: ChildRecord | None,
        parent: QWidget | None = None,
        *,
        answer: bool = False,
        relay: bool = False,
    ) -> None:
        """`record`: the child the notice is about; `answer`: the team's reply (text only);
        `relay`: the team passes a queued notice on (who to, from `record` when it is the
        team's full view of the child, else the lead professional)."""
        super().__init__(parent)
        self._answer = answer
        self._relay = relay
        self.setObjectName("notice-dialog")
        title_text = _TITLES[(answer, relay)]
        self.setWindowTitle(f"cpdesk — {title_text[0].lower()}{title_text[1:]}")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.resize(620, 0)  # wider if the names need it: the layout sets the minimum
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.setSpacing(6)
        title = QLabel(title_text)
        set_role(title, "h2")
        layout.addWidget(title)
        self.categories: dict[Category, QRadioButton] = {}
        self.recipients: list[tuple[QCheckBox, str]] = []
        shielded = record is not None and record.shielded
        if relay and record is None:
            hint = QLabel(
                "It goes to the child's lead professional. To choose someone else, open the "
                "child's record first, then pass it on from the notice."
            )
        elif relay:
            hint = QLabel(
                "Tick who should get it. They see the notice and who asked; the sender is not "
                "told who they are."
            )
        elif answer:
            hint = QLabel(
                "Your answer goes to the person who asked. Say nothing that tells them where "
                "the child is or who works with the child."
            )
        elif shielded:
            hint = QLabel(TEAM_QUEUE_NOTE)
        else:
            hint = QLabel(
                "For the people working with this child. Write only what they need; the index "
                "keeps a record that you sent it."
            )
        hint.setWordWrap(True)
        set_role(hint, "hint")
        layout.addWidget(hint)
        self._group = QButtonGroup(self)
        if not answer and not relay:
            layout.addSpacing(6)
            caption = QLabel("What is it about?")
            set_role(caption, "fact-label")
            layout.addWidget(caption)
            grid = QGridLayout()  # two by two: the dialog fits a laptop screen at 125 %
            for n, category in enumerate(Category):
                button = QRadioButton(category.label)
                button.setObjectName(f"category-{category.value}")
                button.setAccessibleName(f"Category: {category.label}")
                self._group.addButton(button)
                self.categories[category] = button
                grid.addWidget(button, n // 2, n % 2)
            layout.addLayout(grid)
            first = Category.REQUEST_CONTACT if shielded else Category.ATTENDANCE
            self.categories[first].setChecked(True)
        if record is not None and not answer and (record.team_view if relay else not shielded):
            self._add_recipients(layout, record)
        self.text_label = QLabel("&Your answer" if answer else "&Notice")
        set_role(self.text_label, "fact-label")
        self.text = QPlainTextEdit()
        self.text.setObjectName("notice-text")
        self.text.setAccessibleName("Answer text" if answer else "Notice text")
        self.text.setTabChangesFocus(True)
        # Six lines or so: the box holds the height (the theme's style sheet would reset a
        # minimum set on the text edit itself to one line at every re-polish).
        box = QWidget()
        box.setMinimumHeight(self.text.fontMetrics().lineSpacing() * 6 + 24)
        box_layout = QVBoxLayout(box)
        box_layout.setContentsMargins(0, 0, 0, 0)
        box_layout.addWidget(self.text)
        self.text_label.setBuddy(self.text)
        self.counter = QLabel("")
        set_role(self.counter, "hint")
        self.error = QLabel("")
        self.error.setObjectName("notice-error")
        self.error.setWordWrap(True)
        set_role(self.error, "error")
        self.error.hide()
        layout.addSpacing(6)
        layout.addWidget(self.text_label)
        layout.addWidget(box)
        layout.addWidget(self.counter)
        layout.addWidget(self.error)
        self.send = QPushButton("Pass on" if relay else "Send answer" if answer else "Send notice")
        self.send.setObjectName("send-notice")
        set_role(self.send, "primary")
        self.send.clicked.connect(self._confirm)
        cancel = QPushButton("Cancel")
        cancel.setObjectName("cancel-notice")
        cancel.clicked.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(self.send)
        row.addWidget(cancel)
        row.addStretch(1)
        layout.addSpacing(8)
        layout.addLayout(row)
        for widget in (self.text_label, box, self.counter):
            widget.setVisible(not relay)  # the team passes the sender's words on unchanged
        self.text.textChanged.connect(self._count)
        self.finished.connect(self._forget)
        self._count()
        self.text.setFocus()

    def showEvent(self, event: QShowEvent) -> None:
        """Tall enough for the wrapped hints at this width (a dialog's minimum size counts
        them one line high, and the text box would overlap what follows)."""
        super().showEvent(event)
        layout = self.layout()
        need = layout.totalHeightForWidth(self.width()) if layout is not None else -1
        if need > self.height():
            self.resize(self.width(), need)

    def _add_recipients(self, layout: QVBoxLayout, record: ChildRecord) -> None:
        layout.addSpacing(6)
        caption = QLabel("Who should get it?")
        set_role(caption, "fact-label")
        layout.addWidget(caption)
        ordered = sorted(record.involvements, key=lambda i: not i.lead_professional)
        for inv in ordered:
            if not inv.role_id:
                continue
            what = " · ".join(p for p in (inv.role, inv.organisation) if p)
            lead = " (lead professional)" if inv.lead_professional else ""
            box = QCheckBox(f"{inv.practitioner}{lead} — {what}" if what else inv.practitioner)
            box.setChecked(inv.lead_professional)
            self.recipients.append((box, f"PractitionerRole/{inv.role_id}"))
            layout.addWidget(box)
        if not self.recipients:
            none = QLabel("No practitioners are listed for this child: phone the index team.")
            none.setWordWrap(True)
            layout.addWidget(none)

    def chosen_category(self) -> Category:
        for category, button in self.categories.items():
            if button.isChecked():
                return category
        return Category.OTHER

    def chosen_recipients(self) -> tuple[str, ...]:
        return tuple(ref for box, ref in self.recipients if box.isChecked())

    def show_error(self, text: str) -> None:
        """The index refused or could not be reached: say so, keep what was typed."""
        self.send.setEnabled(True)
        self.error.setText(text)
        self.error.show()
        set_error(self.text, True)
        self.text.setFocus()

    def _count(self) -> None:
        used = len(self.text.toPlainText().strip())
        self.counter.setText(f"{used} of {MAX_NOTICE_TEXT} characters")
        over = used > MAX_NOTICE_TEXT
        if over != (self.text.property("error") == "true"):  # re-polish on a change only
            set_error(self.text, over)

    def _confirm(self) -> None:
        if self._relay:
            self._send(Category.OTHER, "")
            return
        text = self.text.toPlainText().strip()
        if not text:
            self.show_error(
                "Write your answer first." if self._answer else "Write the notice first."
            )
            return
        if len(text) > MAX_NOTICE_TEXT:
            self.show_error(f"Shorten the notice to {MAX_NOTICE_TEXT} characters or fewer.")
            return
        self._send(self.chosen_category(), text)

    def _send(self, category: Category, text: str) -> None:
        if self.recipients and not self.chosen_recipients():
            self.show_error("Tick at least one person to send it to.")
            return
        self.error.hide()
        self.send.setEnabled(False)
        self.send_requested.emit(category, text, self.chosen_recipients())

    def _forget(self, _result: int) -> None:
        """Closed either way (a lock included): drop the text."""
        self.text.clear()
