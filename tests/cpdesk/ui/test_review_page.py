"""The review screen's widgets: marks readable without colour, emptied by wipe()."""

from __future__ import annotations

import dataclasses

from PySide6.QtWidgets import QLabel

from cpdesk.review import compare
from cpdesk.ui.review import ReviewPage
from tests.cpdesk.test_review import CHILD, case


def _page(qtbot) -> ReviewPage:
    page = ReviewPage()
    qtbot.addWidget(page)
    page.show()
    return page


def test_each_mark_is_a_sign_and_a_word_and_each_row_one_sentence(qtbot) -> None:
    page = _page(qtbot)
    shown = case(given=("Rose",), postcode="")
    page.show_case(shown, compare(shown), 1, 3)
    marks = {caption.text(): mark for caption, _f, mark, _i in page._rows if caption.text()}
    assert marks["Given names"].text() == "≈ Close"
    assert marks["Family name"].text() == "✓ Same"
    assert marks["Postcode"].text() == "– Not given"
    assert marks["Given names"].accessibleName() == (
        "Given names: Close. The council sent Rose; the index holds Olivia Rose (also known as Liv)"
    )
    assert page.position.text() == "Link 1 of 3"
    assert page.link.text().endswith("(Alt+L)") and page.skip.text().endswith("(Alt+S)")
    assert not page.shielded.isVisibleTo(page)


def test_a_shielded_candidate_shows_the_banner(qtbot) -> None:
    page = _page(qtbot)
    shown = dataclasses.replace(case(), candidate=dataclasses.replace(CHILD, shielded=True))
    page.show_case(shown, compare(shown), 2, 3)
    assert page.shielded.isVisibleTo(page)


def test_wipe_empties_every_text(qtbot) -> None:
    page = _page(qtbot)
    shown = case()
    page.show_case(shown, compare(shown), 1, 1)
    page.show_message("Linked.")
    page.wipe()
    left = " ".join(label.text() + label.accessibleName() for label in page.findChildren(QLabel))
    for secret in ("Olivia", "Smithfield", "LS6", "999 000", "Grace", "Test Street"):
        assert secret not in left
    assert not page.card.isVisibleTo(page) and not page.decision.isVisibleTo(page)
