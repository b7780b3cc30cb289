"""End to end: the index team reviews feed links by keyboard in the real client.

A real `cpindex serve` on loopback over TLS holds the demo feed's three review items
(`cpindex feed demo`); the real app (app.build_app) signs in as the index team, opens
"Links to review" and decides with Alt+L, Alt+S and Alt+N. The index's audit holds every
list, view and decision; a lock leaves nothing of the screen behind.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QWidget

from cpdesk.session import SessionState
from cpdesk.ui.review import ReviewPage
from cpindex.seed.demo import DEMO_PASSWORD, fixed_child
from tests.e2e.conftest import connection_for, sign_in_ok
from tests.helpers.index_server import RunningIndex, seed_index, start_index

OLIVIA = fixed_child("Smithfield", "Olivia")
JAYDEN = fixed_child("Marsh-Whitley", "Jayden")
WILLIAM = fixed_child("Ashworth", "William")
_REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def review_index(tmp_path: Path) -> Iterator[RunningIndex]:
    """An index of its own (decisions change it) holding the demo feed's review items."""
    url = seed_index(tmp_path / "index.db", children=300, seed=1)
    subprocess.run(
        [sys.executable, "-m", "cpindex", "feed", "demo", "--db", url],
        check=True, cwd=_REPO, stdout=subprocess.DEVNULL, timeout=600,
    )  # fmt: skip
    with start_index(tmp_path, db_url=url) as index:
        yield index


def audit(index: RunningIndex) -> list[tuple[str, str, str | None, str | None, dict]]:
    path = index.db_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT action, outcome, username, patient_id, detail FROM audit_event ORDER BY id"
        ).fetchall()
    return [(a, o, u, p, json.loads(d or "{}")) for a, o, u, p, d in rows]


def key(qtbot, page: QWidget, letter: Qt.Key, modifier=Qt.KeyboardModifier.AltModifier) -> None:
    qtbot.keyClick(QApplication.focusWidget() or page, letter, modifier)


def rows(page: ReviewPage) -> dict[str, tuple[str, str, str]]:
    """{field: (council's value, mark, index's value)} as shown."""
    shown = {}
    for caption, feed, mark, index in page._rows:
        if caption.isVisibleTo(page) and caption.text():
            shown[caption.text()] = (feed.text(), mark.text(), index.text())
    return shown


def texts(widget: QWidget) -> str:
    return "\n".join(label.text() for label in widget.findChildren(QLabel))


def test_the_index_team_reviews_by_keyboard_and_every_step_is_audited(
    qtbot, make_app, review_index
) -> None:
    app = make_app(connection_for(review_index))
    sign_in_ok(qtbot, app, "indexteam.demo")
    work = app.window.work
    assert work.review_button.isVisibleTo(app.window)
    assert work.review_button.text() == "Links to review (Alt+R)"
    key(qtbot, work, Qt.Key.Key_R)  # Alt+R opens it (a shortcut clicks its button a beat later)
    qtbot.waitUntil(lambda: app.window.review_page is not None, timeout=5000)
    page = app.window.review_page
    assert isinstance(page, ReviewPage)
    qtbot.waitUntil(lambda: page.position.text() == "Link 1 of 3", timeout=20000)
    assert page.link.text() == "Link  (Alt+L)"
    assert page.not_this.text() == "Not this child  (Alt+N)"
    assert page.skip.text() == "Skip  (Alt+S)"
    first = rows(page)
    assert first["Given names"] == ("Rose", "≈ Close", "Olivia Rose")
    assert first["Family name"] == ("Smithfield", "✓ Same", "Smithfield")
    assert first["Date of birth"][1] == "✓ Same"
    assert first["NHS number"][1] == "– Not given"
    assert "given names differ" in page.about.text()
    assert not page.shielded.isVisibleTo(page)

    key(qtbot, page, Qt.Key.Key_L)  # Link: Rose Smithfield is Olivia
    qtbot.waitUntil(lambda: page.position.text() == "Link 2 of 3", timeout=20000)
    assert page.message.text() == "Linked."
    assert page.shielded.isVisibleTo(page)  # Jordan Marsh-Whitley: the shielded candidate
    assert rows(page)["Given names"][1] == "✗ Different"
    key(qtbot, page, Qt.Key.Key_S)  # Skip: decide later
    qtbot.waitUntil(lambda: page.position.text() == "Link 3 of 3", timeout=20000)
    assert "Skipped" in page.message.text()
    assert rows(page)["Postcode"] == (WILLIAM.postcode, "✓ Same", WILLIAM.postcode)
    key(qtbot, page, Qt.Key.Key_N)  # Not this child
    qtbot.waitUntil(lambda: page.again.isVisibleTo(page), timeout=20000)
    assert page.position.text() == (
        "No links are waiting for review. This session: 1 linked, 1 marked not this child, "
        "1 skipped (still waiting)."
    )

    events = audit(review_index)
    mine = [e for e in events if e[2] == "indexteam.demo"]
    assert [(a, o) for a, o, *_ in mine if a == "review-list"] == [("review-list", "success")]
    views = [(p, d) for a, o, _u, p, d in mine if a == "review-view"]
    assert [p for p, _d in views] == [OLIVIA.index_id, JAYDEN.index_id, WILLIAM.index_id]
    assert views[1][1]["served"] == "full" and "served" not in views[0][1]
    decisions = [(o, p) for a, o, _u, p, _d in mine if a == "feed-review"]
    assert decisions == [("linked", OLIVIA.index_id), ("not-linked", WILLIAM.index_id)]

    key(qtbot, page, Qt.Key.Key_F5, Qt.KeyboardModifier.NoModifier)  # the skipped one is back
    qtbot.waitUntil(lambda: page.position.text() == "Link 1 of 1", timeout=20000)
    assert page.shielded.isVisibleTo(page)

    # A lock destroys the screen in the same turn: nothing of the child anywhere.
    key(qtbot, page, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert app.session.state is SessionState.LOCKED
    assert app.window.review_page is None
    assert "Jordan" not in texts(page) and "Marsh-Whitley" not in texts(page)
    assert "Jordan" not in texts(app.window) and "Marsh-Whitley" not in texts(app.window)
    panel = app.window.lock_panel
    qtbot.keyClicks(panel.password, DEMO_PASSWORD)
    qtbot.keyClick(panel.password, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: app.session.state is SessionState.ACTIVE, timeout=20000)
    assert app.window.review_page is None
    assert app.window.pages.currentWidget() is app.window.work


def test_a_practitioner_has_no_review_screen(qtbot, make_app, review_index) -> None:
    app = make_app(connection_for(review_index))
    sign_in_ok(qtbot, app, "nurse.demo")
    assert not app.window.work.review_button.isVisibleTo(app.window)
    app.window._open_review()  # even asked directly, the controller refuses
    assert app.window.review_page is None
    assert not [e for e in audit(review_index) if e[0].startswith("review-")]
