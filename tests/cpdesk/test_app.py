"""The composition root and the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtDBus import QDBusConnection

from cpdesk import __main__ as cli
from cpdesk import app as app_module
from cpdesk.app import Connection, build_app
from cpdesk.platform.linux import LinuxLockListener
from cpdesk.policy import load_policy
from cpdesk.session import LockReason, SessionState
from cpdesk.ui.main_window import APP_TITLE
from tests.helpers.private_bus import private_session_bus

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


@pytest.fixture
def private_bus(qapp, tmp_path, monkeypatch) -> Iterator[QDBusConnection]:
    """A session bus of the test's own, with nothing on it unless the test puts it there.

    Qt connects its default session bus once per process, so the app's lock listener is
    handed this connection; DBUS_SESSION_BUS_ADDRESS points there too for anything else.
    """
    with private_session_bus(tmp_path / "dbus") as address:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        name = f"cpdesk-test-app-{tmp_path.name}"
        connection = QDBusConnection.connectToBus(address, name)
        assert connection.isConnected()
        try:
            yield connection
        finally:
            QDBusConnection.disconnectFromBus(name)


def on_bus(connection: QDBusConnection) -> Callable[[int], LinuxLockListener]:
    """A lock-listener factory for `build_app` that listens on `connection` only."""
    return lambda _window_id: LinuxLockListener(session_bus=connection, system_bus=connection)


def test_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "cpdesk", "--version"], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0
    assert out.stdout.strip() == "cpdesk 0.1.0"


def test_usage_error_exits_2(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["nonsense"])
    assert exit_info.value.code == 2


def test_invalid_policy_refuses_to_start_naming_the_key(tmp_path, capsys) -> None:
    managed = tmp_path / "managed"
    managed.mkdir()
    (managed / "10-site.json").write_text(json.dumps({"idle_lock_seconds": 5}))
    assert cli.main(["--policy-root", str(tmp_path)]) == 1
    assert "idle_lock_seconds" in capsys.readouterr().err


def test_no_server_configured(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("CPDESK_SERVER_URL", raising=False)
    assert cli.main(["--policy-root", str(tmp_path)]) == 1
    assert "no index server is configured" in capsys.readouterr().err


def test_http_server_url_is_refused(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("CPDESK_SERVER_URL", "http://index.example")
    assert app_module.run(policy_root=tmp_path) == 1
    assert "server_url" in capsys.readouterr().err


def test_demo_without_index_says_so(tmp_path, capsys, monkeypatch) -> None:
    from cpdesk import demo

    monkeypatch.setattr(demo, "index_missing", lambda: ["cpindex"])
    assert app_module.run(demo=True, policy_root=tmp_path) == 1
    assert "needs the index server" in capsys.readouterr().err


def test_build_app_wires_everything(qapp, qtbot, tmp_path, private_bus) -> None:
    policy = load_policy(tmp_path, environ={})
    app = build_app(
        policy,
        Connection("https://127.0.0.1:9"),
        demo=True,
        lock_listener_factory=on_bus(private_bus),
    )
    try:
        qtbot.addWidget(app.window)
        app.window.show()
        assert app.window.windowTitle() == APP_TITLE
        assert app.window.signin.username.text() == "nurse.demo"
        assert app.session.state is SessionState.SIGNED_OUT
        # the lock machinery and the index client come in the turn after the first paint
        qtbot.waitUntil(lambda: app.activity is not None)
        assert app.listener is not None
        # no screen saver on this test's own bus: fail closed to at most 60 s
        assert app.session.idle_lock_seconds <= 60
    finally:
        app.shutdown()


def test_a_sign_in_sent_before_the_first_paint_finishes_start_up_first(
    qapp, qtbot, tmp_path, private_bus
) -> None:
    """Nothing is deferred past the point where a password can be sent."""
    policy = load_policy(tmp_path, environ={})
    app = build_app(
        policy, Connection("https://127.0.0.1:9"), lock_listener_factory=on_bus(private_bus)
    )
    try:
        qtbot.addWidget(app.window)
        assert app.listener is None and app.activity is None  # not painted yet
        page = app.window.signin
        page.username.setText("nurse.demo")
        page.password.setText("not-the-password")
        page.otp.setText("123456")
        page.button.click()  # the window was never painted: start-up finishes now
        assert app.listener is not None and app.activity is not None
        assert app.session.idle_lock_seconds <= 60
        assert app.window._finished
        # nothing listens on port 9: the answer is a message on the page
        qtbot.waitUntil(lambda: page.message.text() != "", timeout=15000)
    finally:
        app.shutdown()


def test_a_screen_saver_on_the_bus_keeps_the_policy_idle_limit(
    qapp, qtbot, tmp_path, private_bus
) -> None:
    """The other half, as on a GNOME desktop: the limit depends on the bus, not the host."""
    saver = QDBusConnection.connectToBus(
        os.environ["DBUS_SESSION_BUS_ADDRESS"], f"saver-{tmp_path.name}"
    )
    try:
        assert saver.registerService("org.freedesktop.ScreenSaver")
        policy = load_policy(tmp_path, environ={})
        app = build_app(
            policy, Connection("https://127.0.0.1:9"), lock_listener_factory=on_bus(private_bus)
        )
        try:
            qtbot.addWidget(app.window)
            app.finish_start()
            assert app.listener is not None and app.listener.detects_screen_lock
            assert app.session.idle_lock_seconds == policy.idle_lock_seconds == 120
        finally:
            app.shutdown()
    finally:
        QDBusConnection.disconnectFromBus(f"saver-{tmp_path.name}")


def test_settings_dialog_opens_from_the_header_and_closes_at_lock(qapp, qtbot, tmp_path) -> None:
    from PySide6.QtWidgets import QDialog

    from cpdesk.records import UserInfo
    from cpdesk.session import LockReason

    policy = load_policy(tmp_path, environ={})
    app = build_app(policy, Connection("https://127.0.0.1:9"))
    try:
        qtbot.addWidget(app.window)
        app.window.show()
        app.session.sign_in(UserInfo("u", "User", "practitioner", "Org"))
        work = app.window.work
        assert work.settings_button.isVisibleTo(app.window)
        work.settings_button.click()
        dialogs = [d for d in app.window.findChildren(QDialog) if d.isVisible()]
        assert [d.objectName() for d in dialogs] == ["settingsDialog"]
        app.session.lock(LockReason.MANUAL)
        assert not [d for d in app.window.findChildren(QDialog) if d.isVisible()]
    finally:
        app.shutdown()


@pytest.mark.slow
def test_demo_mode_closing_the_window_stops_the_index(qapp, tmp_path, monkeypatch) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from cpdesk import demo
    from cpdesk.ui.main_window import MainWindow

    started: list[demo.DemoIndex] = []
    real_start = demo.start_demo_index

    def small_index(**kwargs: object) -> demo.DemoIndex:
        index = real_start(children=300, data_dir=tmp_path, say=lambda _: None)
        started.append(index)
        return index

    monkeypatch.setattr(demo, "start_demo_index", small_index)
    seen: list[str] = []

    def close_the_window() -> None:
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]
        if not windows or not windows[-1].isVisible():
            QTimer.singleShot(100, close_the_window)
            return
        seen.append(windows[-1].signin.username.text())
        windows[-1].close()

    QTimer.singleShot(100, close_the_window)
    assert app_module.run(demo=True, policy_root=tmp_path) == 0
    assert seen == ["nurse.demo"]  # demo mode prefills the demo user
    (index,) = started
    assert not index.running


def test_normal_mode_reads_the_user_settings_file(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("CPDESK_SERVER_URL", raising=False)
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"server_url": "http://plain.example"}))
    monkeypatch.setattr(app_module, "user_settings_file", lambda: settings)
    assert app_module.run(policy_root=tmp_path / "policies") == 1
    assert "server_url" in capsys.readouterr().err  # read, and refused: not https


def test_start_up_that_fails_after_the_paint_lets_no_sign_in_out(qapp, qtbot, tmp_path) -> None:
    """Fail closed: without the lock machinery, no password leaves the machine."""

    def broken(_window_id: int) -> object:
        raise RuntimeError("no lock listener")

    policy = load_policy(tmp_path, environ={})
    app = build_app(policy, Connection("https://127.0.0.1:9"), lock_listener_factory=broken)
    try:
        qtbot.addWidget(app.window)
        with qtbot.capture_exceptions() as raised:
            app.window.show()
            qtbot.waitUntil(lambda: len(raised) == 1)  # the turn after the first paint
            page = app.window.signin
            page.username.setText("nurse.demo")
            page.password.setText("not-the-password")
            page.otp.setText("123456")
            page.button.click()  # start-up is tried again, fails again: nothing is sent
        assert len(raised) == 2
        assert app.listener is None and app.activity is None
        assert app.client._client is None  # no client: no request could have gone out
        assert page.busy.isHidden()
    finally:
        app.shutdown()


@pytest.mark.parametrize(
    ("xdg", "home"),
    [("", "/home/ann"), ("/cfg", "/home/ann"), ("relative/cfg", "/home/ann"), ("/cfg", "")],
)
def test_user_settings_file_is_where_platformdirs_puts_it(xdg, home, monkeypatch) -> None:
    import platformdirs

    monkeypatch.setenv("XDG_CONFIG_HOME", xdg)
    monkeypatch.setenv("HOME", home)
    expected = Path(platformdirs.user_config_dir("cpdesk")) / "settings.json"
    assert app_module.user_settings_file() == expected


FIRST_PAINT = r"""
import json, sys
from pathlib import Path
from PySide6.QtCore import QEvent, QObject
from cpdesk.app import Connection, build_app
from cpdesk.policy import load_policy
app = build_app(load_policy(Path(sys.argv[1]), environ={}), Connection("https://127.0.0.1:9"))
seen = {}
class F(QObject):
    def eventFilter(self, o, e):
        if e.type() == QEvent.Type.Paint and not seen:
            seen["modules"] = sorted(sys.modules)
            seen["listener"] = app.listener is not None
            app.qapp.exit(0)
        return False
f = F(); app.window.signin.installEventFilter(f); app.window.show(); app.qapp.exec()
app.qapp.setStyleSheet("")  # the style sheet style wraps the real one
seen["style"] = app.qapp.style().name()
app.shutdown()
print(json.dumps(seen))
"""


def test_the_sign_in_window_paints_before_the_network_and_lock_code_loads(tmp_path) -> None:
    """What keeps cold start fast, checked by what is loaded (timings: benchmarks/client.py).

    The client's TLS stack and the record types wait until after the first paint; the
    theme's style is still Fusion although it is chosen on the command line, not by
    `setStyle`.
    """
    out = subprocess.run(
        [sys.executable, "-c", FIRST_PAINT, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    loaded = set(seen["modules"])
    for heavy in ("requests", "urllib3", "ssl", "cryptography", "cpdesk.net", "cpdesk.records"):
        assert heavy not in loaded
    assert "cpdesk.ui.activity" not in loaded and not seen["listener"]
    assert seen["style"].lower() == "fusion"


def test_the_app_checks_its_deadlines_the_moment_it_becomes_active_again(
    qapp, qtbot, tmp_path
) -> None:
    """After a resume the missed-suspend check runs at once, not at the next tick."""
    from PySide6.QtCore import Qt

    from cpdesk.clock import FakeClock
    from cpdesk.platform.null import NullLockListener
    from cpdesk.records import UserInfo

    clock = FakeClock()
    policy = load_policy(tmp_path, environ={})
    app = build_app(
        policy,
        Connection("https://127.0.0.1:9"),
        clock=clock,
        lock_listener_factory=lambda _: NullLockListener(),
    )
    try:
        qtbot.addWidget(app.window)
        app.finish_start()
        app.session.sign_in(UserInfo("u", "User", "practitioner", "Org"))
        clock.advance(120)  # asleep past the idle limit, and no suspend signal came
        assert app.session.state is SessionState.ACTIVE  # no tick has run since
        app.qapp.applicationStateChanged.emit(Qt.ApplicationState.ApplicationActive)
        assert app.session.state is SessionState.LOCKED  # at once, in the same turn
        assert app.session.lock_reason is LockReason.IDLE
    finally:
        app.shutdown()


def test_record_caches_follow_policy(tmp_path, monkeypatch) -> None:
    """cache_enabled off: nothing written, the keyring never asked. On: per-user caches
    in the user cache folder, built at first use."""
    from dataclasses import replace

    from cpdesk.app import LazyCaches
    from cpdesk.cache import NullCache
    from cpdesk.cache import keyring as cache_keyring
    from cpdesk.clock import FakeClock
    from tests.cpdesk.cache.helpers import DictKeyring

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    ring = DictKeyring()
    monkeypatch.setattr(cache_keyring, "system_keyring", lambda: ring)
    policy = load_policy(tmp_path / "no-policy", environ={})
    off = LazyCaches(replace(policy, cache_enabled=False), FakeClock())
    assert isinstance(off.open_signed_in("nurse", "pw"), NullCache)
    off.erase("nurse")
    off.shutdown()
    assert ring.calls == 0 and not (tmp_path / "cache").exists()

    on = LazyCaches(policy, FakeClock())
    cache = on.open_signed_in("nurse", "pw")
    cache.put("c-1", b"{}")
    cache.close()
    assert on.open_offline("nurse", "pw").get("c-1") is not None
    assert len(list((tmp_path / "cache" / "cpdesk" / "records").glob("*.key"))) == 1
    on.erase("nurse")
    on.shutdown()
    assert list((tmp_path / "cache" / "cpdesk" / "records").iterdir()) == []
