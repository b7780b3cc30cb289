"""A child's record: who the child is, and who to call.

Header (name, date of birth with age, gender, NHS number 3-3-4, address, CAF badge), then
carers, the practitioners working with the child (the lead professional first, with a
badge), the school and the GP practice. Every phone number and email has a one-click Copy
button that goes through the injected `copy` function (the clipboard module that tags and
clears copies). A shielded child shows only a banner with the index team's contact.
The content is rebuilt for each record and destroyed by `clear()`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
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
from cpdesk.records import ChildRecord, Contact, Involvement, Organisation, age_on
from cpdesk.records import format_nhs_number as nhs_3_3_4
from cpdesk.ui.theme import set_role

__all__ = ["RecordView"]

DEFAULT_INDEX_TEAM = "Contact the national index team."


def _label(text: str, role: str = "", *, select: bool = True) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    if role:
        set_role(label, role)
    if select:
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def _card() -> tuple[QFrame, QVBoxLayout]:
    frame = QFrame()
    set_role(frame, "card")
    layout = QVBoxLayout(frame)
    layout.setContentsMargins(18, 14, 18, 14)
    layout.setSpacing(6)
    return frame, layout


class RecordView(QWidget):
    """Signals:
    back_requested: return to the results (no new search).
    copied(str): what kind of value was copied ("phone number", "email address").
    """

    back_requested = Signal()
    copied = Signal(str)

    def __init__(
        self,
        copy: Callable[[str], None],
        today: Callable[[], dt.date],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._copy = copy
        self._today = today
        self.back = QPushButton("← Back to results")
        self.back.setObjectName("back")
        self.back.setToolTip("Back to results (Alt+Left)")
        self.back.clicked.connect(self.back_requested)
        shortcut = QShortcut(QKeySequence("Alt+Left"), self)
        shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        shortcut.activated.connect(self.back_requested)
        self.note = _label("", "hint", select=False)
        self.note.setObjectName("copy-note")
        self.note.hide()
        top = QHBoxLayout()
        top.addWidget(self.back)
        top.addSpacing(12)
        top.addWidget(self.note)
        top.addStretch(1)
        self.scroller = QScrollArea()
        self.scroller.setWidgetResizable(True)
        self.scroller.setFrameShape(QFrame.Shape.NoFrame)
        self.scroller.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._content: QWidget | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 12, 20, 12)
        layout.setSpacing(8)
        layout.addLayout(top)
        layout.addWidget(self.scroller, 1)

    # -- public ---------------------------------------------------------------------

    def show_record(self, record: ChildRecord, cached_at: dt.datetime | None = None) -> None:
        """Draw a record (replacing any other)."""
        self.clear()
        content = QWidget()
        content.setObjectName("page")
        layout = QVBoxLayout(content)
        layout.setContentsMargins(0, 0, 8, 0)
        layout.setSpacing(14)
        if cached_at is not None:
            layout.addWidget(self._cached_banner(cached_at))
        if record.shielded:
            layout.addWidget(self._shielded_banner(record))
        else:
            layout.addWidget(self._header(record))
            layout.addWidget(_label("Parents and carers", "h2"))
            layout.addWidget(self._carers(record))
            layout.addWidget(_label("Practitioners working with this child", "h2"))
            layout.addWidget(self._involvements(record))
            layout.addWidget(_label("School and GP practice", "h2"))
            places = QHBoxLayout()
            places.setSpacing(14)
            places.addWidget(self._organisation("School", record.school), 1)
            places.addWidget(self._organisation("GP practice", record.gp), 1)
            layout.addLayout(places)
        layout.addStretch(1)
        self._content = content
        self.scroller.setWidget(content)
        self.scroller.verticalScrollBar().setValue(0)
        self.back.setFocus()

    def clear(self) -> None:
        """Destroy every widget that shows child data."""
        self.note.clear()
        self.note.hide()
        old = self.scroller.takeWidget()
        if old is not None:
            for label in old.findChildren(QLabel):
                label.clear()
            old.hide()
            old.deleteLater()
        self._content = None

    # -- parts ----------------------------------------------------------------------

    def _cached_banner(self, cached_at: dt.datetime) -> QFrame:
        frame = QFrame()
        set_role(frame, "warning")
        row = QHBoxLayout(frame)
        local = cached_at.astimezone()
        row.addWidget(_label(f"Saved copy from {local:%H:%M}: it may be out of date.", ""))
        return frame

    def _shielded_banner(self, record: ChildRecord) -> QFrame:
        frame = QFrame()
        frame.setObjectName("shielded-banner")
        set_role(frame, "shielded")
        frame.setAccessibleName("Restricted record")
        layout = QVBoxLayout(frame)
        layout.setContentsMargins(28, 24, 28, 24)
        layout.setSpacing(10)
        layout.addWidget(_label("Restricted record", "h1"))
        layout.addWidget(
            _label(
                "This child's details are shielded for their safety. The index does not "
                "show them to anyone. To reach the people working with this child, "
                "contact the index team:"
            )
        )
        contact = record.index_team_contact or DEFAULT_INDEX_TEAM
        layout.addWidget(_label(contact, "h2"))
        return frame

    def _header(self, record: ChildRecord) -> QFrame:
        child = record.summary
        frame, layout = _card()
        frame.setObjectName("record-header")
        title = QHBoxLayout()
        name = _label(child.display_name, "h1")
        name.setObjectName("child-name")
        title.addWidget(name, 1)
        if record.caf:
            caf = _label("CAF assessment in place", "badge-caf", select=False)
            caf.setWordWrap(False)
            caf.setObjectName("caf-badge")
            caf.setToolTip("A Common Assessment Framework assessment exists for this child")
            title.addWidget(caf, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(title)
        born = ""
        if child.birthdate:
            age = age_on(child.birthdate, self._today())
            born = f"{format_date(child.birthdate, long=True)} ({age} years)"
        facts = (
            ("Date of birth", born),
            ("Gender", child.gender.capitalize()),
            ("NHS number", nhs_3_3_4(child.nhs_number)),
            ("Address", ", ".join(record.address)),
        )
        grid = QGridLayout()
        grid.setHorizontalSpacing(16)
        grid.setVerticalSpacing(4)
        for row, (what, value) in enumerate(facts):
            grid.addWidget(
                _label(what, "fact-label", select=False), row, 0, Qt.AlignmentFlag.AlignTop
            )
            grid.addWidget(_label(value or "Not recorded"), row, 1)
        grid.setColumnStretch(1, 1)
        layout.addLayout(grid)
        return frame

    def _contact_rows(self, layout: QVBoxLayout, contact: Contact, whose: str) -> None:
        for kind, value in (("phone number", contact.phone), ("email address", contact.email)):
            if not value:
                continue
            row = QHBoxLayout()
            row.setSpacing(10)
            text = _label(value, "contact")
            text.setWordWrap(False)
            text.setAccessibleName(f"{kind.capitalize()} of {whose}")
            button = QPushButton("Copy")
            set_role(button, "copy")
            button.setAccessibleName(f"Copy {kind} of {whose}")
            button.setToolTip(f"Copy {kind}")
            button.clicked.connect(lambda _=False, v=value, k=kind: self._do_copy(v, k))
            caption = _label("Phone" if kind == "phone number" else "Email", "fact-label")
            caption.setMinimumWidth(caption.fontMetrics().horizontalAdvance("Email") + 12)
            row.addWidget(caption)
            row.addWidget(text)
            row.addWidget(button)  # next to its value: no eye travel across the card
            row.addStretch(1)
            layout.addLayout(row)

    def _carers(self, record: ChildRecord) -> QWidget:
        holder = QWidget()
        column = QVBoxLayout(holder)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(10)
        if not record.carers:
            column.addWidget(_label("No parents or carers recorded."))
            return holder
        for carer in record.carers:
            frame, layout = _card()
            frame.setObjectName("carer")
            layout.addWidget(_label(carer.name, "h2"))
            relation = carer.relationship or "Carer"
            if carer.parental_responsibility:
                relation += " · has parental responsibility"
            layout.addWidget(_label(relation, "hint"))
            self._contact_rows(layout, carer.contact, carer.relationship or "carer")
            if carer.address:
                layout.addWidget(_label(f"Lives at {carer.address}", "hint"))
            column.addWidget(frame)
        return holder

    def _involvements(self, record: ChildRecord) -> QWidget:
        holder = QWidget()
        layout = QVBoxLayout(holder)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        if not record.involvements:
            layout.addWidget(_label("No practitioners recorded."))
            return holder
        ordered = sorted(record.involvements, key=lambda i: not i.lead_professional)
        for involvement in ordered:
            layout.addWidget(self._involvement(involvement))
        return holder

    def _involvement(self, inv: Involvement) -> QFrame:
        frame, layout = _card()
        frame.setObjectName("involvement")
        top = QHBoxLayout()
        top.addWidget(_label(inv.practitioner, "h2"), 1)
        if inv.lead_professional:
            badge = _label("Lead professional", "badge-lead", select=False)
            badge.setWordWrap(False)
            badge.setObjectName("lead-badge")
            top.addWidget(badge, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(top)
        what = " · ".join(part for part in (inv.role, inv.organisation) if part)
        if what:
            layout.addWidget(_label(what))
        if inv.since:
            layout.addWidget(_label(f"Since {format_date(inv.since, long=True)}", "hint"))
        self._contact_rows(layout, inv.contact, inv.role or "practitioner")
        return frame

    def _organisation(self, title: str, org: Organisation | None) -> QFrame:
        frame, layout = _card()
        frame.setObjectName(title.lower().replace(" ", "-"))
        layout.addWidget(_label(title, "fact-label", select=False))
        if org is None:
            layout.addWidget(_label("Not recorded"))
            return frame
        layout.addWidget(_label(org.name, "h2"))
        self._contact_rows(layout, org.contact, title.lower())
        layout.addStretch(1)
        return frame

    def _do_copy(self, value: str, kind: str) -> None:
        self._copy(value)
        self.note.setText(f"{kind.capitalize()} copied.")
        self.note.show()
        self.copied.emit(kind)
