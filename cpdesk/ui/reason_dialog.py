"""Reason for access: asked before every record opens, and written to the audit log.

The codes come from `AccessReason` (the API's fixed list). The last choice is
preselected (only the code is remembered, in memory; never the free text). Text is
required for "other". Esc cancels. The dialog is window-modal and non-blocking (`open()`,
never `exec()`), so a lock can close it at once and nothing waits on it.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QLabel,
    QLineEdit,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from cpdesk.records import AccessReason
from cpdesk.ui.dialog_buttons import add_action_row
from cpdesk.ui.theme import set_error, set_role

__all__ = ["MAX_REASON_TEXT", "ReasonDialog"]

MAX_REASON_TEXT = 500


class ReasonDialog(QDialog):
    """Signals:
    reason_chosen(object, str): the AccessReason and the text (may be empty).
    """

    reason_chosen = Signal(object, str)

    def __init__(
        self,
        last: AccessReason | None,
        parent: QWidget | None = None,
        *,
        suggested: AccessReason | None = None,
    ) -> None:
        """`suggested`: preselected because of a notice's category (the dialog says so)."""
        super().__init__(parent)
        self.setObjectName("reason-dialog")
        self.setWindowTitle("cpdesk — reason for access")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setMinimumWidth(520)
        title = QLabel("Why do you need this record?")
        set_role(title, "h2")
        note = QLabel("Your reason is recorded with your name each time a record is opened.")
        note.setWordWrap(True)
        set_role(note, "hint")
        self.group = QButtonGroup(self)
        self.buttons: dict[AccessReason, QRadioButton] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.setSpacing(6)
        layout.addWidget(title)
        layout.addWidget(note)
        if suggested is not None:
            because = QLabel(f"Suggested from the notice: {suggested.label}. Change it if needed.")
            because.setObjectName("reason-suggested")
            because.setWordWrap(True)
            set_role(because, "hint")
            layout.addWidget(because)
        for reason in AccessReason:
            button = QRadioButton(reason.label)
            button.setObjectName(f"reason-{reason.value}")
            button.setAccessibleName(reason.label)
            self.group.addButton(button)
            self.buttons[reason] = button
            layout.addWidget(button)
        self.text_label = QLabel("&Details (required for Other)")
        set_role(self.text_label, "fact-label")
        self.text = QLineEdit()
        self.text.setObjectName("reason-text")
        self.text.setAccessibleName("Details of the reason")
        self.text.setMaxLength(MAX_REASON_TEXT)
        self.text_label.setBuddy(self.text)
        self.error = QLabel("")
        set_role(self.error, "error")
        self.error.hide()
        layout.addSpacing(8)
        layout.addWidget(self.text_label)
        layout.addWidget(self.error)
        layout.addWidget(self.text)
        self.ok = add_action_row(
            self, layout, "Open record", ("open-record", "cancel-reason"), self._confirm
        )
        chosen = self.buttons[last or AccessReason.EMERGENCY_CARE]
        chosen.setChecked(True)
        chosen.setFocus()
        self.text.returnPressed.connect(self._confirm)
        self.finished.connect(self._forget)

    def selected(self) -> AccessReason:
        for reason, button in self.buttons.items():
            if button.isChecked():
                return reason
        return AccessReason.EMERGENCY_CARE

    def _confirm(self) -> None:
        reason = self.selected()
        text = self.text.text().strip()
        if reason is AccessReason.OTHER and not text:
            self.error.setText("Say why you need this record")
            self.error.show()
            set_error(self.text, True)
            self.text.setFocus()
            return
        self.reason_chosen.emit(reason, text)
        self.accept()

    def _forget(self, _result: int) -> None:
        """Closed either way (including by a lock): drop the half-typed text."""
        self.text.clear()
