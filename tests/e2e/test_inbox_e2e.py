"""Notices end to end: the real client (app.build_app) against a real `cpindex serve` over TLS.

A nurse sends an attendance notice from a child's record; the lead professional signs in,
sees the count in the status bar, opens the notice and, through the reason dialog the
notice's category fills, the record; the audit chain holds all of it. A nurse asks to be
put in touch about a shielded child; the index team sees the request in its queue, opens
the full record (audited) and passes it on to the social worker, who sees it; the team
answers the nurse, and nothing the nurse's client ever holds locates the child. And the
lock and disk proofs with a notice open: nothing of it on screen after a lock (OCR, widget
and accessibility trees), nothing of it in any file the app writes.
"""

from __future__ import annotations

import pyotp
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from sqlalchemy import delete, select

from cpdesk.app import App
from cpdesk.records import AccessReason
from cpdesk.session import SessionState
from cpdesk.ui.inbox import InboxPanel
from cpdesk.ui.notice_dialog import NoticeDialog
from cpdesk.ui.reason_dialog import ReasonDialog
from cpindex.audit.chain import verify_chain
from cpindex.seed.demo import fixed_child
from cpindex.store.db import make_engine
from cpindex.store.schema import practitioner, practitioner_account
from tests.cpdesk.cache.helpers import scan
from tests.cpindex.test_shielding import _secrets
from tests.e2e.conftest import connection_for, sign_in_ok, submit_sign_in
from tests.e2e.test_client_e2e import audit_rows, open_child, search
from tests.e2e.test_lock_e2e import accessible_texts, found_in, ocr, widget_texts
from tests.helpers.index_server import RunningIndex
from tests.helpers.linked_accounts import linked_account as linked_db_account
from tests.helpers.spent_codes import forget_spent_code_at

OLIVIA = fixed_child("Smithfield", "Olivia")
JAYDEN = fixed_child("Marsh-Whitley", "Jayden")
PASSWORD = "a long e2e password"
ATTENDANCE = "Attended Northgate A&E 02:14, intoxicated, discharged to mother."
ASK = "Seen in A&E tonight; please put me in touch with his social worker."


def linked_account(index: RunningIndex, email: str) -> tuple[str, str]:
    """A new practitioner account receiving the notices of the seed's practitioner `email`."""
    return linked_db_account(index.db_url, email, PASSWORD)


def unlink(index: RunningIndex, email: str) -> None:
    """No account receives this practitioner's notices (another test may have linked one)."""
    engine = make_engine(index.db_url)
    try:
        with engine.begin() as conn:
            ids = select(practitioner.c.id).where(practitioner.c.email == email)
            conn.execute(
                delete(practitioner_account).where(practitioner_account.c.practitioner_id.in_(ids))
            )
    finally:
        engine.dispose()


def sign_in_as(qtbot, app: App, index: RunningIndex, name: str, secret: str) -> None:
    forget_spent_code_at(index.db_url, name)
    submit_sign_in(qtbot, app, name, PASSWORD, pyotp.TOTP(secret).now())
    qtbot.waitUntil(lambda: app.session.state is SessionState.ACTIVE, timeout=20000)


def sign_out(qtbot, app: App) -> None:
    app.controller.sign_out()
    qtbot.waitUntil(lambda: app.session.state is SessionState.SIGNED_OUT)


def send_notice(qtbot, app: App, text: str) -> NoticeDialog:
    """From the open record: the dialog, its defaults kept, the text typed, Send."""
    qtbot.mouseClick(app.window.work.record.send_notice, Qt.MouseButton.LeftButton)
    dialog = app.window.findChild(NoticeDialog)
    assert dialog is not None
    qtbot.keyClicks(dialog.text, text)
    qtbot.mouseClick(dialog.send, Qt.MouseButton.LeftButton)
    return dialog


def inbox_panel(qtbot, app: App) -> InboxPanel:
    """Open the inbox from the status bar's count and wait for the list."""
    assert app.inbox is not None
    qtbot.waitUntil(lambda: app.inbox is not None and app.inbox.count.isVisible(), timeout=20000)
    qtbot.mouseClick(app.inbox.count, Qt.MouseButton.LeftButton)
    panel = app.inbox.panel
    assert panel is not None
    qtbot.waitUntil(lambda: panel.list.count() > 0 or bool(panel.message.text()), timeout=20000)
    qtbot.waitUntil(lambda: panel.message.text() != "Fetching your notices…", timeout=20000)
    return panel


def open_row(qtbot, panel: InboxPanel, row: int = 0) -> None:
    panel.list.setCurrentRow(row)
    qtbot.keyClick(panel.list, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: panel.current is not None, timeout=20000)


def open_its_record(qtbot, app: App, panel: InboxPanel, suggested: AccessReason) -> None:
    qtbot.keyClick(panel.open_record, Qt.Key.Key_Return)
    dialog = app.window.findChild(ReasonDialog)
    assert dialog is not None and dialog.selected() is suggested
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    work = app.window.work
    qtbot.waitUntil(lambda: work.stack.currentWidget() is work.record, timeout=20000)


def test_an_attendance_notice_reaches_the_lead_professional(qtbot, make_app, index_server) -> None:
    app = make_app(connection_for(index_server))
    sign_in_ok(qtbot, app)
    search(qtbot, app, "Olivia", "Smithfield", OLIVIA.birth_date)
    open_child(qtbot, app, OLIVIA.index_id, AccessReason.EMERGENCY_CARE)
    # Her lead professional has no account yet: the index refuses, nothing typed is lost.
    unlink(index_server, OLIVIA.involvements[0].email)
    dialog = send_notice(qtbot, app, ATTENDANCE)
    qtbot.waitUntil(lambda: dialog.error.isVisible(), timeout=20000)
    assert "phone them instead" in dialog.error.text()
    assert dialog.text.toPlainText() == ATTENDANCE
    lead, secret = linked_account(index_server, OLIVIA.involvements[0].email)
    qtbot.mouseClick(dialog.send, Qt.MouseButton.LeftButton)
    record = app.window.work.record
    qtbot.waitUntil(lambda: record.note.text() == "Notice sent to 1 person.", timeout=20000)
    sign_out(qtbot, app)

    sign_in_as(qtbot, app, index_server, lead, secret)
    assert app.inbox is not None
    qtbot.waitUntil(lambda: app.inbox.count.text() == "1 new notice", timeout=20000)
    panel = inbox_panel(qtbot, app)
    assert panel.list.item(0).text().startswith("New · Attendance · from Sam Okafor")
    open_row(qtbot, panel)
    assert panel.body.text() == ATTENDANCE
    qtbot.waitUntil(lambda: app.inbox.count.text() == "No new notices", timeout=20000)
    open_its_record(qtbot, app, panel, AccessReason.HEALTH_CARE)
    assert app.window.work.record.name.text().startswith("Olivia Rose Smithfield")
    panel = inbox_panel(qtbot, app)
    open_row(qtbot, panel)
    qtbot.mouseClick(panel.done, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.message.text() == "Marked as done.", timeout=20000)

    rows = audit_rows(index_server, OLIVIA.index_id)
    actions = [(action, user) for action, user, _patient, _detail in rows]
    assert ("notice-send", "nurse.demo") in actions
    assert ("notice-read", lead) in actions
    assert ("view", lead) in actions  # the record, opened with the suggested reason
    assert ("notice-done", lead) in actions
    assert any(a == "view" and u == lead and "health-care" in d for a, u, _p, d in rows)
    engine = make_engine(index_server.db_url)
    try:
        with engine.connect() as conn:
            assert verify_chain(conn)[2] is None
    finally:
        engine.dispose()


def test_a_contact_request_for_a_shielded_child_goes_through_the_index_team(
    qtbot, make_app, index_server
) -> None:
    worker, secret = linked_account(index_server, JAYDEN.involvements[0].email)
    app = make_app(connection_for(index_server))
    sign_in_ok(qtbot, app)
    search(qtbot, app, "Jayden", "Marsh-Whitley", JAYDEN.birth_date)
    open_child(qtbot, app, JAYDEN.index_id, AccessReason.SAFEGUARDING)
    dialog = send_notice(qtbot, app, ASK)
    assert dialog.recipients == []  # the sender is shown no one
    record = app.window.work.record
    qtbot.waitUntil(
        lambda: record.note.text() == "Notice sent to the national index team.", timeout=20000
    )
    sign_out(qtbot, app)

    sign_in_ok(qtbot, app, "indexteam.demo")
    panel = inbox_panel(qtbot, app)
    assert panel.title.text() == "Notices and the index team's queue"
    rows = [panel.list.item(i).text() for i in range(panel.list.count())]
    mine = next(i for i, text in enumerate(rows) if ASK in text)
    assert "Index team queue · Request to make contact" in rows[mine]
    open_row(qtbot, panel, mine)
    notice_id = panel.current.id if panel.current else ""
    open_its_record(qtbot, app, panel, AccessReason.SAFEGUARDING)
    shown = "\n".join(widget_texts(app.window.work.record))
    assert JAYDEN.involvements[0].name in shown  # the team's full view, under its banner
    assert "shown to the index team only" in app.window.work.record.cached_text.text()
    panel = inbox_panel(qtbot, app)
    open_row(qtbot, panel, next(i for i in range(panel.list.count())
                                if ASK in panel.list.item(i).text()))  # fmt: skip
    qtbot.mouseClick(panel.relay, Qt.MouseButton.LeftButton)
    relay = [d for d in app.window.findChildren(NoticeDialog) if d.isVisible()][-1]
    ticked = [box.text() for box, _ in relay.recipients if box.isChecked()]
    assert ticked[0].startswith(f"{JAYDEN.involvements[0].name} (lead professional)")
    qtbot.mouseClick(relay.send, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.message.text().startswith("Passed on"), timeout=20000)
    team = [(a, u) for a, u, _p, _d in audit_rows(index_server, JAYDEN.index_id)]
    assert ("view", "indexteam.demo") in team and ("notice-relay", "indexteam.demo") in team
    assert app.inbox is not None
    app.inbox.inbox.answer(notice_id, "Passed on to his social worker; they will call you.")
    qtbot.waitUntil(lambda: ("notice-answer", "indexteam.demo") in [
        (a, u) for a, u, _p, _d in audit_rows(index_server, JAYDEN.index_id)
    ], timeout=20000)  # fmt: skip
    sign_out(qtbot, app)

    sign_in_as(qtbot, app, index_server, worker, secret)
    panel = inbox_panel(qtbot, app)
    open_row(qtbot, panel)
    assert panel.body.text() == ASK
    assert panel.facts.text().startswith(
        "From Sam Okafor, Northgate General Hospital A&E, passed on by the index team (Alex Morgan"
    )  # who asked, so the social worker can get in touch
    sign_out(qtbot, app)

    # The nurse: her inbox holds the answer, and nothing anywhere locates the child.
    sign_in_ok(qtbot, app)
    panel = inbox_panel(qtbot, app)
    open_row(qtbot, panel)
    assert panel.body.text().startswith("Passed on to his social worker")
    seen = widget_texts(app.window) + accessible_texts(app.window)
    seen += [panel.list.item(i).text() for i in range(panel.list.count())]
    seen += [t for w in QApplication.topLevelWidgets() for t in widget_texts(w)]
    leaked = [s for s in _secrets() if any(s in text for text in seen)]
    assert not leaked, leaked


CANARY = "Attended Quillbrook minor injuries with Zephyrine, discharged to grandmother."


def test_a_lock_with_a_notice_open_leaves_nothing_on_screen_or_disk(
    qtbot, make_app, index_server, folders
) -> None:
    """The lock and disk proofs with a notice open: OCR of the window, the widget and
    accessibility trees after the lock, and every file under the app's folders and temp."""
    lead, secret = linked_account(index_server, OLIVIA.involvements[0].email)
    app = make_app(connection_for(index_server))
    sign_in_ok(qtbot, app)
    search(qtbot, app, "Olivia", "Smithfield", OLIVIA.birth_date)
    open_child(qtbot, app, OLIVIA.index_id, AccessReason.EMERGENCY_CARE)
    send_notice(qtbot, app, CANARY)
    record = app.window.work.record
    qtbot.waitUntil(lambda: record.note.text() == "Notice sent to 1 person.", timeout=20000)
    sign_out(qtbot, app)
    sign_in_as(qtbot, app, index_server, lead, secret)
    panel = inbox_panel(qtbot, app)
    open_row(qtbot, panel, next(i for i in range(panel.list.count())
                                if "Quillbrook" in panel.list.item(i).text()))  # fmt: skip
    win = app.window
    before = ocr(win)
    assert found_in(before, "Quillbrook"), before  # the check can fail
    assert any("Zephyrine" in t for t in accessible_texts(win))

    app.controller.lock()
    assert app.session.state is SessionState.LOCKED
    after = ocr(win)
    assert found_in(after, "locked"), after
    for word in ("Quillbrook", "Zephyrine", "grandmother"):
        assert not found_in(after, word), after
        texts = widget_texts(win) + accessible_texts(win)
        texts += [panel.list.item(i).text() for i in range(panel.list.count())]
        assert not [t for t in texts if word in t], word
    qtbot.wait(50)  # deferred deletes run
    everywhere = [t for w in QApplication.topLevelWidgets() for t in widget_texts(w)]
    assert not [t for t in everywhere if "Zephyrine" in t]

    # Nothing of it on disk: the encrypted cache, its key, settings, temp files.
    wanted = [w.encode(enc) for w in ("Quillbrook", "Zephyrine") for enc in ("utf-8", "utf-16-le")]
    assert scan(folders, wanted) == []
    (folders[3] / "plaintext-copy.txt").write_bytes(b" ".join(wanted))
    assert {n for _, n in scan(folders, wanted)} == set(wanted)  # the scan can fail
    (folders[3] / "plaintext-copy.txt").unlink()
