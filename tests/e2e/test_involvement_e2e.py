""" "I am working with this child" in the real app, by keyboard, against a real index on
loopback (TLS): declared, audited, seen by another practitioner as self-declared, ended.

Its own index: the declaration changes a documented child's record, which the shared
index's other tests count on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QPushButton

from cpdesk.records import AccessReason
from cpdesk.session import SessionState
from cpdesk.ui.involvement_dialog import InvolvementDialog
from cpdesk.ui.record_view import SELF_DECLARED_NOTE
from tests.e2e.conftest import connection_for, sign_in_ok
from tests.e2e.test_client_e2e import OLIVIA, audit_rows, labels, open_child, search, shown
from tests.helpers.index_server import RunningIndex, start_index


@pytest.fixture(scope="module")
def own_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningIndex]:
    with start_index(tmp_path_factory.mktemp("selfdecl"), children=300, seed=3) as index:
        yield index


def _press(qtbot, widget, key: Qt.Key = Qt.Key.Key_Space) -> None:
    widget.setFocus()
    qtbot.keyClick(widget, key)


def _open_olivia(qtbot, app, username: str) -> None:
    sign_in_ok(qtbot, app, username)
    search(qtbot, app, "Olivia", "Smithfield", OLIVIA.birth_date)
    open_child(qtbot, app, OLIVIA.index_id, AccessReason.SOCIAL_CARE)


def _sign_out(qtbot, app) -> None:
    _press(qtbot, app.window.work.sign_out_button)
    qtbot.waitUntil(lambda: app.session.state is SessionState.SIGNED_OUT, timeout=20000)


def test_declare_see_and_end_by_keyboard(qtbot, make_app, own_index) -> None:
    app = make_app(connection_for(own_index))
    _open_olivia(qtbot, app, "social.demo")
    record = app.window.work.record
    assert len(shown(record, QFrame, "involvement")) == 3
    [declare] = shown(record, QPushButton, "declare-involvement")
    _press(qtbot, declare)
    dialog = app.window.findChild(InvolvementDialog)
    assert dialog is not None and dialog.isVisible()
    qtbot.keyClicks(dialog.role, "Family support worker")
    dialog.phone.setFocus()
    qtbot.keyClicks(dialog.phone, "0113 496 0888")
    qtbot.keyClick(dialog.phone, Qt.Key.Key_Return)
    # saved: the dialog closes (and is deleted), the record is redrawn with the new row
    qtbot.waitUntil(lambda: "Self-declared by you" in labels(record), timeout=20000)
    assert not shiboken6.isValid(dialog) or not dialog.isVisible()
    texts = labels(record)
    assert "Self-declared by you" in texts
    assert "You are now listed as working with this child." in texts
    assert len(shown(record, QFrame, "involvement")) == 4
    assert shown(record, QPushButton, "declare-involvement") == []
    [row] = [
        r for r in audit_rows(own_index, OLIVIA.index_id) if r[0] == "self-declare"
    ]  # fmt: skip
    assert row[1] == "social.demo"
    assert json.loads(row[3])["role"] == "Family support worker"
    # Another practitioner sees it, marked self-declared, with no way to end it.
    _sign_out(qtbot, app)
    _open_olivia(qtbot, app, "nurse.demo")
    record = app.window.work.record
    texts = labels(record)
    assert SELF_DECLARED_NOTE in texts
    assert "Priya Shah" in texts  # the author's account name, not one they typed
    assert "Family support worker · Northgate Council Children's Services" in texts
    assert shown(record, QPushButton, "end-involvement") == []
    # The author ends it (asked first).
    _sign_out(qtbot, app)
    _open_olivia(qtbot, app, "social.demo")
    record = app.window.work.record
    [end] = shown(record, QPushButton, "end-involvement")
    _press(qtbot, end)
    question = app.window.findChild(QPushButton, "end-involvement-yes")
    assert question is not None
    _press(qtbot, question)
    qtbot.waitUntil(lambda: not shown(record, QPushButton, "end-involvement"), timeout=20000)
    assert "Your involvement with this child has ended." in labels(record)
    assert len(shown(record, QFrame, "involvement")) == 3
    ends = [r for r in audit_rows(own_index, OLIVIA.index_id) if r[0] == "self-declare-end"]
    assert [(r[1], json.loads(r[3])["involvement"]) for r in ends] == [
        ("social.demo", json.loads(row[3])["involvement"])
    ]
