"""A child's record: who the child is, and who to call.

Header (name, date of birth with age, gender, NHS number 3-3-4, address, CAF badge), then
carers, the practitioners working with the child (the lead professional first, with a
badge), the school and the GP practice. Every phone number and email has a one-click Copy
button that goes through the injected `copy` function (the clipboard module that tags and
clears copies). A shielded child shows only a banner with the index team's contact.

The widgets are built once and refilled for each record (cards are pooled), because
building and styling some hundred widgets per record cost most of the 60 ms budget from
"reason confirmed" to "record on screen". `clear()` empties every text (and every
accessible name that holds one) and hides every card; a lock calls it.

Every label shows plain text: names, roles and organisations come from feeds and from
practitioners' own declarations, and Qt would render "<a href=...>" or "<h1>" in a label
left to guess the format. "I am working with this child" adds the user's own involvement
(cpdesk/ui/involvement_dialog.py); "End my involvement" shows on that one card only.
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
SELF_DECLARED_NOTE = "Self-declared: added by this practitioner, not from a service's records"
TEAM_VIEW = (
    "Shielded child: shown to the index team only, and this view is recorded. Never pass on "
    "anything that locates the child."
)


def _label(text: str = "", role: str = "", *, select: bool = True, wrap: bool = True) -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)  # index data is never markup
    label.setWordWrap(wrap)
    if role:
        set_role(label, role)
    if select:
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def _card(name: str) -> tuple[QFrame, QVBoxLayout]:
    frame = QFrame()
    frame.setObjectName(name)
    set_role(frame, "card")
    layout = QVBoxLayout(frame)
    layout.setContentsMargins(18, 14, 18, 14)
    layout.setSpacing(6)
    return frame, layout


class _ContactRow(QWidget):
    """'Phone  0113 496 0000  [Copy]': hidden when there is no value.

    The value's accessible name says whose it is and holds the value itself ("Mother's
    phone, 07700 900123"): a name that replaced the text would leave a screen reader
    announcing what the value is and never the value (WCAG 2.2, 2.5.3 and 4.1.2).
    """

    def __init__(self, kind: str, copy: Callable[[str, str], None]) -> None:
        super().__init__()
        self.kind = kind
        self._short = "phone" if kind == "phone number" else "email"
        self._value = ""
        caption = _label("Phone" if kind == "phone number" else "Email", "fact-label")
        caption.setMinimumWidth(caption.fontMetrics().horizontalAdvance("Email") + 12)
        self.text = _label("", "contact", wrap=False)
        self.button = QPushButton("Copy")
        set_role(self.button, "copy")
        self.button.setToolTip(f"Copy {kind}")
        self.button.clicked.connect(lambda: copy(self._value, self.kind))
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(10)
        row.addWidget(caption)
        row.addWidget(self.text)
        row.addWidget(self.button)  # next to its value: no eye travel across the card
        row.addStretch(1)

    def fill(self, value: str, whose: str) -> None:
        self._value = value
        self.text.setText(value)
        owner = whose[:1].upper() + whose[1:]
        self.text.setAccessibleName(f"{owner}'s {self._short}, {value}" if value else "")
        self.button.setAccessibleName(f"Copy {self.kind} of {whose}" if value else "")
        self.setVisible(bool(value))

    def clear(self) -> None:
        self._value = ""
        self.text.clear()
        self.text.setAccessibleName("")
        self.button.setAccessibleName("")
        self.hide()


class _ContactCard(QFrame):
    """A person or organisation: title, badge, lines of text, phone and email."""

    def __init__(
        self,
        name: str,
        copy: Callable[[str, str], None],
        lines: int,
        badge: str = "",
        action: str = "",
    ) -> None:
        super().__init__()
        frame, layout = self, QVBoxLayout(self)
        frame.setObjectName(name)
        set_role(frame, "card")
        layout.setContentsMargins(18, 14, 18, 14)
        layout.setSpacing(6)
        top = QHBoxLayout()
        self.title = _label("", "h2")
        top.addWidget(self.title, 1)
        self.badge: QLabel | None = None
        if badge:
            self.badge = _label(badge, "badge-lead", select=False, wrap=False)
            self.badge.setObjectName("lead-badge")
            top.addWidget(self.badge, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(top)
        self.lines = [_label() for _ in range(lines)]
        for line in self.lines:
            layout.addWidget(line)
        self.phone = _ContactRow("phone number", copy)
        self.email = _ContactRow("email address", copy)
        layout.addWidget(self.phone)
        layout.addWidget(self.email)
        self.footer = _label("", "hint")
        layout.addWidget(self.footer)
        self.action: QPushButton | None = None
        self.action_target = ""  # what the action acts on (a PractitionerRole id)
        if action:
            self.action = QPushButton(action)
            self.action.setObjectName("end-involvement")
            self.action.setAccessibleName(f"{action} with this child")
            self.action.hide()
            row = QHBoxLayout()
            row.addWidget(self.action)
            row.addStretch(1)
            layout.addLayout(row)

    def fill(
        self,
        title: str,
        lines: list[tuple[str, str]],
        contact: Contact,
        whose: str,
        *,
        badge: bool = False,
        footer: str = "",
    ) -> None:
        self.title.setText(title)
        if self.badge is not None:
            self.badge.setVisible(badge)
        for label, (text, role) in zip(self.lines, [*lines, *[("", "")] * 4], strict=False):
            label.setText(text)
            label.setVisible(bool(text))
            if text and label.property("role") != role:
                set_role(label, role)
        self.phone.fill(contact.phone, whose)
        self.email.fill(contact.email, whose)
        self.footer.setText(footer)
        self.footer.setVisible(bool(footer))
        self.show()

    def set_action(self, target: str) -> None:
        """Show the action button for `target`, or hide it ("")."""
        self.action_target = target
        if self.action is not None:
            self.action.setVisible(bool(target))

    def clear(self) -> None:
        self.set_action("")
        self.title.clear()
        for label in self.lines:
            label.clear()
        self.phone.clear()
        self.email.clear()
        self.footer.clear()
        self.hide()


class _Pool:
    """Cards of one kind in a column: grows when a record needs more, never shrinks."""

    def __init__(self, make: Callable[[], _ContactCard], empty_text: str) -> None:
        self.holder = QWidget()
        self.layout = QVBoxLayout(self.holder)
        self.layout.setContentsMargins(0, 0, 0, 0)
        self.layout.setSpacing(10)
        self.empty = _label(empty_text)
        self.layout.addWidget(self.empty)
        self._make = make
        self.cards: list[_ContactCard] = []

    def take(self, count: int) -> list[_ContactCard]:
        while len(self.cards) < count:
            card = self._make()
            self.cards.append(card)
            self.layout.addWidget(card)
        for card in self.cards[count:]:
            card.clear()
        self.empty.setVisible(count == 0)
        return self.cards[:count]

    def clear(self) -> None:
        for card in self.cards:
            card.clear()
        self.empty.hide()


class RecordView(QWidget):
    """Signals:
    back_requested: return to the results (no new search).
    notice_requested: send a notice about this child to the people working with it.
    copied(str): what kind of value was copied ("phone number", "email address").
    declare_requested: "I am working with this child".
    end_requested(str): "End my involvement", with the involvement's PractitionerRole id.
    """

    back_requested = Signal()
    copied = Signal(str)
    declare_requested = Signal()
    end_requested = Signal(str)
    notice_requested = Signal()  # "Send a notice…" (cpdesk/ui/inbox.py opens the dialog)

    def __init__(
        self,
        copy: Callable[[str], None],
        today: Callable[[], dt.date],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._copy = copy
        self._today = today
        self._live = False
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
        self.send_notice = QPushButton("Send a notice…")
        self.send_notice.setObjectName("send-notice-button")
        self.send_notice.setToolTip("Tell the people working with this child (Ctrl+N)")
        self.send_notice.clicked.connect(self.notice_requested)
        notice_key = QShortcut(QKeySequence("Ctrl+N"), self)
        notice_key.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        notice_key.activated.connect(self.notice_requested)
        top = QHBoxLayout()
        top.addWidget(self.back)
        top.addSpacing(12)
        top.addWidget(self.note)
        top.addStretch(1)
        top.addWidget(self.send_notice)
        self.scroller = QScrollArea()
        self.scroller.setAccessibleName("Record")  # it takes focus: a reader names it
        self.scroller.setWidgetResizable(True)
        self.scroller.setFrameShape(QFrame.Shape.NoFrame)
        self.scroller.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroller.setWidget(self._build_content())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 12, 20, 12)
        layout.setSpacing(8)
        layout.addLayout(top)
        layout.addWidget(self.scroller, 1)
        self.clear()

    # -- building (once) ----------------------------------------------------------------

    def _build_content(self) -> QWidget:
        content = QWidget()
        content.setObjectName("page")
        layout = QVBoxLayout(content)
        layout.setContentsMargins(0, 0, 8, 0)
        layout.setSpacing(14)
        self.cached = QFrame()
        set_role(self.cached, "warning")
        self.cached_text = _label("", select=False)
        QHBoxLayout(self.cached).addWidget(self.cached_text)
        layout.addWidget(self.cached)
        self.banner = QFrame()
        self.banner.setObjectName("shielded-banner")
        set_role(self.banner, "shielded")
        self.banner.setAccessibleName("Restricted record")
        banner = QVBoxLayout(self.banner)
        banner.setContentsMargins(28, 24, 28, 24)
        banner.setSpacing(10)
        self.banner_title = _label("", "h1")
        self.banner_text = _label("")
        self.banner_contact = _label("", "h2")
        for widget in (self.banner_title, self.banner_text, self.banner_contact):
            banner.addWidget(widget)
        layout.addWidget(self.banner)
        self.details = QWidget()
        details = QVBoxLayout(self.details)
        details.setContentsMargins(0, 0, 0, 0)
        details.setSpacing(14)
        details.addWidget(self._build_header())
        details.addWidget(_label("Parents and carers", "h2", select=False))
        self.carers = _Pool(
            lambda: _ContactCard("carer", self._do_copy, 1), "No parents or carers recorded."
        )
        details.addWidget(self.carers.holder)
        details.addWidget(_label("Practitioners working with this child", "h2", select=False))
        self.declare = QPushButton("I am working with this child…")
        self.declare.setObjectName("declare-involvement")
        self.declare.setAccessibleName("I am working with this child")
        self.declare.setToolTip("Add yourself to the practitioners on this record")
        self.declare.clicked.connect(self.declare_requested)
        declare_row = QHBoxLayout()
        declare_row.addWidget(self.declare)
        declare_row.addStretch(1)
        details.addLayout(declare_row)
        self.involvements = _Pool(self._involvement_card, "No practitioners recorded.")
        details.addWidget(self.involvements.holder)
        details.addWidget(_label("School and GP practice", "h2", select=False))
        places = QHBoxLayout()
        places.setSpacing(14)
        self.school = _ContactCard("school", self._do_copy, 1)
        self.gp = _ContactCard("gp-practice", self._do_copy, 1)
        places.addWidget(self.school, 1)
        places.addWidget(self.gp, 1)
        details.addLayout(places)
        layout.addWidget(self.details)
        layout.addStretch(1)
        return content

    def _involvement_card(self) -> _ContactCard:
        card = _ContactCard(
            "involvement", self._do_copy, 3, badge="Lead professional", action="End my involvement"
        )
        assert card.action is not None
        card.action.clicked.connect(lambda: self.end_requested.emit(card.action_target))
        return card

    def _build_header(self) -> QFrame:
        frame, layout = _card("record-header")
        title = QHBoxLayout()
        self.name = _label("", "h1")
        self.name.setObjectName("child-name")
        title.addWidget(self.name, 1)
        self.caf = _label("CAF assessment in place", "badge-caf", select=False, wrap=False)
        self.caf.setObjectName("caf-badge")
        self.caf.setToolTip("A Common Assessment Framework assessment exists for this child")
        title.addWidget(self.caf, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(title)
        grid = QGridLayout()
        grid.setHorizontalSpacing(16)
        grid.setVerticalSpacing(4)
        self.facts: dict[str, QLabel] = {}
        for row, what in enumerate(("Date of birth", "Gender", "NHS number", "Address")):
            caption = _label(what, "fact-label", select=False)
            grid.addWidget(caption, row, 0, Qt.AlignmentFlag.AlignTop)
            self.facts[what] = _label()
            grid.addWidget(self.facts[what], row, 1)
        grid.setColumnStretch(1, 1)
        layout.addLayout(grid)
        return frame

    # -- public -------------------------------------------------------------------------

    def show_record(self, record: ChildRecord, banner: str = "") -> None:
        """Draw a record, overwriting every text of the one before (no hide-and-show).

        `banner`: a warning above it (an offline copy), or "" for none.
        """
        self.note.clear()
        self.note.hide()
        self._live = not banner  # an offline copy: nothing can be changed
        if record.team_view:  # the index team's view of a shielded child
            banner = " ".join(part for part in (TEAM_VIEW, banner) if part)
        if banner:
            self.cached_text.setText(banner)
            self.cached.show()
        else:
            self.cached_text.clear()
            self.cached.hide()
        if record.shielded and not record.team_view:
            self._clear_details()
            self._fill_shielded(record)
        else:
            self._clear_banner()
            self._fill_details(record)
        self.scroller.verticalScrollBar().setValue(0)
        self.back.setFocus()

    def clear(self) -> None:
        """Empty every text that can hold child data and hide every section."""
        self.note.clear()
        self.note.hide()
        self.cached_text.clear()
        self.cached.hide()
        self._clear_banner()
        self._clear_details()

    def _clear_banner(self) -> None:
        for label in (self.banner_title, self.banner_text, self.banner_contact):
            label.clear()
        self.banner.hide()

    def _clear_details(self) -> None:
        self.name.clear()
        for label in self.facts.values():
            label.clear()
            label.setAccessibleName("")
        self.carers.clear()
        self.involvements.clear()
        self.school.clear()
        self.gp.clear()
        self.details.hide()

    # -- filling ------------------------------------------------------------------------

    def _fill_shielded(self, record: ChildRecord) -> None:
        self.banner_title.setText("Restricted record")
        self.banner_text.setText(
            "This child's details are shielded for their safety. The index does not "
            "show them to anyone. To reach the people working with this child, "
            "contact the index team, or ask them with “Send a notice…” above:"
        )
        self.banner_contact.setText(record.index_team_contact or DEFAULT_INDEX_TEAM)
        self.banner.show()

    def _fill_details(self, record: ChildRecord) -> None:
        child = record.summary
        self.name.setText(child.display_name)
        self.caf.setVisible(record.caf)
        born = ""
        if child.birthdate:
            age = age_on(child.birthdate, self._today())
            born = f"{format_date(child.birthdate, long=True)} ({age} years)"
        values = {
            "Date of birth": born,
            "Gender": child.gender.capitalize(),
            "NHS number": nhs_3_3_4(child.nhs_number),
            "Address": ", ".join(record.address),
        }
        for what, value in values.items():
            self.facts[what].setText(value or "Not recorded")
            # Read with its caption, and holding the text (WCAG 2.5.3).
            self.facts[what].setAccessibleName(f"{what}, {value or 'Not recorded'}")
        for card, carer in zip(self.carers.take(len(record.carers)), record.carers, strict=True):
            relation = carer.relationship or "Carer"
            if carer.parental_responsibility:
                relation += " · has parental responsibility"
            card.fill(
                carer.name,
                [(relation, "hint")],
                carer.contact,
                carer.relationship or "carer",
                footer=f"Lives at {carer.address}" if carer.address else "",
            )
        ordered = sorted(record.involvements, key=lambda i: not i.lead_professional)
        for card, inv in zip(self.involvements.take(len(ordered)), ordered, strict=True):
            self._fill_involvement(card, inv)
        # Not on an offline copy (the index must say yes), nor twice for the same child.
        self.declare.setVisible(self._live and not any(i.mine for i in record.involvements))
        self._fill_organisation(self.school, "School", record.school)
        self._fill_organisation(self.gp, "GP practice", record.gp)
        self.details.show()

    def _fill_involvement(self, card: _ContactCard, inv: Involvement) -> None:
        what = " · ".join(part for part in (inv.role, inv.organisation) if part)
        since = f"Since {format_date(inv.since, long=True)}" if inv.since else ""
        if inv.source == "Self-declared":
            source = "Self-declared by you" if inv.mine else SELF_DECLARED_NOTE
        else:
            source = f"From {inv.source}" if inv.source else ""
        card.fill(
            inv.practitioner,
            [(what, ""), (since, "hint"), (source, "hint")],
            inv.contact,
            inv.role or "practitioner",
            badge=inv.lead_professional,
        )
        card.set_action(inv.role_id if inv.mine and self._live else "")

    def show_message(self, text: str) -> None:
        """A short note beside Back ("Your involvement with this child has ended.")."""
        self.note.setText(text)
        self.note.setVisible(bool(text))

    @staticmethod
    def _fill_organisation(card: _ContactCard, title: str, org: Organisation | None) -> None:
        if org is None:
            card.fill(title, [("Not recorded", "")], Contact(), title)
        else:
            card.fill(org.name, [(title, "fact-label")], org.contact, title)

    def _do_copy(self, value: str, kind: str) -> None:
        if not value:
            return
        self._copy(value)
        self.note.setText(f"{kind.capitalize()} copied.")
        self.note.show()
        self.copied.emit(kind)
