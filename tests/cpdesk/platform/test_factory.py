"""The OS choice, the null services, and failing closed when no lock signal exists."""

from __future__ import annotations

import logging

import pytest
from PySide6.QtWidgets import QApplication

import cpdesk.platform as plat
from cpdesk.platform.base import CallbackList, CaptureGuard, LockListener
from cpdesk.platform.linux import LinuxLockListener
from cpdesk.platform.null import NullCaptureGuard, NullLockListener
from cpdesk.session import LockReason
from tests.helpers.fakes import FakeCaptureGuard, FakeLockListener


def test_null_services() -> None:
    listener = NullLockListener()
    listener.subscribe(lambda reason: None)
    assert listener.sources == ()
    assert not listener.detects_screen_lock
    listener.close()
    guard = NullCaptureGuard()
    assert not guard.can_prevent()
    assert not guard.set_prevent(1, True)


def test_fakes_satisfy_the_protocols() -> None:
    assert isinstance(FakeLockListener(), LockListener)
    assert isinstance(FakeCaptureGuard(), CaptureGuard)
    assert isinstance(NullLockListener(), LockListener)
    assert isinstance(NullCaptureGuard(), CaptureGuard)


def test_linux_gets_the_dbus_listener(qapp: QApplication) -> None:
    listener = plat.make_lock_listener(platform="linux")
    assert isinstance(listener, LinuxLockListener)
    listener.close()
    assert isinstance(plat.make_capture_guard(platform="linux"), NullCaptureGuard)


def test_unknown_os_gets_null(qapp: QApplication, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="cpdesk.platform"):
        assert isinstance(plat.make_lock_listener(platform="haiku"), NullLockListener)
    assert "no OS lock signals on platform haiku" in caplog.text


@pytest.mark.parametrize("platform", ["win32", "darwin"])
def test_unreachable_os_hooks_fall_back_to_null(
    qapp: QApplication, platform: str, caplog: pytest.LogCaptureFixture
) -> None:
    """On this Linux machine WinDLL and the macOS frameworks do not exist: fail closed."""
    with caplog.at_level(logging.WARNING, logger="cpdesk.platform"):
        assert isinstance(plat.make_lock_listener(platform=platform), NullLockListener)
        assert isinstance(plat.make_capture_guard(platform=platform), NullCaptureGuard)
    assert "unavailable" in caplog.text


def test_fail_closed_idle_limit() -> None:
    with_signal = FakeLockListener(detects_screen_lock=True)
    without = FakeLockListener(detects_screen_lock=False)
    assert plat.effective_idle_lock_seconds(120, with_signal) == 120
    assert plat.effective_idle_lock_seconds(120, without) == 60
    assert plat.effective_idle_lock_seconds(30, without) == 30
    assert plat.effective_idle_lock_seconds(120, without, lock_on_os_lock=False) == 120


def test_describe_lock_detection() -> None:
    assert "fake.ScreenSaver" in plat.describe_lock_detection(FakeLockListener(), 120)
    text = plat.describe_lock_detection(FakeLockListener(detects_screen_lock=False), 60)
    assert "does not tell cpdesk" in text
    assert "60 seconds" in text


def test_one_failing_subscriber_does_not_stop_the_others() -> None:
    callbacks = CallbackList()
    seen: list[LockReason] = []

    def broken(reason: LockReason) -> None:
        raise OSError("broken")

    callbacks.subscribe(broken)
    callbacks.subscribe(seen.append)
    with pytest.raises(OSError):
        callbacks.fire(LockReason.SUSPEND)
    assert seen == [LockReason.SUSPEND]
