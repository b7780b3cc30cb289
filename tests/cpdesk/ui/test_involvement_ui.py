"""The record's involvement controls and the dialog, by keyboard; markup shown as text."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import Qt as GuiQt
from PySide6.QtWidgets import QLabel, QPushButton

from cpdesk.involvements import SelfDeclaration
from cpdesk.records import Contact, Involvement
from cpdesk.ui.involvement_dialog import InvolvementDialog
from cpdesk.ui.record_view import SELF_DECLARED_NOTE, RecordView
from cpdesk.ui.theme import apply_theme
from tests.cpdesk.ui.fakes import OLIVIA_RECORD, gc_on_gui_thread  # noqa: F401

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

TODAY = dt.date(2026, 11, 26)
MINE = Involvement(
    "Sam Tester", "Youth worker", "Testshire Youth Service", Contact("0113 496 0777"),
    dt.date(2026, 10, 1), False, "c-olivia-involvement-4", "Self-declared", mine=True,
)  # fmt: skip
THEIRS = dataclasses.replace(MINE, practitioner="Ali Other", role_id="c-olivia-involvement-5",
                             mine=False)  # fmt: skip


@pytest.fixture(autouse=True)
def themed(qapp):
    apply_theme(qapp)


def _view(qtbot, *involvements: Involvement, banner: str = "") -> RecordView:
    view = RecordView(lambda _: None, lambda: TODAY)
    qtbot.addWidget(view)
    record = dataclasses.replace(
        OLIVIA_RECORD, involvements=OLIVIA_RECORD.involvements + involvements
    )
    view.show_record(record, banner)
    return view


def _shown(view: RecordView) -> list[str]:
    return [lb.text() for lb in view.findChildren(QLabel) if lb.text() and lb.isVisibleTo(view)]


def _buttons(view: RecordView, name: str) -> list[QPushButton]:
    return [b for b in view.findChildren(QPushButton, name) if b.isVisibleTo(view)]


def _renders_markup(label: QLabel) -> bool:
    if label.textFormat() == Qt.TextFormat.RichText:
        return True
    return label.textFormat() == Qt.TextFormat.AutoText and GuiQt.mightBeRichText(label.text())


def test_markup_from_the_index_is_shown_as_text(qtbot) -> None:
    """A practitioner declares a 'role' holding HTML: every other practitioner must see
    those characters, never a link, heading or image drawn from them."""
    hostile = dataclasses.replace(
        THEIRS, practitioner="<b>Lead professional</b>",
        role="<h1>URGENT</h1><a href='https://evil.example'>call 0800 000 000</a>",
        organisation="<img src='https://evil.example/x.png'>",
    )  # fmt: skip
    view = _view(qtbot, hostile)
    labels = [lb for lb in view.findChildren(QLabel) if lb.text() and lb.isVisibleTo(view)]
    assert any("<h1>URGENT</h1>" in lb.text() for lb in labels)
    assert [lb.text() for lb in labels if _renders_markup(lb)] == []


def test_own_declaration_can_be_ended_and_not_repeated(qtbot) -> None:
    view = _view(qtbot, MINE, THEIRS)
    texts = _shown(view)
    assert "Self-declared by you" in texts
    assert SELF_DECLARED_NOTE in texts
    assert _buttons(view, "declare-involvement") == []  # one active declaration per child
    [end] = _buttons(view, "end-involvement")
    assert end.accessibleName() == "End my involvement with this child"
    with qtbot.waitSignal(view.end_requested) as ended:
        end.setFocus()
        qtbot.keyClick(end, Qt.Key.Key_Space)
    assert ended.args == [MINE.role_id]


def test_declare_is_offered_on_a_live_record_only(qtbot) -> None:
    view = _view(qtbot, THEIRS)
    [declare] = _buttons(view, "declare-involvement")
    assert declare.accessibleName() == "I am working with this child"
    with qtbot.waitSignal(view.declare_requested):
        declare.setFocus()
        qtbot.keyClick(declare, Qt.Key.Key_Space)
    offline = _view(qtbot, MINE, banner="Offline copy from 14:02 — may be out of date")
    assert _buttons(offline, "declare-involvement") == []
    assert _buttons(offline, "end-involvement") == []
    view.clear()
    assert SELF_DECLARED_NOTE not in _shown(view)


def _tab_order(dialog: InvolvementDialog) -> list[object]:
    """The widgets Tab visits from the role field, in order."""
    order: list[object] = []
    widget = dialog.role
    while widget not in order:
        tabbable = widget.focusPolicy() & Qt.FocusPolicy.TabFocus
        if tabbable and widget.isVisibleTo(dialog) and widget.focusProxy() is None:
            order.append(widget)
        widget = widget.nextInFocusChain()
    return [dialog.since if w is dialog.since.lineEdit() else w for w in order]


def test_the_dialog_by_keyboard(qtbot) -> None:
    dialog = InvolvementDialog(lambda: TODAY)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.activateWindow()
    qtbot.waitActive(dialog)
    sent: list[SelfDeclaration] = []
    dialog.declared.connect(sent.append)
    assert dialog.focusWidget() is dialog.role
    qtbot.keyClick(dialog.role, Qt.Key.Key_Return)  # nothing typed
    assert not sent and dialog.error.isVisibleTo(dialog)
    assert "role" in dialog.error.text().lower()
    qtbot.keyClicks(dialog.role, "Youth worker")
    assert _tab_order(dialog)[:5] == [
        dialog.role, dialog.since, dialog.lead, dialog.phone, dialog.email
    ]  # fmt: skip
    # Tab walks the date's day, month and year (Qt's date field), then the lead box
    for _ in range(4):
        qtbot.keyClick(dialog.focusWidget(), Qt.Key.Key_Tab)
        if dialog.focusWidget() is dialog.lead:
            break
    assert dialog.focusWidget() is dialog.lead
    qtbot.keyClick(dialog.lead, Qt.Key.Key_Space)
    assert dialog.lead.isChecked()
    qtbot.keyClick(dialog.lead, Qt.Key.Key_Tab)
    assert dialog.focusWidget() is dialog.phone
    qtbot.keyClicks(dialog.phone, "0113 496 0777")
    qtbot.keyClick(dialog.phone, Qt.Key.Key_Return)
    assert sent == [SelfDeclaration("Youth worker", TODAY, True, "0113 496 0777", "")]
    assert not dialog.ok.isEnabled()  # waiting for the index
    dialog.show_result(False, "This child already has a lead professional.")
    assert dialog.error.text() == "This child already has a lead professional."
    assert dialog.ok.isEnabled() and dialog.isVisible()
    dialog.show_result(True, "")
    assert not dialog.isVisible()
    assert dialog.role.text() == "" and dialog.phone.text() == ""  # forgotten when closed
