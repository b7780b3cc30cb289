"""A D-Bus `ActiveChanged` on a real session bus locks the real app's window.

The platform tests prove the listener on a private bus; this proves the whole path the
app builds: `build_app` -> `make_lock_listener` -> `LinuxLockListener` on
`QDBusConnection.sessionBus()` -> `Session.lock` -> the privacy screen. Qt connects the
default session bus once per process, from `DBUS_SESSION_BUS_ADDRESS` at first use, so
the app runs in a child process (this module's `__main__`) started with the address of
a private `dbus-daemon` that this test starts and stops by pid.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers.private_bus import private_session_bus
from tests.helpers.spent_codes import forget_spent_code_at

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def session_bus(tmp_path: Path) -> Iterator[str]:
    with private_session_bus(tmp_path / "dbus") as address:
        yield address


def send(address: str, path: str, member: str, *args: str) -> None:
    env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=address)
    subprocess.run(
        ["dbus-send", "--session", "--type=signal", path, member, *args],
        env=env,
        check=True,
        timeout=30,
    )


def test_screensaver_active_changed_locks_the_real_window(session_bus, index_server) -> None:
    from PySide6.QtDBus import QDBusConnection

    # A screen saver owns its name on the bus, so the app also knows it can hear locks.
    owner = QDBusConnection.connectToBus(session_bus, "cpdesk-e2e-screensaver")
    assert owner.registerService("org.freedesktop.ScreenSaver")
    env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=session_bus, QT_QPA_PLATFORM="offscreen")
    # The child computes the code but cannot make it usable again: a test just before may
    # have spent this step's code for nurse.demo on the same index (tests.helpers.spent_codes).
    forget_spent_code_at(index_server.db_url, "nurse.demo")
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.test_lock_dbus", index_server.base_url,
         str(index_server.ca_cert), index_server.spki_pin],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    lines: list[str] = []
    try:
        assert child.stdout is not None
        for line in child.stdout:
            lines.append(line.rstrip())
            if line.startswith("READY"):
                send(
                    session_bus,
                    "/org/freedesktop/ScreenSaver",
                    "org.freedesktop.ScreenSaver.ActiveChanged",
                    "boolean:true",
                )
        assert child.wait(60) == 0, "\n".join(lines)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
        if child.stdout is not None:
            child.stdout.close()
        QDBusConnection.disconnectFromBus("cpdesk-e2e-screensaver")
    output = "\n".join(lines)
    assert "READY sources=org.freedesktop.ScreenSaver.ActiveChanged idle=120" in output
    assert "LOCKED reason=os-lock title=cpdesk — locked panel=LockScreen work=None" in output


# -- the child: the real app, as `cpdesk` builds it ---------------------------------------


def _wait(qapp: object, condition: Callable[[], bool], seconds: float) -> bool:
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    assert isinstance(qapp, QApplication)
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        qapp.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.01)
    return True


def _child(base_url: str, ca_cert: str, pin: str) -> int:
    import tempfile

    from cpdesk.app import Connection, build_app
    from cpdesk.policy import load_policy
    from cpdesk.session import SessionState
    from cpindex.seed.demo import DEMO_PASSWORD
    from tests.helpers.index_server import totp_now

    with tempfile.TemporaryDirectory() as empty:
        policy = load_policy(Path(empty), environ={})
    app = build_app(policy, Connection(base_url, ca_cert, (pin,)))
    try:
        app.window.show()
        page = app.window.signin
        page.username.setText("nurse.demo")
        page.password.setText(DEMO_PASSWORD)
        page.otp.setText(totp_now("nurse.demo"))
        page.button.click()
        if not _wait(app.qapp, lambda: app.session.state is SessionState.ACTIVE, 30):
            print("sign-in did not finish", flush=True)
            return 2
        sources = ",".join(app.listener.sources if app.listener else ())
        print(f"READY sources={sources} idle={app.session.idle_lock_seconds:g}", flush=True)
        if not _wait(app.qapp, lambda: app.session.state is SessionState.LOCKED, 30):
            print("not locked", flush=True)
            return 3
        reason = app.session.lock_reason.value if app.session.lock_reason else None
        panel = type(app.window.pages.currentWidget()).__name__
        print(
            f"LOCKED reason={reason} title={app.window.windowTitle()} panel={panel} "
            f"work={app.window.work}",
            flush=True,
        )
        return 0
    finally:
        app.shutdown()


if __name__ == "__main__":
    sys.exit(_child(*sys.argv[1:4]))
