"""Windows: session lock, disconnect, suspend and lid signals; capture exclusion. ctypes only.

Lock signals arrive as window messages, so a Qt native event filter reads them:
- `WM_WTSSESSION_CHANGE` after `WTSRegisterSessionNotification`: `WTS_SESSION_LOCK`
  (Win+L, user switch), `WTS_CONSOLE_DISCONNECT` and `WTS_REMOTE_DISCONNECT` (the RDP or
  VDI client went away) -> OS_LOCK;
- `WM_POWERBROADCAST`: `PBT_APMSUSPEND` -> SUSPEND; and with
  `RegisterPowerSettingNotification(GUID_LIDSWITCH_STATE_CHANGE)`, lid closed -> SUSPEND.

Capture: `SetWindowDisplayAffinity(WDA_EXCLUDEFROMCAPTURE)` (Windows 10 2004+) leaves the
window out of screenshots, recordings and screen sharing; older builds fall back to
`WDA_MONITOR` (captured as black). Over some RDP/VDI setups this blanks the window for
the remote user too: IT turns it off with `screen_capture_protection` (docs/deployment.md).

The DLLs are parameters so unit tests pass fakes of the ctypes functions on any OS.
"""

from __future__ import annotations

import ctypes
import logging
import uuid
from typing import Any

from PySide6.QtCore import QAbstractNativeEventFilter, QByteArray, QCoreApplication

from cpdesk.platform.base import CallbackList, LockCallback
from cpdesk.session import LockReason

__all__ = [
    "MSG",
    "WindowsCaptureGuard",
    "WindowsLockListener",
    "classify_message",
]

log = logging.getLogger(__name__)

WM_WTSSESSION_CHANGE = 0x02B1
WTS_CONSOLE_DISCONNECT = 0x2
WTS_REMOTE_DISCONNECT = 0x4
WTS_SESSION_LOCK = 0x7
WM_POWERBROADCAST = 0x0218
PBT_APMSUSPEND = 0x4
PBT_POWERSETTINGCHANGE = 0x8013
NOTIFY_FOR_THIS_SESSION = 0
DEVICE_NOTIFY_WINDOW_HANDLE = 0
GUID_LIDSWITCH_STATE_CHANGE = uuid.UUID("ba3e0f4d-b817-4094-a2d1-d56379e6a0f3").bytes_le
WDA_NONE = 0x0
WDA_MONITOR = 0x1
WDA_EXCLUDEFROMCAPTURE = 0x11

_LOCKING_SESSION_EVENTS = {WTS_SESSION_LOCK, WTS_CONSOLE_DISCONNECT, WTS_REMOTE_DISCONNECT}
_NATIVE_TYPES = {b"windows_generic_MSG", b"windows_dispatcher_MSG"}


class MSG(ctypes.Structure):
    """The Win32 MSG structure, as the native event filter receives a pointer to it."""

    _fields_ = [
        ("hwnd", ctypes.c_void_p),
        ("message", ctypes.c_uint),
        ("wParam", ctypes.c_size_t),
        ("lParam", ctypes.c_ssize_t),
        ("time", ctypes.c_uint32),
        ("pt_x", ctypes.c_int32),
        ("pt_y", ctypes.c_int32),
    ]


class POWERBROADCAST_SETTING(ctypes.Structure):
    _fields_ = [
        ("PowerSetting", ctypes.c_ubyte * 16),
        ("DataLength", ctypes.c_uint32),
        ("Data", ctypes.c_uint32),  # a DWORD for the lid switch: 0 = closed
    ]


def classify_message(message: int, wparam: int, lparam: int) -> LockReason | None:
    """The lock reason a window message means, or None."""
    if message == WM_WTSSESSION_CHANGE and wparam in _LOCKING_SESSION_EVENTS:
        return LockReason.OS_LOCK
    if message == WM_POWERBROADCAST:
        if wparam == PBT_APMSUSPEND:
            return LockReason.SUSPEND
        if wparam == PBT_POWERSETTINGCHANGE and lparam:
            setting = POWERBROADCAST_SETTING.from_address(lparam)
            if bytes(setting.PowerSetting) == GUID_LIDSWITCH_STATE_CHANGE and setting.Data == 0:
                return LockReason.SUSPEND
    return None


def _dll(name: str) -> Any:
    return getattr(ctypes, "WinDLL")(name, use_last_error=True)  # noqa: B009 - Windows only


class WindowsLockListener(QAbstractNativeEventFilter):
    """Registers `hwnd` for session and lid notifications and filters the messages."""

    def __init__(
        self,
        hwnd: int,
        *,
        wtsapi32: Any = None,
        user32: Any = None,
        app: QCoreApplication | None = None,
    ) -> None:
        super().__init__()
        self._callbacks = CallbackList()
        self._hwnd = ctypes.c_void_p(hwnd)
        self._wtsapi32 = wtsapi32 if wtsapi32 is not None else _dll("wtsapi32")
        self._user32 = user32 if user32 is not None else _dll("user32")
        self._app = app or QCoreApplication.instance()
        self._sources: list[str] = ["WM_POWERBROADCAST"]  # sent to every top-level window
        self._session_registered = bool(
            self._wtsapi32.WTSRegisterSessionNotification(self._hwnd, NOTIFY_FOR_THIS_SESSION)
        )
        if self._session_registered:
            self._sources.append("WM_WTSSESSION_CHANGE")
        else:
            log.warning("WTSRegisterSessionNotification failed: no session-lock signal")
        self._lid_guid = (ctypes.c_ubyte * 16).from_buffer_copy(GUID_LIDSWITCH_STATE_CHANGE)
        self._lid_handle = self._user32.RegisterPowerSettingNotification(
            self._hwnd, ctypes.byref(self._lid_guid), DEVICE_NOTIFY_WINDOW_HANDLE
        )
        if self._lid_handle:
            self._sources.append("GUID_LIDSWITCH_STATE_CHANGE")
        if self._app is not None:
            self._app.installNativeEventFilter(self)

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(self._sources)

    @property
    def detects_screen_lock(self) -> bool:
        return self._session_registered

    def subscribe(self, callback: LockCallback) -> None:
        self._callbacks.subscribe(callback)

    def close(self) -> None:
        if self._app is not None:
            self._app.removeNativeEventFilter(self)
            self._app = None
        if self._session_registered:
            self._wtsapi32.WTSUnRegisterSessionNotification(self._hwnd)
            self._session_registered = False
        if self._lid_handle:
            self._user32.UnregisterPowerSettingNotification(self._lid_handle)
            self._lid_handle = None

    def nativeEventFilter(
        self, eventType: QByteArray | bytes | bytearray | memoryview, message: int
    ) -> object:
        kind = eventType.data() if isinstance(eventType, QByteArray) else bytes(eventType)
        if kind in _NATIVE_TYPES and message:
            msg = MSG.from_address(int(message))
            reason = classify_message(msg.message, msg.wParam, msg.lParam)
            if reason is not None:
                self._callbacks.fire(reason)
        return False, 0  # observe only: Windows still gets its answer


class WindowsCaptureGuard:
    """SetWindowDisplayAffinity on the top-level window's HWND."""

    def __init__(self, user32: Any = None) -> None:
        self._user32 = user32 if user32 is not None else _dll("user32")

    def can_prevent(self) -> bool:
        return True

    def set_prevent(self, window_id: int, on: bool) -> bool:
        hwnd = ctypes.c_void_p(window_id)
        if not on:
            return bool(self._user32.SetWindowDisplayAffinity(hwnd, WDA_NONE))
        if self._user32.SetWindowDisplayAffinity(hwnd, WDA_EXCLUDEFROMCAPTURE):
            return True
        # Before Windows 10 2004: the window is captured as black instead.
        return bool(self._user32.SetWindowDisplayAffinity(hwnd, WDA_MONITOR))
