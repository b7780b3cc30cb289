"""End to end: the session lock of the real app (app.build_app) against a real cpindex.

Short policy values (a fraction of a second, set on a validated policy with
`dataclasses.replace`, as no admin file may go below 15 s) or a FakeClock moved by hand:
no test sleeps for minutes. Proves: idle -> locked; real input resets the timer; wrong
then right unlock through `POST /auth/unlock`; five wrong -> signed out; locked too long
-> signed out and the server rejects the old token; minimise -> locked; OCR of the
window before and after a lock; widget and accessibility trees empty of child data;
nothing vetoes a lock (a stalling server); no child data in any log line; an invalid
policy stops `cpdesk` with the key named.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from PySide6.QtCore import QAbstractListModel, QBuffer, QByteArray, QIODevice, Qt
from PySide6.QtGui import QAccessible, QImage
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QApplication,
    QDialog,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

from cpdesk.app import App, Connection, build_app
from cpdesk.clock import Clock, FakeClock
from cpdesk.policy import load_policy
from cpdesk.records import AccessReason
from cpdesk.session import LockReason, SessionState
from cpdesk.ui.activity import TICK_MS
from cpdesk.ui.lockscreen import LockScreen
from cpdesk.ui.main_window import LOCKED_TITLE
from cpdesk.ui.reason_dialog import ReasonDialog
from cpindex.seed.demo import DEMO_PASSWORD, FIXED_CHILDREN
from tests.e2e.conftest import connection_for, sign_in_ok, submit_sign_in
from tests.e2e.test_client_e2e import audit_rows, open_child, search
from tests.helpers.index_server import RunningIndex, totp_now
from tests.helpers.loopback_tls import STALL, LoopbackServer, RawRequest, http_response

OLIVIA = next(c for c in FIXED_CHILDREN if c.family == "Smithfield" and "Olivia" in c.given)
OLIVIA_SECRETS = (
    "Olivia",
    "Rose",
    "Smithfield",
    "14 March 2011",
    "14/03/2011",
    "2011-03-14",
    "999 000 0018",
    "9990000018",
    OLIVIA.postcode,
    "Headingley",
    "07700 900123",
    "07700 900456",
    "Claire",
    "Daniel",
)

AppMaker = Callable[..., App]


@pytest.fixture
def make_locking_app(qapp, qtbot, tmp_path: Path) -> Iterator[AppMaker]:
    """The real app with some policy values replaced (e.g. idle_lock_seconds=0.4)."""
    made: list[App] = []

    def factory(
        connection: Connection, *, clock: Clock | None = None, **policy_values: object
    ) -> App:
        policy = load_policy(tmp_path / "no-policy", environ={})
        policy = dataclasses.replace(policy, **policy_values)  # type: ignore[arg-type]
        app = build_app(policy, connection, clock=clock)
        qtbot.addWidget(app.window)
        app.window.show()
        qtbot.waitExposed(app.window)
        made.append(app)
        return app

    yield factory
    for app in made:
        app.shutdown()


def open_olivia(qtbot, app: App) -> None:
    search(qtbot, app, "Olivia", "Smithfield", OLIVIA.birth_date)
    open_child(qtbot, app, OLIVIA.index_id, AccessReason.EMERGENCY_CARE)


def ctrl_l(qtbot, app: App) -> None:
    target = QApplication.focusWidget() or app.window
    qtbot.keyClick(target, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)


def type_unlock(qtbot, app: App, password: str) -> None:
    panel = app.window.lock_panel
    assert isinstance(panel, LockScreen)
    qtbot.keyClicks(panel.password, password)
    qtbot.keyClick(panel.password, Qt.Key.Key_Return)


def raw_status(index: RunningIndex, token: str) -> int:
    """What the server answers the token now, asked without the client."""
    return requests.get(
        f"{index.base_url}/auth/session",
        headers={"Authorization": f"Bearer {token}"},
        verify=str(index.ca_cert),
        timeout=10,
    ).status_code


def unlock_outcomes(index: RunningIndex) -> list[str]:
    """The server's audit of `POST /auth/unlock`, oldest first."""
    path = index.db_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT outcome FROM audit_event WHERE action = 'unlock' ORDER BY id"
        ).fetchall()
    return [r[0] for r in rows]


# -- OCR and tree walks ---------------------------------------------------------------------


def ocr(widget: QWidget) -> str:
    """Tesseract over a grab() of the widget, scaled 2x (small UI text reads better)."""
    tesseract = shutil.which("tesseract")
    if tesseract is None:
        pytest.fail(
            "tesseract is not installed: the screenshot proof needs it "
            "(Debian: apt-get install tesseract-ocr; .ci/run installs it)"
        )
    image = widget.grab().toImage()
    image = image.scaled(
        image.width() * 2,
        image.height() * 2,
        Qt.AspectRatioMode.KeepAspectRatio,
        Qt.TransformationMode.SmoothTransformation,
    )
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    assert image.convertToFormat(QImage.Format.Format_RGB32).save(buffer, "PNG")
    buffer.close()
    out = subprocess.run(
        [tesseract, "stdin", "stdout"],
        input=bytes(data.data()),
        capture_output=True,
        check=True,
        timeout=120,
    )
    return out.stdout.decode("utf-8", "replace")


def found_in(text: str, secret: str) -> bool:
    """Case-insensitive, and also with the spaces OCR may add or drop."""
    squashed = "".join(text.lower().split())
    return secret.lower() in text.lower() or "".join(secret.lower().split()) in squashed


def widget_texts(root: QWidget) -> list[str]:
    """Every string a widget below `root` holds, visible or not."""
    texts = [root.windowTitle(), root.accessibleName(), root.accessibleDescription()]
    for w in [root, *root.findChildren(QWidget)]:
        texts += [w.toolTip(), w.accessibleName(), w.accessibleDescription(), w.windowTitle()]
        if isinstance(w, QLabel | QLineEdit | QAbstractButton):
            texts.append(w.text())
        if isinstance(w, QPlainTextEdit | QTextEdit):  # a notice being written
            texts.append(w.toPlainText())
        if isinstance(w, QAbstractItemView) and w.model() is not None:
            model = w.model()
            # a list model (QListWidget's) hides columnCount: one column
            columns = 1 if isinstance(model, QAbstractListModel) else model.columnCount()
            for r in range(model.rowCount()):
                for c in range(columns):
                    for role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
                        texts.append(str(model.data(model.index(r, c), role) or ""))
    return [t for t in texts if t]


def accessible_texts(root: QWidget) -> list[str]:
    """Name, description, value and text of every node of the accessibility tree."""
    roles = (
        QAccessible.Text.Name,
        QAccessible.Text.Description,
        QAccessible.Text.Value,
        QAccessible.Text.Help,
    )
    out: list[str] = []
    seen = 0

    def walk(iface: QAccessible.QAccessibleInterface | None, depth: int) -> None:
        nonlocal seen
        if iface is None or not iface.isValid() or depth > 60:
            return
        seen += 1
        out.extend(iface.text(role) for role in roles)
        for i in range(iface.childCount()):
            walk(iface.child(i), depth + 1)

    walk(QAccessible.queryAccessibleInterface(root), 0)
    assert seen > 5  # the walk did reach the panel's widgets
    return [t for t in out if t]


def assert_no_child_data(texts: list[str], where: str) -> None:
    joined = "\n".join(texts)
    for secret in OLIVIA_SECRETS:
        assert not found_in(joined, secret), f"{secret!r} found in the {where}"


# -- tests ----------------------------------------------------------------------------------


def test_idle_lock_with_a_record_open_leaves_nothing_readable(
    qtbot, make_locking_app, index_server
) -> None:
    app = make_locking_app(connection_for(index_server))
    win = app.window
    sign_in_ok(qtbot, app)
    open_olivia(qtbot, app)
    before = ocr(win)
    assert found_in(before, "Smithfield"), before  # the check can fail
    assert any("Smithfield" in t for t in accessible_texts(win))
    assert any("Smithfield" in t for t in widget_texts(win.work.results))  # the model is read

    app.session.tighten_idle_lock(0.3)  # the real idle timer, not a lock() call
    qtbot.waitUntil(lambda: app.session.state is SessionState.LOCKED, timeout=10000)
    assert app.session.lock_reason is LockReason.IDLE
    # what the same event-loop turn left: title, widget tree, accessibility tree
    assert win.windowTitle() == LOCKED_TITLE
    assert_no_child_data(widget_texts(win), "widget tree")
    assert_no_child_data(accessible_texts(win), "accessibility tree")
    # the window content IS the lock panel (what a taskbar or switcher thumbnail shows)
    panel = win.lock_panel
    assert isinstance(panel, LockScreen)
    assert win.pages.currentWidget() is panel
    hidden = [win.pages.widget(i) for i in range(win.pages.count())]
    assert [w for w in hidden if w.isVisible()] == [panel]  # the rest: hidden and emptied
    after = ocr(win)
    assert found_in(after, "locked"), after
    assert_no_child_data([after], "OCR of the locked window")
    qtbot.wait(50)  # deferred deletes run: no widget anywhere in the process holds her data
    everywhere = [t for w in QApplication.topLevelWidgets() for t in widget_texts(w)]
    assert_no_child_data(everywhere, "application's widgets")


def test_idle_policy_locks_real_input_resets_the_timer_network_replies_do_not(
    qtbot, make_locking_app, index_server
) -> None:
    clock = FakeClock(wall=dt.datetime.now(dt.UTC))
    app = make_locking_app(connection_for(index_server), clock=clock, idle_lock_seconds=1)
    sign_in_ok(qtbot, app)
    family = app.window.work.form.family
    clock.advance(0.8)
    qtbot.keyClick(family, Qt.Key.Key_S)  # real input (spontaneous, like the window system's)
    clock.advance(0.5)
    # a network reply is not input: the search's answer arrives and redraws the results
    form = app.window.work.form
    form.given.setText("Olivia")
    form.family.setText("Smithfield")
    form.dob.set_date(OLIVIA.birth_date)
    form.submit()
    qtbot.waitUntil(lambda: app.controller.state.results is not None, timeout=20000)
    clock.advance(0.3)
    app.window.repaint()  # not input
    qtbot.wait(2 * TICK_MS)  # the app's own ticks run
    assert app.session.state is SessionState.ACTIVE
    clock.advance(0.3)
    qtbot.waitUntil(lambda: app.session.state is SessionState.LOCKED, timeout=5000)
    assert app.session.lock_reason is LockReason.IDLE


def test_idle_lock_on_the_real_clock(qtbot, make_locking_app, index_server) -> None:
    app = make_locking_app(connection_for(index_server), idle_lock_seconds=0.4)
    submit_sign_in(qtbot, app, "nurse.demo", DEMO_PASSWORD)
    qtbot.waitUntil(lambda: app.session.state is not SessionState.SIGNED_OUT, timeout=20000)
    qtbot.waitUntil(lambda: app.session.state is SessionState.LOCKED, timeout=10000)
    assert app.session.lock_reason is LockReason.IDLE
    assert app.window.windowTitle() == LOCKED_TITLE


def test_wrong_then_right_unlock_through_the_server(qtbot, make_locking_app, index_server) -> None:
    app = make_locking_app(connection_for(index_server))
    sign_in_ok(qtbot, app)
    open_olivia(qtbot, app)
    views = len([r for r in audit_rows(index_server, OLIVIA.index_id) if r[0] == "view"])
    ctrl_l(qtbot, app)
    assert app.session.state is SessionState.LOCKED
    type_unlock(qtbot, app, "not-the-password")
    panel = app.window.lock_panel
    qtbot.waitUntil(lambda: "4 tries left" in panel.message.text(), timeout=20000)
    assert app.session.state is SessionState.LOCKED
    type_unlock(qtbot, app, DEMO_PASSWORD)
    qtbot.waitUntil(lambda: app.session.state is SessionState.ACTIVE, timeout=20000)
    record = app.window.work.record
    assert app.window.work.stack.currentWidget() is record
    assert any(label.text() == "Olivia Rose Smithfield" for label in record.findChildren(QLabel))
    assert unlock_outcomes(index_server)[-2:] == ["failure", "success"]
    after = len([r for r in audit_rows(index_server, OLIVIA.index_id) if r[0] == "view"])
    assert after == views  # redrawn from memory: no new audited fetch


def test_five_wrong_unlocks_sign_out(qtbot, make_locking_app, index_server) -> None:
    app = make_locking_app(connection_for(index_server))
    sign_in_ok(qtbot, app, "social.demo")
    token = app.client.real._token
    ctrl_l(qtbot, app)
    for left in (4, 3, 2, 1):
        type_unlock(qtbot, app, "wrong-password")
        message = app.window.lock_panel.message
        qtbot.waitUntil(lambda m=message, n=left: f"{n} tr" in m.text(), timeout=20000)
    type_unlock(qtbot, app, "wrong-password")
    qtbot.waitUntil(lambda: app.session.state is SessionState.SIGNED_OUT, timeout=20000)
    assert "too many wrong passwords" in app.window.signin.notice.text()
    qtbot.waitUntil(lambda: raw_status(index_server, token) == 401, timeout=20000)


def test_locked_too_long_signs_out_and_the_server_rejects_the_old_token(
    qtbot, make_locking_app, index_server
) -> None:
    app = make_locking_app(connection_for(index_server), lock_to_logout_seconds=0.5)
    sign_in_ok(qtbot, app)
    open_olivia(qtbot, app)
    token = app.client.real._token
    assert raw_status(index_server, token) == 200
    ctrl_l(qtbot, app)
    assert app.session.state is SessionState.LOCKED
    qtbot.waitUntil(lambda: app.session.state is SessionState.SIGNED_OUT, timeout=10000)
    assert "locked for too long" in app.window.signin.notice.text()
    assert app.controller.state.opened is None  # in-memory child data dropped
    assert app.window.pages.currentWidget() is app.window.signin
    qtbot.waitUntil(lambda: raw_status(index_server, token) == 401, timeout=20000)


def test_minimise_locks(qtbot, make_locking_app, index_server) -> None:
    app = make_locking_app(connection_for(index_server))
    sign_in_ok(qtbot, app)
    open_olivia(qtbot, app)
    app.window.showMinimized()
    qtbot.waitUntil(lambda: app.session.state is SessionState.LOCKED, timeout=5000)
    assert app.session.lock_reason is LockReason.MINIMISE
    assert app.window.work is None


def stalling_proxy(
    index: RunningIndex, certs_dir: Path, hold_unlock: threading.Event | None = None
) -> LoopbackServer:
    """Forwards everything to the real index except searches, which hang forever.

    With `hold_unlock`, `POST /auth/unlock` waits for that event, then goes to the real
    index: a late, real answer.
    """
    from cpdesk.demo_certs import make_demo_certificates

    def respond(req: RawRequest) -> bytes:
        if req.target.startswith("/Patient"):
            return STALL
        if req.target.startswith("/auth/unlock") and hold_unlock is not None:
            hold_unlock.wait(30)
        headers = {k: v for k, v in req.headers.items() if k.lower() in ("authorization",)}
        if req.body:
            headers["Content-Type"] = "application/json"
        reply = requests.request(
            req.method,
            index.base_url + req.target,
            headers=headers,
            data=req.body,
            verify=str(index.ca_cert),
            timeout=30,
        )
        return http_response(reply.status_code, reply.content)

    return LoopbackServer(respond, certs=make_demo_certificates(certs_dir))


def test_a_stalled_search_and_a_half_typed_reason_do_not_hold_up_the_lock(
    qtbot, make_locking_app, index_server, tmp_path
) -> None:
    with stalling_proxy(index_server, tmp_path / "proxy") as proxy:
        assert proxy.certs is not None
        app = make_locking_app(
            Connection(proxy.base_url, str(proxy.certs.ca_cert), (proxy.certs.spki_pin,))
        )
        sign_in_ok(qtbot, app)
        form = app.window.work.form
        form.given.setText("Olivia")
        form.family.setText("Smithfield")
        qtbot.keyClicks(form.dob.day, "14/03/2011")
        qtbot.keyClick(form.family, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: app.runner.busy, timeout=5000)
        assert proxy.request_seen.wait(10)
        ctrl_l(qtbot, app)  # the search hangs on the server; the lock does not wait for it
        assert app.session.state is SessionState.LOCKED
        assert app.window.windowTitle() == LOCKED_TITLE
        assert not app.runner.busy
        assert_no_child_data(widget_texts(app.window), "widget tree")


def test_a_half_typed_reason_dialog_does_not_hold_up_the_lock(
    qtbot, make_locking_app, index_server
) -> None:
    app = make_locking_app(connection_for(index_server))
    sign_in_ok(qtbot, app)
    search(qtbot, app, "Olivia", "Smithfield", OLIVIA.birth_date)
    qtbot.keyClick(app.window.work.results.table, Qt.Key.Key_Return)
    dialog = app.window.findChild(ReasonDialog)
    qtbot.keyClicks(dialog.text, "Ward called about Olivia Smi")
    qtbot.keyClick(dialog.text, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert app.session.state is SessionState.LOCKED
    assert not [d for d in app.window.findChildren(QDialog) if d.isVisible()]
    assert_no_child_data(widget_texts(app.window), "widget tree")


def test_no_child_data_password_or_code_in_any_log_line(
    qtbot, make_locking_app, index_server, caplog
) -> None:
    root = logging.getLogger()
    old = root.level
    root.setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    try:
        app = make_locking_app(connection_for(index_server))
        otp = totp_now("nurse.demo")
        submit_sign_in(qtbot, app, "nurse.demo", DEMO_PASSWORD, otp)
        qtbot.waitUntil(lambda: app.session.state is SessionState.ACTIVE, timeout=20000)
        open_olivia(qtbot, app)
        ctrl_l(qtbot, app)
        type_unlock(qtbot, app, "wrong-Password-42")
        panel = app.window.lock_panel
        qtbot.waitUntil(lambda: "tries left" in panel.message.text(), timeout=20000)
        type_unlock(qtbot, app, DEMO_PASSWORD)
        qtbot.waitUntil(lambda: app.session.state is SessionState.ACTIVE, timeout=20000)
        app.window.work.sign_out_button.click()
        assert app.auth_runner.wait(20000)
    finally:
        root.setLevel(old)
    records = caplog.records
    assert len(records) >= 3  # the client did log (so the check can fail)
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in records)
    secrets = (*OLIVIA_SECRETS, "LS62QB", DEMO_PASSWORD, "wrong-Password-42", otp)
    for secret in secrets:
        assert secret not in logged, secret


def test_invalid_policy_refuses_to_start_naming_the_key(tmp_path) -> None:
    managed = tmp_path / "managed"
    managed.mkdir()
    (managed / "20-site.json").write_text('{"lock_to_logout_seconds": 5}')
    env = dict(os.environ, CPDESK_POLICY_ROOT=str(tmp_path), QT_QPA_PLATFORM="offscreen")
    env.pop("CPDESK_SERVER_URL", None)
    out = subprocess.run(
        [sys.executable, "-m", "cpdesk"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 1
    assert "lock_to_logout_seconds" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_late_right_answer_to_an_unlock_does_not_unlock_after_a_relock(
    qtbot, make_locking_app, index_server, tmp_path
) -> None:
    hold = threading.Event()
    with stalling_proxy(index_server, tmp_path / "proxy", hold_unlock=hold) as proxy:
        assert proxy.certs is not None
        app = make_locking_app(
            Connection(proxy.base_url, str(proxy.certs.ca_cert), (proxy.certs.spki_pin,))
        )
        sign_in_ok(qtbot, app)
        ctrl_l(qtbot, app)
        before = len(unlock_outcomes(index_server))
        type_unlock(qtbot, app, DEMO_PASSWORD)  # the right password, held at the proxy
        qtbot.waitUntil(lambda: b"/auth/unlock" in bytes(proxy.received), timeout=10000)
        app.session.lock(LockReason.OS_LOCK)  # the OS locks while the server "checks"
        hold.set()
        qtbot.waitUntil(lambda: not app.auth_runner.busy, timeout=20000)
        assert unlock_outcomes(index_server)[before:] == ["success"]  # the server said yes
        assert app.session.state is SessionState.LOCKED  # and the app stayed locked
        assert app.window.windowTitle() == LOCKED_TITLE
        assert "locked again" in app.window.lock_panel.message.text()
