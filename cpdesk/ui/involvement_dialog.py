""" "I am working with this child": the dialog that adds the user's own involvement, and
the question before ending it.

The dialog asks what the index cannot know: the role, the start date, lead professional or
not, and a work phone (an email if the user likes). Name and organisation come from the
account, so the dialog says so rather than asking. Checked at once (cpdesk.involvements);
it stays open while the index answers, shows a refusal in place, and closes when saved.
Window-modal and non-blocking (`open()`): a lock closes it and its fields are emptied.

Signals (InvolvementDialog):
    declared(object): a checked SelfDeclaration, to send.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDateEdit,
    QDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from cpdesk.involvements import MAX_ROLE, SelfDeclaration, check_declaration
from cpdesk.ui.dialog_buttons import add_action_row
from cpdesk.ui.theme import set_error, set_role

__all__ = ["InvolvementDialog", "confirm_end"]

ADD_TEXT = "Add me to the record"


def _field(layout: QVBoxLayout, caption: str, widget: QWidget, accessible: str) -> None:
    label = QLabel(caption)
    set_role(label, "fact-label")
    label.setBuddy(widget)
    widget.setAccessibleName(accessible)
    layout.addWidget(label)
    layout.addWidget(widget)


class InvolvementDialog(QDialog):
    declared = Signal(object)

    def __init__(
        self, today: Callable[[], dt.date], who: str = "", parent: QWidget | None = None
    ) -> None:
        """`who`: the signed-in user's "name, organisation", shown as what others will see."""
        super().__init__(parent)
        self._today = today
        self.setObjectName("involvement-dialog")
        self.setWindowTitle("cpdesk — I am working with this child")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setMinimumWidth(520)
        title = QLabel("I am working with this child")
        set_role(title, "h2")
        note = QLabel(
            "Every practitioner who opens this record will see your name and organisation"
            + (f" ({who})" if who else "")
            + ", with the role and contact details below, marked as self-declared. The "
            "index records that you added it."
        )
        note.setTextFormat(Qt.TextFormat.PlainText)
        note.setWordWrap(True)
        set_role(note, "hint")
        self.error = QLabel("")
        self.error.setObjectName("involvement-error")
        self.error.setWordWrap(True)
        set_role(self.error, "error")
        self.error.hide()
        self.role = QLineEdit()
        self.role.setObjectName("involvement-role")
        self.role.setMaxLength(MAX_ROLE)
        self.role.setPlaceholderText("For example, Youth worker")
        self.since = QDateEdit()
        self.since.setObjectName("involvement-since")
        self.since.setDisplayFormat("dd/MM/yyyy")
        self.since.setCalendarPopup(True)
        self.since.setMaximumDate(_qdate(today()))
        self.since.setDate(_qdate(today()))
        self.lead = QCheckBox("I am the &lead professional for this child")
        self.lead.setObjectName("involvement-lead")
        self.lead.setAccessibleName("I am the lead professional for this child")
        self.phone = QLineEdit()
        self.phone.setObjectName("involvement-phone")
        self.phone.setMaxLength(30)
        self.email = QLineEdit()
        self.email.setObjectName("involvement-email")
        self.email.setMaxLength(200)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.setSpacing(6)
        layout.addWidget(title)
        layout.addWidget(note)
        layout.addWidget(self.error)
        _field(layout, "Your &role", self.role, "Your role")
        _field(layout, "&Since (day/month/year you started)", self.since,
               "Since, the day you started")  # fmt: skip
        layout.addWidget(self.lead)
        _field(layout, "Work &phone", self.phone, "Work phone")
        _field(layout, "Work &email (optional)", self.email, "Work email, optional")
        self.ok = add_action_row(
            self, layout, ADD_TEXT, ("involvement-add", "involvement-cancel"), self._confirm
        )
        self._fields = {"role": self.role, "since": self.since, "phone": self.phone}
        self._fields["email"] = self.email
        for edit in (self.role, self.phone, self.email):
            edit.returnPressed.connect(self._confirm)
        self.role.setFocus()
        self.finished.connect(self._forget)

    def _confirm(self) -> None:
        if not self.ok.isEnabled():
            return  # already sent: waiting for the index
        since = self.since.date().toPython()
        assert isinstance(since, dt.date)
        field, message = check_declaration(
            self.role.text(), since, self.phone.text(), self.email.text(), self._today()
        )
        if field:
            self._show_error(message, field)
            return
        self._show_error("")
        self.ok.setEnabled(False)
        self.ok.setText("Saving…")
        self.declared.emit(
            SelfDeclaration(
                self.role.text().strip(), since, self.lead.isChecked(),
                self.phone.text().strip(), self.email.text().strip(),
            )
        )  # fmt: skip

    def show_result(self, saved: bool, text: str) -> None:
        """The index's answer: close when saved, else show why and let the user fix it."""
        if saved:
            self.accept()
            return
        self.ok.setEnabled(True)
        self.ok.setText(ADD_TEXT)
        self._show_error(text)

    def _show_error(self, message: str, field: str = "") -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))
        self.setAccessibleDescription(message)
        for name, widget in self._fields.items():
            set_error(widget, name == field)
        if field:
            self._fields[field].setFocus()
        elif message:
            self.role.setFocus()

    def _forget(self, _result: int) -> None:
        """Closed either way (a lock included): drop what was typed."""
        for edit in (self.role, self.phone, self.email):
            edit.clear()
        self.lead.setChecked(False)


def _qdate(day: dt.date) -> QDate:
    return QDate(day.year, day.month, day.day)


def confirm_end(parent: QWidget, on_yes: Callable[[], None]) -> QMessageBox:
    """Ask before ending the user's involvement (window-modal, non-blocking)."""
    box = QMessageBox(parent)
    box.setObjectName("end-involvement-question")
    box.setWindowTitle("cpdesk — end your involvement")
    box.setIcon(QMessageBox.Icon.Question)
    box.setText("End your involvement with this child?")
    box.setInformativeText(
        "Other practitioners will no longer see you on this child's record. The index keeps "
        "a record that you were involved."
    )
    end = box.addButton("End my involvement", QMessageBox.ButtonRole.DestructiveRole)
    end.setObjectName("end-involvement-yes")
    keep = box.addButton("Keep it", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(keep)
    box.setEscapeButton(keep)
    box.setWindowModality(Qt.WindowModality.WindowModal)
    end.clicked.connect(on_yes)
    box.finished.connect(box.deleteLater)
    box.open()
    return box
