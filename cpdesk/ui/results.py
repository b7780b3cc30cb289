"""Search results: a keyboard-first table (arrows move, Enter opens) and plain messages.

"No matches" says what was searched and what to try; "too many matches" says which
details to add. The rows live only in this model and in the window's in-memory state.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from cpdesk.dates import format_date
from cpdesk.records import ChildSummary, SearchQuery, age_on
from cpdesk.ui.theme import set_role

__all__ = ["ResultsModel", "ResultsTable", "ResultsView", "describe_query", "what_to_add"]

COLUMNS = ("Name", "Date of birth", "Age", "Gender", "Postcode district", "Match")
_Index = QModelIndex | QPersistentModelIndex


def describe_query(query: SearchQuery) -> str:
    """'Olivia Smithfield, born 14 March 2011, female, postcode LS6' (shown, never logged)."""
    name = " ".join([*query.given, query.family]).strip() or "any name"
    parts = [name]
    if query.birthdate:
        parts.append(f"born {format_date(query.birthdate, long=True)}")
    if query.gender:
        parts.append(query.gender)
    if query.postcode:
        parts.append(f"postcode {query.postcode}")
    return ", ".join(parts)


def what_to_add(query: SearchQuery) -> str:
    """The details that would narrow a search that matched too many children."""
    missing = [
        label
        for label, present in (
            ("a given name", bool(query.given)),
            ("the gender", bool(query.gender)),
            ("a postcode", bool(query.postcode)),
        )
        if not present
    ]
    if not missing:
        return "Add a full postcode or check the date of birth, or turn off fuzzy matching."
    if len(missing) == 1:
        return f"Add {missing[0]} to narrow the search."
    return f"Add {', '.join(missing[:-1])} or {missing[-1]} to narrow the search."


class ResultsModel(QAbstractTableModel):
    """Rows of ChildSummary; the match score is shown as a percentage."""

    def __init__(self, today: Callable[[], dt.date], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._today = today
        self._rows: tuple[ChildSummary, ...] = ()

    def set_rows(self, rows: Sequence[ChildSummary]) -> None:
        self.beginResetModel()
        self._rows = tuple(rows)
        self.endResetModel()

    def row(self, index: int) -> ChildSummary:
        return self._rows[index]

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        child = self._rows[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return self._text(child, index.column())
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() in (2, 5):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _text(self, child: ChildSummary, column: int) -> str:
        if column == 0:
            return child.display_name + (" (restricted)" if child.shielded else "")
        if column == 1:
            return format_date(child.birthdate)
        if column == 2:
            return str(age_on(child.birthdate, self._today())) if child.birthdate else ""
        if column == 3:
            return child.gender.capitalize()
        if column == 4:
            return child.postcode_district
        return f"{round(child.score * 100)}%"


class ResultsTable(QTableView):
    """Signals:
    activated_row(int): Enter, Return or a double click on a row.
    """

    activated_row = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("results")
        self.setAccessibleName("Search results")
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setTabKeyNavigation(False)  # Tab leaves the table, arrows move inside it
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(40)
        self.horizontalHeader().setHighlightSections(False)
        self.doubleClicked.connect(lambda index: self.activated_row.emit(index.row()))

    def setModel(self, model: QAbstractItemModel | None) -> None:
        """Column sizes are per section, so they are set once the model made the sections."""
        super().setModel(model)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            current = self.currentIndex()
            if current.isValid():
                self.activated_row.emit(current.row())
                event.accept()
                return
        super().keyPressEvent(event)


class ResultsView(QWidget):
    """The results pane. Signals:
    open_requested(object): the ChildSummary the user chose.
    """

    open_requested = Signal(object)

    def __init__(self, today: Callable[[], dt.date], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.heading = QLabel("Results")
        set_role(self.heading, "h2")
        self.message = QLabel("Search for a child with a name and a date of birth.")
        self.message.setWordWrap(True)
        self.message.setObjectName("results-message")
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        self.hint = QLabel("")
        set_role(self.hint, "hint")
        self.hint.setWordWrap(True)
        self.hint.hide()
        self.model = ResultsModel(today, self)
        self.table = ResultsTable()
        self.table.setModel(self.model)
        self.table.activated_row.connect(self._open_row)
        self.table.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.setSpacing(8)
        layout.addWidget(self.heading)
        layout.addWidget(self.message)
        layout.addWidget(self.hint)
        layout.addWidget(self.table, 1)
        layout.addStretch(0)

    def _open_row(self, row: int) -> None:
        self.open_requested.emit(self.model.row(row))

    def _say(self, message: str, hint: str = "", *, error: bool = False) -> None:
        set_role(self.message, "error" if error else "")
        self.message.setText(message)
        self.hint.setText(hint)
        self.hint.setVisible(bool(hint))

    def show_results(self, query: SearchQuery, rows: Sequence[ChildSummary]) -> None:
        self.model.set_rows(rows)
        if not rows:
            self.table.hide()
            fix = (
                "Check the spelling or the date of birth, or search with fewer details "
                "(for example without the postcode or gender)."
                if query.fuzzy
                else "Turn on fuzzy matching, or search with fewer details."
            )
            self._say(f"No children found for {describe_query(query)}.", fix)
            return
        count = len(rows)
        self._say(
            f"{count} {'child matches' if count == 1 else 'children match'}. "
            "Use the arrow keys and press Enter to open a record.",
        )
        self.table.show()
        self.table.selectRow(0)
        self.table.setFocus()

    def show_opened_today(self, rows: Sequence[ChildSummary]) -> None:
        """Offline: the records this user opened today, from the encrypted cache."""
        self.model.set_rows(rows)
        if not rows:
            self.table.hide()
            self._say("Records you opened today: none are kept on this computer.")
            return
        self._say(
            "Records you opened today (the index cannot be reached; search needs it). "
            "Press Enter to open one."
        )
        self.table.show()
        self.table.selectRow(0)
        self.table.setFocus()

    def show_too_many(self, query: SearchQuery) -> None:
        self.model.set_rows(())
        self.table.hide()
        self._say(
            f"Too many children match {describe_query(query)} to list them.", what_to_add(query)
        )

    def show_error(self, message: str) -> None:
        self.model.set_rows(())
        self.table.hide()
        self._say(message, error=True)

    def show_waiting(self, text: str) -> None:
        self._say(text)

    def focus_table(self) -> None:
        if self.table.isVisible():
            self.table.setFocus()

    def clear(self) -> None:
        self.model.set_rows(())
        self.table.hide()
        self._say("Search for a child with a name and a date of birth.")
