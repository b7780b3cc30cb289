"""The search form: given name(s), family name, date of birth, gender, postcode, fuzzy.

Enter in any field searches. Checked on submit, in the NHS error-summary style: a box at
the top lists what is wrong and takes the focus, and each field says its own problem. The
fields are never cleared by a search (only by a lock or a sign-out), and nothing typed
here is stored anywhere: no history, no completer, no settings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from cpdesk.records import SearchQuery
from cpdesk.ui.dateinput import DateInput
from cpdesk.ui.theme import set_error, set_role

__all__ = ["GENDERS", "SearchForm"]

GENDERS: tuple[tuple[str, str], ...] = (
    ("", "Any"),
    ("female", "Female"),
    ("male", "Male"),
    ("other", "Other"),
    ("unknown", "Unknown"),
)


class SearchForm(QWidget):
    """Signals:
    search_requested(object): a valid SearchQuery.
    """

    search_requested = Signal(object)

    def __init__(
        self, today: Callable[[], dt.date] = dt.date.today, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._today = today
        title = QLabel("Find a child")
        set_role(title, "h1")
        self.summary = QFrame()
        set_role(self.summary, "error-summary")
        self.summary.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.summary.setAccessibleName("There is a problem")
        summary_layout = QVBoxLayout(self.summary)
        summary_title = QLabel("There is a problem")
        set_role(summary_title, "h2")
        self.summary_text = QLabel("")
        set_role(self.summary_text, "error")
        self.summary_text.setWordWrap(True)
        summary_layout.addWidget(summary_title)
        summary_layout.addWidget(self.summary_text)
        self.summary.hide()
        self.given = self._edit("Given names", "given")
        self.family = self._edit("Family name", "family")
        self.family_error = QLabel("")
        set_role(self.family_error, "error")
        self.family_error.hide()
        self.dob = DateInput("Date of birth")
        self.dob.submitted.connect(self.submit)
        self.gender = QComboBox()
        self.gender.setObjectName("gender")
        self.gender.setAccessibleName("Gender")
        for value, label in GENDERS:
            self.gender.addItem(label, value)
        self.postcode = self._edit("Postcode", "postcode")
        self.postcode.setMaximumWidth(200)
        self.fuzzy = QCheckBox("Fuzzy matching")
        self.fuzzy.setObjectName("fuzzy")
        self.fuzzy.setAccessibleName("Fuzzy matching")
        self.fuzzy.setChecked(True)
        self.button = QPushButton("Search")
        self.button.setObjectName("search")
        set_role(self.button, "primary")
        self.button.clicked.connect(self.submit)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.setSpacing(6)
        layout.addWidget(title)
        layout.addWidget(self.summary)
        for label, widget in (("&Given names", self.given), ("&Family name", self.family)):
            layout.addSpacing(6)
            layout.addWidget(self._label(label, widget))
            if widget is self.family:
                layout.addWidget(self.family_error)
            layout.addWidget(widget)
        layout.addSpacing(10)
        layout.addWidget(self.dob)
        layout.addSpacing(10)
        layout.addWidget(self._label("G&ender", self.gender))
        layout.addWidget(self.gender)
        layout.addSpacing(6)
        layout.addWidget(self._label("&Postcode", self.postcode))
        hint = QLabel("Full postcode or the first part, e.g. LS6")
        set_role(hint, "hint")
        layout.addWidget(hint)
        layout.addWidget(self.postcode)
        layout.addSpacing(10)
        layout.addWidget(self.fuzzy)
        fuzzy_hint = QLabel("Finds misspellings, nicknames and a swapped day and month.")
        fuzzy_hint.setWordWrap(True)
        set_role(fuzzy_hint, "hint")
        layout.addWidget(fuzzy_hint)
        layout.addSpacing(12)
        layout.addWidget(self.button)
        layout.addStretch(1)

    def _edit(self, accessible: str, name: str) -> QLineEdit:
        edit = QLineEdit()
        edit.setObjectName(name)
        edit.setAccessibleName(accessible)
        edit.returnPressed.connect(self.submit)
        return edit

    @staticmethod
    def _label(text: str, buddy: QWidget) -> QLabel:
        label = QLabel(text)
        label.setBuddy(buddy)
        set_role(label, "fact-label")
        return label

    def submit(self) -> None:
        """Check the form; emit a query or show what to fix."""
        errors: list[str] = []
        family = self.family.text().strip()
        given = tuple(self.given.text().split())
        postcode = " ".join(self.postcode.text().upper().split())
        gender = str(self.gender.currentData() or "")
        fuzzy = self.fuzzy.isChecked()
        enough_without_family = fuzzy and bool(given) and bool(gender) and bool(postcode)
        family_missing = not family and not enough_without_family
        self.family_error.setText("Enter a family name" if family_missing else "")
        self.family_error.setVisible(family_missing)
        set_error(self.family, family_missing)
        if family_missing:
            errors.append("Enter a family name")
        dob = self.dob.check(self._today())
        if not dob.ok:
            errors.append(dob.error)
        if errors:
            self.summary_text.setText("\n".join(errors))
            self.summary.show()
            self.summary.setAccessibleDescription("; ".join(errors))
            self.summary.setFocus()
            return
        self.summary.hide()
        self.search_requested.emit(
            SearchQuery(
                family=family,
                given=given,
                birthdate=dob.value,
                gender=gender,
                postcode=postcode,
                fuzzy=fuzzy,
            )
        )

    def focus_error_field(self) -> None:
        if self.family.property("error") == "true":
            self.family.setFocus()
        else:
            self.dob.first_field_in_error().setFocus()

    def set_query(self, query: SearchQuery) -> None:
        """Refill the form (after unlock) from the in-memory query."""
        self.given.setText(" ".join(query.given))
        self.family.setText(query.family)
        self.dob.set_date(query.birthdate)
        index = self.gender.findData(query.gender)
        self.gender.setCurrentIndex(max(index, 0))
        self.postcode.setText(query.postcode)
        self.fuzzy.setChecked(query.fuzzy)

    def clear(self) -> None:
        """Empty every field (lock and sign-out only: a search never clears the form)."""
        for edit in (self.given, self.family, self.postcode):
            edit.clear()
            set_error(edit, False)
        self.family_error.clear()
        self.family_error.hide()
        self.dob.clear()
        self.gender.setCurrentIndex(0)
        self.fuzzy.setChecked(True)
        self.summary_text.clear()
        self.summary.hide()

    def focus_first(self) -> None:
        self.given.setFocus()
