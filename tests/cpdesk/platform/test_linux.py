"""Linux OS lock signals on a real, private D-Bus daemon (started by the test)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from PySide6.QtDBus import QDBusConnection
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from cpdesk.clock import FakeClock
from cpdesk.platform.linux import LinuxLockListener
from cpdesk.records import UserInfo
from cpdesk.session import LockReason, Session, SessionState


@dataclass
class Bus:
    address: str
    connection: QDBusConnection

    def send(self, path: str, member: str, *args: str) -> None:
        """Emit a signal exactly as the issue's check does: `dbus-send --session`."""
        env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=self.address)
        subprocess.run(
            ["dbus-send", "--session", "--type=signal", path, member, *args], env=env, check=True
        )


_count = 0


@pytest.fixture
def bus(qapp: QApplication) -> Iterator[Bus]:
    global _count
    _count += 1
    out = subprocess.run(
        ["dbus-daemon", "--session", "--print-address=1", "--print-pid=1", "--fork"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    address, pid = out[0], int(out[1])
    name = f"cpdesk-test-{_count}"
    connection = QDBusConnection.connectToBus(address, name)
    assert connection.isConnected()
    try:
        yield Bus(address, connection)
    finally:
        QDBusConnection.disconnectFromBus(name)
        os.kill(pid, signal.SIGTERM)


class Seen:
    def __init__(self) -> None:
        self.reasons: list[LockReason] = []

    def __call__(self, reason: LockReason) -> None:
        self.reasons.append(reason)


def listen(bus: Bus) -> tuple[LinuxLockListener, Seen]:
    listener = LinuxLockListener(session_bus=bus.connection, system_bus=bus.connection)
    seen = Seen()
    listener.subscribe(seen)
    return listener, seen


def test_screensaver_active_changed_fires(bus: Bus, qtbot: QtBot) -> None:
    listener, seen = listen(bus)
    bus.send(
        "/org/freedesktop/ScreenSaver", "org.freedesktop.ScreenSaver.ActiveChanged", "boolean:true"
    )
    qtbot.waitUntil(lambda: seen.reasons == [LockReason.OS_LOCK], timeout=10000)
    listener.close()


def test_gnome_screensaver_and_deactivation(bus: Bus, qtbot: QtBot) -> None:
    listener, seen = listen(bus)
    # Screen un-blanked: not a lock. Then GNOME's lock: a lock. Order is kept per bus.
    bus.send("/org/gnome/ScreenSaver", "org.gnome.ScreenSaver.ActiveChanged", "boolean:false")
    bus.send("/org/gnome/ScreenSaver", "org.gnome.ScreenSaver.ActiveChanged", "boolean:true")
    qtbot.waitUntil(lambda: len(seen.reasons) >= 1, timeout=10000)
    assert seen.reasons == [LockReason.OS_LOCK]
    listener.close()


def test_login1_lock_and_sleep(bus: Bus, qtbot: QtBot) -> None:
    listener, seen = listen(bus)
    bus.send("/org/freedesktop/login1/session/_32", "org.freedesktop.login1.Session.Lock")
    bus.send(
        "/org/freedesktop/login1", "org.freedesktop.login1.Manager.PrepareForSleep", "boolean:false"
    )
    bus.send(
        "/org/freedesktop/login1", "org.freedesktop.login1.Manager.PrepareForSleep", "boolean:true"
    )
    qtbot.waitUntil(lambda: len(seen.reasons) >= 2, timeout=10000)
    assert seen.reasons == [LockReason.OS_LOCK, LockReason.SUSPEND]
    listener.close()


def test_close_unsubscribes(bus: Bus, qtbot: QtBot) -> None:
    closed, closed_seen = listen(bus)
    closed.close()
    open_listener, seen = listen(bus)
    bus.send(
        "/org/freedesktop/ScreenSaver", "org.freedesktop.ScreenSaver.ActiveChanged", "boolean:true"
    )
    qtbot.waitUntil(lambda: bool(seen.reasons), timeout=10000)
    assert closed_seen.reasons == []
    open_listener.close()


def test_detects_screen_lock_only_when_a_screensaver_is_on_the_bus(
    bus: Bus, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="cpdesk.platform.linux"):
        listener, _ = listen(bus)
    assert not listener.detects_screen_lock
    assert listener.sources == ()
    assert "no screen-lock signal" in caplog.text
    listener.close()

    owner_name = "cpdesk-test-owner"
    owner = QDBusConnection.connectToBus(bus.address, owner_name)
    try:
        assert owner.registerService("org.gnome.ScreenSaver")
        assert owner.registerService("org.freedesktop.login1")
        listener, _ = listen(bus)
        assert listener.detects_screen_lock
        assert listener.sources == (
            "org.gnome.ScreenSaver.ActiveChanged",
            "org.freedesktop.login1.Session.Lock",
            "org.freedesktop.login1.Manager.PrepareForSleep",
        )
        listener.close()
    finally:
        QDBusConnection.disconnectFromBus(owner_name)


def test_no_bus_fails_closed(qapp: QApplication, caplog: pytest.LogCaptureFixture) -> None:
    nowhere = QDBusConnection("cpdesk-test-never-connected")
    assert not nowhere.isConnected()
    with caplog.at_level(logging.INFO, logger="cpdesk.platform.linux"):
        listener = LinuxLockListener(session_bus=nowhere, system_bus=nowhere)
    assert listener.sources == ()
    assert not listener.detects_screen_lock
    assert "no screen-lock signal" in caplog.text
    listener.close()


def test_dbus_signal_locks_the_session(bus: Bus, qtbot: QtBot) -> None:
    """The wiring the app uses: listener.subscribe(session.lock)."""
    session = Session(FakeClock(), idle_lock_seconds=120, lock_to_logout_seconds=900)
    session.sign_in(UserInfo("nurse.demo", "Sam Okafor", "practitioner", "Northgate A&E"))
    listener = LinuxLockListener(session_bus=bus.connection, system_bus=bus.connection)
    listener.subscribe(session.lock)
    bus.send(
        "/org/freedesktop/ScreenSaver", "org.freedesktop.ScreenSaver.ActiveChanged", "boolean:true"
    )
    qtbot.waitUntil(lambda: session.state is SessionState.LOCKED, timeout=10000)
    assert session.lock_reason is LockReason.OS_LOCK
    listener.close()
