"""Windows lock signals and capture exclusion, through fakes of the ctypes functions."""

from __future__ import annotations

import ctypes
from typing import Any

import pytest
from PySide6.QtCore import QByteArray
from PySide6.QtWidgets import QApplication

from cpdesk.platform import windows as w
from cpdesk.platform.base import CaptureGuard, LockListener
from cpdesk.session import LockReason

HWND = 0x1234


class FakeWtsApi:
    def __init__(self, ok: bool = True) -> None:
        self.ok = ok
        self.registered: list[tuple[int | None, int]] = []
        self.unregistered: list[int | None] = []

    def WTSRegisterSessionNotification(self, hwnd: ctypes.c_void_p, flags: int) -> int:
        self.registered.append((hwnd.value, flags))
        return 1 if self.ok else 0

    def WTSUnRegisterSessionNotification(self, hwnd: ctypes.c_void_p) -> int:
        self.unregistered.append(hwnd.value)
        return 1


class FakeUser32:
    def __init__(self, lid_handle: int = 77, affinity_results: tuple[int, ...] = (1,)) -> None:
        self.lid_handle = lid_handle
        self.lid_guid = b""
        self.unregistered_power: list[int] = []
        self.affinity_results = list(affinity_results)
        self.affinity_calls: list[tuple[int | None, int]] = []

    def RegisterPowerSettingNotification(self, hwnd: Any, guid_ref: Any, flags: int) -> int:
        self.lid_guid = bytes(guid_ref._obj)
        return self.lid_handle

    def UnregisterPowerSettingNotification(self, handle: int) -> int:
        self.unregistered_power.append(handle)
        return 1

    def SetWindowDisplayAffinity(self, hwnd: ctypes.c_void_p, affinity: int) -> int:
        self.affinity_calls.append((hwnd.value, affinity))
        return self.affinity_results.pop(0) if self.affinity_results else 0


class Seen:
    def __init__(self) -> None:
        self.reasons: list[LockReason] = []

    def __call__(self, reason: LockReason) -> None:
        self.reasons.append(reason)


def deliver(listener: w.WindowsLockListener, message: int, wparam: int, lparam: int = 0) -> None:
    msg = w.MSG(hwnd=HWND, message=message, wParam=wparam, lParam=lparam)
    result = listener.nativeEventFilter(QByteArray(b"windows_generic_MSG"), ctypes.addressof(msg))
    assert result == (False, 0)  # observe only


@pytest.fixture
def listener(qapp: QApplication) -> w.WindowsLockListener:
    return w.WindowsLockListener(HWND, wtsapi32=FakeWtsApi(), user32=FakeUser32(), app=qapp)


def test_registers_for_session_and_lid(qapp: QApplication) -> None:
    wts, user32 = FakeWtsApi(), FakeUser32()
    listener = w.WindowsLockListener(HWND, wtsapi32=wts, user32=user32, app=qapp)
    assert isinstance(listener, LockListener)
    assert wts.registered == [(HWND, w.NOTIFY_FOR_THIS_SESSION)]
    assert user32.lid_guid == w.GUID_LIDSWITCH_STATE_CHANGE
    assert listener.detects_screen_lock
    assert listener.sources == (
        "WM_POWERBROADCAST",
        "WM_WTSSESSION_CHANGE",
        "GUID_LIDSWITCH_STATE_CHANGE",
    )
    listener.close()
    assert wts.unregistered == [HWND]
    assert user32.unregistered_power == [77]
    listener.close()  # twice is harmless
    assert wts.unregistered == [HWND]


def test_failed_registration_fails_closed(qapp: QApplication) -> None:
    listener = w.WindowsLockListener(
        HWND, wtsapi32=FakeWtsApi(ok=False), user32=FakeUser32(lid_handle=0), app=qapp
    )
    assert not listener.detects_screen_lock
    assert listener.sources == ("WM_POWERBROADCAST",)
    listener.close()


@pytest.mark.parametrize(
    ("message", "wparam", "reason"),
    [
        (w.WM_WTSSESSION_CHANGE, w.WTS_SESSION_LOCK, LockReason.OS_LOCK),
        (w.WM_WTSSESSION_CHANGE, w.WTS_CONSOLE_DISCONNECT, LockReason.OS_LOCK),
        (w.WM_WTSSESSION_CHANGE, w.WTS_REMOTE_DISCONNECT, LockReason.OS_LOCK),
        (w.WM_POWERBROADCAST, w.PBT_APMSUSPEND, LockReason.SUSPEND),
    ],
)
def test_locking_messages(
    listener: w.WindowsLockListener, message: int, wparam: int, reason: LockReason
) -> None:
    seen = Seen()
    listener.subscribe(seen)
    deliver(listener, message, wparam)
    assert seen.reasons == [reason]
    listener.close()


@pytest.mark.parametrize(
    ("message", "wparam"),
    [
        (w.WM_WTSSESSION_CHANGE, 0x8),  # WTS_SESSION_UNLOCK
        (w.WM_WTSSESSION_CHANGE, 0x1),  # WTS_CONSOLE_CONNECT
        (w.WM_POWERBROADCAST, 0x12),  # PBT_APMRESUMEAUTOMATIC
        (0x0100, 0x41),  # WM_KEYDOWN
    ],
)
def test_other_messages_do_not_lock(
    listener: w.WindowsLockListener, message: int, wparam: int
) -> None:
    seen = Seen()
    listener.subscribe(seen)
    deliver(listener, message, wparam)
    assert seen.reasons == []
    listener.close()


def lid_setting(
    state: int, guid: bytes = w.GUID_LIDSWITCH_STATE_CHANGE
) -> w.POWERBROADCAST_SETTING:
    setting = w.POWERBROADCAST_SETTING()
    setting.PowerSetting[:] = list(guid)
    setting.DataLength = 4
    setting.Data = state
    return setting


def test_lid_closed_locks_and_lid_opened_does_not(listener: w.WindowsLockListener) -> None:
    seen = Seen()
    listener.subscribe(seen)
    opened = lid_setting(1)
    deliver(listener, w.WM_POWERBROADCAST, w.PBT_POWERSETTINGCHANGE, ctypes.addressof(opened))
    other = lid_setting(0, guid=bytes(16))
    deliver(listener, w.WM_POWERBROADCAST, w.PBT_POWERSETTINGCHANGE, ctypes.addressof(other))
    deliver(listener, w.WM_POWERBROADCAST, w.PBT_POWERSETTINGCHANGE, 0)
    assert seen.reasons == []
    closed = lid_setting(0)
    deliver(listener, w.WM_POWERBROADCAST, w.PBT_POWERSETTINGCHANGE, ctypes.addressof(closed))
    assert seen.reasons == [LockReason.SUSPEND]
    listener.close()


def test_non_windows_native_events_are_ignored(listener: w.WindowsLockListener) -> None:
    seen = Seen()
    listener.subscribe(seen)
    msg = w.MSG(message=w.WM_WTSSESSION_CHANGE, wParam=w.WTS_SESSION_LOCK)
    assert listener.nativeEventFilter(b"xcb_generic_event_t", ctypes.addressof(msg)) == (False, 0)
    assert listener.nativeEventFilter(b"windows_generic_MSG", 0) == (False, 0)
    assert seen.reasons == []
    listener.close()


def test_capture_guard_excludes_from_capture() -> None:
    user32 = FakeUser32(affinity_results=(1, 1))
    guard = w.WindowsCaptureGuard(user32=user32)
    assert isinstance(guard, CaptureGuard)
    assert guard.can_prevent()
    assert guard.set_prevent(HWND, True)
    assert guard.set_prevent(HWND, False)
    assert user32.affinity_calls == [(HWND, w.WDA_EXCLUDEFROMCAPTURE), (HWND, w.WDA_NONE)]


def test_capture_guard_falls_back_to_monitor_on_old_windows() -> None:
    user32 = FakeUser32(affinity_results=(0, 1))
    assert w.WindowsCaptureGuard(user32=user32).set_prevent(HWND, True)
    assert user32.affinity_calls == [(HWND, w.WDA_EXCLUDEFROMCAPTURE), (HWND, w.WDA_MONITOR)]


def test_capture_guard_reports_failure() -> None:
    user32 = FakeUser32(affinity_results=(0, 0))
    assert not w.WindowsCaptureGuard(user32=user32).set_prevent(HWND, True)
