"""End to end: the real client (app.build_app) against a real `cpindex serve` over TLS.

Sign in, search by name and date of birth, open a record with a reason, see who to call;
a shielded child shows only the banner; the server's audit log holds the search and the
view with its reason. Failure paths: server down, wrong password, expired token, pin
mismatch, untrusted CA, malformed JSON, a stalling server that the user cancels.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3

import requests
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFrame, QLabel, QLineEdit

from cpdesk.demo_certs import make_demo_certificates
from cpdesk.records import AccessReason
from cpdesk.session import SessionState
from cpdesk.ui.reason_dialog import ReasonDialog
from cpindex.seed.demo import DEMO_PASSWORD, FIXED_CHILDREN
from tests.e2e.conftest import WRONG_PIN, connection_for, sign_in_ok, submit_sign_in
from tests.helpers.loopback_tls import STALL, LoopbackServer, closed_port, http_response

OLIVIA = next(c for c in FIXED_CHILDREN if c.family == "Smithfield" and "Olivia" in c.given)
JAYDEN = next(c for c in FIXED_CHILDREN if c.shielded)


def search(qtbot, app, given: str, family: str, born: dt.date) -> None:
    form = app.window.work.form
    form.given.setText(given)
    form.family.setText(family)
    form.dob.day.setText("")
    qtbot.keyClicks(form.dob.day, born.strftime("%d/%m/%Y"))
    qtbot.keyClick(form.family, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: app.window.work.results.table.isVisible(), timeout=20000)


def open_child(qtbot, app, index_id: str, reason: AccessReason, text: str = "") -> None:
    results = app.window.work.results
    rows = [results.model.row(r).index_id for r in range(results.model.rowCount())]
    results.table.selectRow(rows.index(index_id))
    qtbot.keyClick(results.table, Qt.Key.Key_Return)
    dialog = app.window.findChild(ReasonDialog)
    dialog.buttons[reason].setChecked(True)
    dialog.text.setText(text)
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    work = app.window.work
    qtbot.waitUntil(lambda: work.stack.currentWidget() is work.record, timeout=20000)


def labels(widget) -> list[str]:
    """Texts a user can see (the record view keeps hidden, empty cards for reuse)."""
    return [
        label.text()
        for label in widget.findChildren(QLabel)
        if label.text() and label.isVisibleTo(widget)
    ]


def shown(widget, kind, name: str) -> list:
    return [w for w in widget.findChildren(kind, name) if w.isVisibleTo(widget)]


def audit_rows(index, patient_id: str | None = None) -> list[tuple[str, str, str | None, str]]:
    path = index.db_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT action, username, patient_id, detail FROM audit_event ORDER BY id"
        ).fetchall()
    return [r for r in rows if patient_id is None or r[2] == patient_id]


def test_sign_in_search_open_record_and_audit(qtbot, make_app, index_server, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    app = make_app(connection_for(index_server))
    sign_in_ok(qtbot, app)
    assert app.window.windowTitle() == "cpdesk"
    assert "nurse.demo" not in app.window.signin.password.text()
    assert "Sam Okafor" in app.window.status.user.text()
    before = len(audit_rows(index_server))
    search(qtbot, app, "Olivia", "Smithfield", OLIVIA.birth_date)
    results = app.window.work.results
    ids = [results.model.row(r).index_id for r in range(results.model.rowCount())]
    assert OLIVIA.index_id in ids
    open_child(qtbot, app, OLIVIA.index_id, AccessReason.OTHER, "Follow-up call (test)")
    record = app.window.work.record
    texts = labels(record)
    assert "Olivia Rose Smithfield" in texts
    assert any(t.startswith("14 March 2011 (") for t in texts)
    assert len(shown(record, QFrame, "carer")) == 2
    assert shown(record, QLabel, "lead-badge")
    assert shown(record, QLabel, "caf-badge")
    assert len(shown(record, QFrame, "involvement")) == 3
    school = record.findChild(QFrame, "school")
    gp = record.findChild(QFrame, "gp-practice")
    assert "Not recorded" not in labels(school)
    assert "Not recorded" not in labels(gp)
    # the server's audit log holds the search and the view with the reason
    new = audit_rows(index_server)[before:]
    actions = [(action, user) for action, user, _, _ in new]
    assert ("search", "nurse.demo") in actions
    views = [r for r in new if r[0] == "view" and r[2] == OLIVIA.index_id]
    assert views
    detail = json.loads(views[-1][3])
    assert detail["reason"] == "other"
    assert detail["reason_text"] == "Follow-up call (test)"
    # back to the results without a new search
    searches = sum(1 for r in audit_rows(index_server) if r[0] == "search")
    qtbot.mouseClick(record.back, Qt.MouseButton.LeftButton)
    assert app.window.work.stack.currentWidget() is results
    assert sum(1 for r in audit_rows(index_server) if r[0] == "search") == searches
    # nothing about the child (nor the password) reached any log line, at any level
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert caplog.records  # the client did log (so the check can fail)
    for secret in ("Olivia", "Smithfield", "2011-03-14", OLIVIA.postcode, DEMO_PASSWORD):
        assert secret not in logged


def test_shielded_child_shows_only_the_banner(qtbot, make_app, index_server) -> None:
    app = make_app(connection_for(index_server))
    sign_in_ok(qtbot, app, "social.demo")
    search(qtbot, app, "Jayden", "Marsh-Whitley", JAYDEN.birth_date)
    open_child(qtbot, app, JAYDEN.index_id, AccessReason.SAFEGUARDING)
    record = app.window.work.record
    banner = record.findChild(QFrame, "shielded-banner")
    assert banner is not None and banner.isVisible()
    texts = labels(record)
    assert "Restricted record" in texts
    assert any("index team" in t and any(ch.isdigit() for ch in t) for t in texts)
    for absent in ("Jayden", "Marsh-Whitley", JAYDEN.postcode, "Lead professional", "GP"):
        assert not any(absent in t for t in texts), absent
    views = [r for r in audit_rows(index_server, JAYDEN.index_id) if r[0] == "view"]
    assert json.loads(views[-1][3])["reason"] == "safeguarding"


def test_expired_token_returns_to_sign_in_with_no_data_left(qtbot, make_app, index_server):
    app = make_app(connection_for(index_server))
    sign_in_ok(qtbot, app)
    search(qtbot, app, "Olivia", "Smithfield", OLIVIA.birth_date)
    open_child(qtbot, app, OLIVIA.index_id, AccessReason.EMERGENCY_CARE)
    # the server ends the session behind the client's back
    token = app.client.real._token
    requests.delete(
        f"{index_server.base_url}/auth/session",
        headers={"Authorization": f"Bearer {token}"},
        verify=str(index_server.ca_cert),
        timeout=10,
    ).raise_for_status()
    app.window.work.record.back.click()
    qtbot.keyClick(app.window.work.form.family, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: app.session.state is SessionState.SIGNED_OUT, timeout=20000)
    assert app.window.pages.currentWidget() is app.window.signin
    assert "session has ended" in app.window.signin.notice.text()
    on_screen = "\n".join(
        w.text() for w in QApplication.allWidgets() if isinstance(w, QLabel | QLineEdit)
    )
    for secret in ("Olivia", "Smithfield", OLIVIA.postcode):
        assert secret not in on_screen
    sign_in_ok(qtbot, app)
    assert app.window.work.form.family.text() == ""


def sign_in_message(qtbot, app) -> str:
    page = app.window.signin
    qtbot.waitUntil(lambda: page.message.isVisible(), timeout=30000)
    assert app.session.state is SessionState.SIGNED_OUT
    return page.message.text()


def test_wrong_password(qtbot, make_app, index_server) -> None:
    app = make_app(connection_for(index_server))
    submit_sign_in(qtbot, app, "indexteam.demo", "not-the-password")
    assert "not right" in sign_in_message(qtbot, app)


def test_server_down(qtbot, make_app) -> None:
    from cpdesk.app import Connection

    app = make_app(Connection(f"https://127.0.0.1:{closed_port()}"))
    submit_sign_in(qtbot, app, "nurse.demo", DEMO_PASSWORD, "000000")
    assert "cannot be reached" in sign_in_message(qtbot, app)


def test_pin_mismatch_sends_nothing(qtbot, make_app, index_server) -> None:
    app = make_app(connection_for(index_server, spki_pins=(WRONG_PIN,)))
    submit_sign_in(qtbot, app, "nurse.demo", DEMO_PASSWORD)
    assert "certificate is not trusted" in sign_in_message(qtbot, app)


def test_untrusted_ca(qtbot, make_app, index_server, tmp_path) -> None:
    other = make_demo_certificates(tmp_path / "other-ca")
    app = make_app(connection_for(index_server, ca_bundle=str(other.ca_cert), spki_pins=()))
    submit_sign_in(qtbot, app, "nurse.demo", DEMO_PASSWORD)
    assert "certificate is not trusted" in sign_in_message(qtbot, app)


def test_malformed_json(qtbot, make_app, tmp_path) -> None:
    from cpdesk.app import Connection

    certs = make_demo_certificates(tmp_path / "certs")
    with LoopbackServer(lambda req: http_response(201, b"{not json"), certs=certs) as server:
        app = make_app(Connection(server.base_url, str(certs.ca_cert), (certs.spki_pin,)))
        submit_sign_in(qtbot, app, "nurse.demo", DEMO_PASSWORD, "123456")
        message = sign_in_message(qtbot, app)
    assert "the server sent an answer this version cannot read" in message.lower()
    assert "Traceback" not in message


def test_stalling_server_keeps_the_window_responsive_and_can_be_cancelled(
    qtbot, make_app, tmp_path
) -> None:
    from cpdesk.app import Connection

    certs = make_demo_certificates(tmp_path / "certs")
    with LoopbackServer(lambda req: STALL, certs=certs) as server:
        app = make_app(Connection(server.base_url, str(certs.ca_cert), (certs.spki_pin,)))
        page = app.window.signin
        submit_sign_in(qtbot, app, "nurse.demo", DEMO_PASSWORD, "123456")
        assert server.request_seen.wait(10)
        assert page.busy.isVisible() and page.cancel.isVisible()
        # the GUI thread is free: typing still works while the call hangs
        page.username.setReadOnly(False)
        qtbot.keyClicks(page.username, "x")
        assert page.username.text().endswith("x")
        qtbot.mouseClick(page.cancel, Qt.MouseButton.LeftButton)
        assert not page.busy.isVisible()
        assert "cancelled" in page.message.text().lower()
        assert app.auth_runner.wait(10000)
