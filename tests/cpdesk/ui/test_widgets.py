"""Single widgets: date input, search form, results keyboard, reason dialog, sign-in."""

from __future__ import annotations

import datetime as dt

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLineEdit, QPushButton, QWidget

from cpdesk.records import AccessReason, SearchQuery
from cpdesk.ui.dateinput import DateInput
from cpdesk.ui.reason_dialog import ReasonDialog
from cpdesk.ui.record_view import RecordView
from cpdesk.ui.results import ResultsView, what_to_add
from cpdesk.ui.search import SearchForm
from cpdesk.ui.signin import SignInPage
from cpdesk.ui.theme import MIN_TARGET_PX, apply_theme
from tests.cpdesk.ui.fakes import (
    JAYDEN_RECORD,
    OLIVIA,
    OLIVIA_RECORD,
    gc_on_gui_thread,  # noqa: F401
)

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

TODAY = dt.date(2026, 11, 26)


@pytest.fixture(autouse=True)
def themed(qapp):
    apply_theme(qapp)


def test_pasting_a_full_date_into_day_fills_all_three(qtbot) -> None:
    dob = DateInput()
    qtbot.addWidget(dob)
    dob.day.setFocus()
    qtbot.keyClicks(dob.day, "22/10/2010")
    assert (dob.day.text(), dob.month.text(), dob.year.text()) == ("22", "10", "2010")
    assert dob.check(TODAY).value == dt.date(2010, 10, 22)


def test_no_auto_tab(qtbot) -> None:
    dob = DateInput()
    qtbot.addWidget(dob)
    dob.show()
    dob.day.setFocus()
    qtbot.keyClicks(dob.day, "22")
    qtbot.keyClicks(dob.day, "1")  # a third digit stays in Day: nothing jumped to Month
    assert dob.day.text() == "221"
    assert dob.month.text() == ""


def test_date_error_shows_and_marks_the_field(qtbot) -> None:
    dob = DateInput()
    qtbot.addWidget(dob)
    dob.day.setText("22")
    dob.year.setText("2010")
    result = dob.check(TODAY)
    assert result.error == "Date of birth must include a month"
    assert dob.month.property("error") == "true"
    assert dob.day.property("error") == "false"
    assert dob.first_field_in_error() is dob.month
    assert dob.day.text() == "22"  # never cleared


def test_every_input_has_an_accessible_name(qtbot) -> None:
    widgets: list[QWidget] = [
        SearchForm(lambda: TODAY),
        SignInPage("https://x"),
        ReasonDialog(None),
    ]
    for w in widgets:
        qtbot.addWidget(w)
        for edit in w.findChildren(QLineEdit):
            assert edit.accessibleName(), edit.objectName()


def test_click_targets_are_big_enough(qtbot) -> None:
    form = SearchForm(lambda: TODAY)
    qtbot.addWidget(form)
    form.resize(420, 900)
    form.show()
    qtbot.waitExposed(form)
    for widget in [*form.findChildren(QLineEdit), *form.findChildren(QPushButton), form.gender]:
        assert widget.height() >= 24 and widget.width() >= 24, widget.objectName()
        assert widget.height() >= MIN_TARGET_PX - 4


def test_search_form_builds_the_query_and_keeps_fields(qtbot) -> None:
    form = SearchForm(lambda: TODAY)
    qtbot.addWidget(form)
    seen: list[SearchQuery] = []
    form.search_requested.connect(seen.append)
    form.given.setText("Olivia  Rose")
    form.family.setText(" Smithfield ")
    form.dob.set_date(dt.date(2011, 3, 14))
    form.gender.setCurrentIndex(form.gender.findData("female"))
    form.postcode.setText("ls6  2qb")
    qtbot.keyClick(form.postcode, Qt.Key.Key_Return)
    (query,) = seen
    assert query.given == ("Olivia", "Rose")
    assert query.family == "Smithfield"
    assert query.gender == "female"
    assert query.postcode == "LS6 2QB"
    assert query.fuzzy is True
    assert form.family.text() == " Smithfield "
    form.set_query(query)
    assert form.postcode.text() == "LS6 2QB"
    form.clear()
    assert form.family.text() == "" and form.dob.day.text() == ""


def test_search_form_requires_a_family_name_unless_fuzzy_has_enough(qtbot) -> None:
    form = SearchForm(lambda: TODAY)
    qtbot.addWidget(form)
    seen: list[SearchQuery] = []
    form.search_requested.connect(seen.append)
    form.dob.set_date(dt.date(2011, 3, 14))
    form.submit()
    assert not seen
    assert "Enter a family name" in form.summary_text.text()
    form.given.setText("Olivia")
    form.postcode.setText("LS6")
    form.gender.setCurrentIndex(1)
    form.submit()
    assert len(seen) == 1


def test_results_keyboard_enter_opens(qtbot) -> None:
    view = ResultsView(lambda: TODAY)
    qtbot.addWidget(view)
    view.show()
    opened = []
    view.open_requested.connect(opened.append)
    other = OLIVIA.__class__(index_id="c-2", family="Other", birthdate=dt.date(2011, 3, 14))
    view.show_results(SearchQuery(family="x"), [OLIVIA, other])
    assert view.model.data(view.model.index(0, 2)) == "15"
    assert view.model.data(view.model.index(0, 4)) == "LS6"
    qtbot.keyClick(view.table, Qt.Key.Key_Down)
    qtbot.keyClick(view.table, Qt.Key.Key_Return)
    assert [c.index_id for c in opened] == ["c-2"]


def test_what_to_add() -> None:
    assert what_to_add(SearchQuery(family="x")) == (
        "Add a given name, the gender or a postcode to narrow the search."
    )
    assert what_to_add(SearchQuery(given=("a",), gender="male")) == (
        "Add a postcode to narrow the search."
    )


def test_reason_dialog_requires_text_for_other_and_escape_cancels(qtbot) -> None:
    dialog = ReasonDialog(AccessReason.HEALTH_CARE)
    qtbot.addWidget(dialog)
    assert dialog.selected() is AccessReason.HEALTH_CARE
    chosen = []
    dialog.reason_chosen.connect(lambda r, t: chosen.append((r, t)))
    dialog.open()
    dialog.buttons[AccessReason.OTHER].setChecked(True)
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    assert not chosen
    assert dialog.error.text() == "Say why you need this record"
    dialog.text.setText("Court report")
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    assert chosen == [(AccessReason.OTHER, "Court report")]
    again = ReasonDialog(None)
    qtbot.addWidget(again)
    again.open()
    with qtbot.waitSignal(again.rejected):
        qtbot.keyClick(again, Qt.Key.Key_Escape)


def test_record_view_full_record(qtbot) -> None:
    copies: list[str] = []
    view = RecordView(copies.append, lambda: TODAY)
    qtbot.addWidget(view)
    view.show_record(OLIVIA_RECORD)
    texts = [lb.text() for lb in view.findChildren(QLabel) if lb.isVisibleTo(view)]
    assert "Olivia Rose Zebedeeson" in texts
    assert "14 March 2011 (15 years)" in texts
    assert "943 476 5919" in texts
    assert "12 Larkspur Row, Leeds, LS6 2QB" in texts
    assert "Lead professional" in texts
    assert "CAF assessment in place" in texts
    assert "Mother · has parental responsibility" in texts
    assert "Since 15 January 2025" in texts
    # lead professional first
    names = [
        lb.text()
        for lb in view.findChildren(QLabel)
        if lb.text() in ("Ravi Penhallow", "Dana Whitcombe")
    ]
    assert names[0] == "Ravi Penhallow"
    view.clear()
    assert not [lb.text() for lb in view.findChildren(QLabel) if "Olivia" in lb.text()]


def test_every_value_label_is_named_with_its_text_and_emptied_with_it(qtbot) -> None:
    """WCAG 2.5.3: an accessible name holds the visible text (the AT-SPI test reads it
    through the real accessibility bus; this one pins the names)."""
    view = RecordView(lambda _: None, lambda: TODAY)
    qtbot.addWidget(view)
    view.show_record(OLIVIA_RECORD)
    shown = [lb for lb in view.findChildren(QLabel) if lb.text() and lb.isVisibleTo(view)]
    for label in shown:
        assert label.text() in (label.accessibleName() or label.text()), label.accessibleName()
    names = {lb.accessibleName() for lb in shown}
    for name in (
        "Mother's phone, 07700 900123",
        "Mother's email, h.z@example.org",
        "Social worker's phone, 0113 496 0004",
        "School's phone, 0113 496 0001",
        "GP practice's phone, 0113 496 0002",
        "NHS number, 943 476 5919",
        "Date of birth, 14 March 2011 (15 years)",
    ):
        assert name in names
    view.clear()
    held = [w.accessibleName() for w in view.findChildren(QWidget)]
    assert not [n for n in held if "0113" in n or "07700" in n or "Zebedeeson" in n]


def test_record_view_shielded_shows_only_the_banner(qtbot) -> None:
    view = RecordView(lambda _: None, lambda: TODAY)
    qtbot.addWidget(view)
    view.show_record(JAYDEN_RECORD)
    texts = [lb.text() for lb in view.findChildren(QLabel) if lb.text() and lb.isVisibleTo(view)]
    assert "Restricted record" in texts
    assert "Contact the index team on 0300 000 0000" in texts
    assert not any("Jayden" in t or "Quillfeather" in t for t in texts)
    buttons = [b.text() for b in view.findChildren(QPushButton) if b.isVisibleTo(view)]
    assert buttons == ["← Back to results", "Send a notice…"]  # to the index team
    assert not any(t in texts for t in ("Lead professional", "CAF assessment in place"))


def test_sign_in_demo_mode_prefills_and_explains(qtbot) -> None:
    page = SignInPage("https://127.0.0.1:1234", demo=True)
    qtbot.addWidget(page)
    assert page.username.text() == "nurse.demo"
    assert not page.demo_box.isHidden()
    assert "printed in the terminal" in page.demo_hint.text()
    requests = []
    page.sign_in_requested.connect(lambda *a: requests.append(a))
    page.password.setText("pw")
    qtbot.keyClick(page.password, Qt.Key.Key_Return)
    assert not requests
    assert "one-time code" in page.message.text()
    page.password.setText("pw")
    page.otp.setText("123 456")
    qtbot.keyClick(page.otp, Qt.Key.Key_Return)
    assert requests == [("nurse.demo", "pw", "123456")]
    assert page.password.text() == ""


def test_tab_order_follows_the_form(qtbot) -> None:
    form = SearchForm(lambda: TODAY)
    qtbot.addWidget(form)
    form.show()
    order = []
    widget = form.given
    for _ in range(40):
        if (
            widget.isVisible()
            and widget.focusPolicy() & Qt.FocusPolicy.TabFocus
            and widget.objectName()
        ):
            order.append(widget.objectName())
        widget = widget.nextInFocusChain()
        if widget is form.given:
            break
    expected = ["given", "family", "dob-day", "dob-month", "dob-year", "gender", "postcode",
                "fuzzy", "search"]  # fmt: skip
    assert order[: len(expected)] == expected


def test_enter_in_the_reason_dialog_opens_with_the_preselected_reason(qtbot) -> None:
    dialog = ReasonDialog(AccessReason.SOCIAL_CARE)
    qtbot.addWidget(dialog)
    chosen = []
    dialog.reason_chosen.connect(lambda r, t: chosen.append(r))
    dialog.open()
    qtbot.keyClick(dialog.buttons[AccessReason.SOCIAL_CARE], Qt.Key.Key_Return)
    assert chosen == [AccessReason.SOCIAL_CARE]
