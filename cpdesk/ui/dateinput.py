"""The NHS date-input pattern: three numeric fields (Day, Month, Year) under one legend.

No auto-tab (it surprises keyboard users and screen readers). A whole date typed or
pasted into Day ("22/10/2010") is spread over the three fields. Checked only on submit,
with the message above the fields and the faulty fields outlined in red; the fields are
never cleared by a failed check. The rules themselves live in `cpdesk.dates`.
"""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from cpdesk.dates import DAY, MONTH, YEAR, DateCheck, check_date_of_birth, split_full_date
from cpdesk.ui.theme import set_error, set_role

__all__ = ["DateInput"]


class DateInput(QWidget):
    """Day / Month / Year fields.

    Signals:
        submitted: Enter was pressed in one of the fields.
    """

    submitted = Signal()

    def __init__(self, legend: str = "Date of birth", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._legend = QLabel(legend)
        set_role(self._legend, "fact-label")
        self._hint = QLabel("For example, 15 3 2012")
        set_role(self._hint, "hint")
        self._error = QLabel("")
        set_role(self._error, "error")
        self._error.setWordWrap(True)
        self._error.hide()
        self.day = self._field("Day", 2, f"{legend}, day")
        self.month = self._field("Month", 2, f"{legend}, month")
        self.year = self._field("Year", 4, f"{legend}, year")
        self.day.textEdited.connect(self._spread_full_date)
        row = QHBoxLayout()
        row.setSpacing(12)
        for label, edit in (("Day", self.day), ("Month", self.month), ("Year", self.year)):
            column = QVBoxLayout()
            column.setSpacing(2)
            caption = QLabel(label)
            caption.setBuddy(edit)
            column.addWidget(caption)
            column.addWidget(edit)
            row.addLayout(column)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self._legend)
        layout.addWidget(self._hint)
        layout.addWidget(self._error)
        layout.addLayout(row)
        self._fields = {DAY: self.day, MONTH: self.month, YEAR: self.year}

    def _field(self, name: str, chars: int, accessible: str) -> QLineEdit:
        edit = QLineEdit()
        edit.setObjectName(f"dob-{name.lower()}")
        edit.setAccessibleName(accessible)
        edit.setInputMethodHints(Qt.InputMethodHint.ImhDigitsOnly)
        edit.setMaxLength(10 if name == "Day" else chars)  # Day takes a whole pasted date
        width = edit.fontMetrics().horizontalAdvance("0" * chars) + 34
        edit.setFixedWidth(max(width, 56))
        edit.returnPressed.connect(self.submitted)
        return edit

    def _spread_full_date(self, text: str) -> None:
        parts = split_full_date(text)
        if parts is None:
            return
        day, month, year = parts
        self.day.setText(day)
        self.month.setText(month)
        self.year.setText(year)

    def check(self, today: dt.date) -> DateCheck:
        """Check the fields, show the message and outline the faulty fields."""
        result = check_date_of_birth(
            self.day.text(), self.month.text(), self.year.text(), today=today
        )
        self.show_error(result.error, result.fields)
        return result

    def show_error(self, message: str, fields: frozenset[str] = frozenset()) -> None:
        self._error.setText(message)
        self._error.setVisible(bool(message))
        self.setAccessibleDescription(message)
        for name, edit in self._fields.items():
            set_error(edit, name in fields)

    def set_date(self, value: dt.date | None) -> None:
        if value is None:
            self.clear()
            return
        self.day.setText(str(value.day))
        self.month.setText(str(value.month))
        self.year.setText(str(value.year))

    def first_field_in_error(self) -> QLineEdit:
        for edit in self._fields.values():
            if edit.property("error") == "true":
                return edit
        return self.day

    def clear(self) -> None:
        """Empty the fields and the message (used at lock and sign-out only)."""
        for edit in self._fields.values():
            edit.clear()
        self.show_error("")
