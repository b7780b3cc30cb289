"""macOS: screen-lock notifications and window sharing type, through ctypes only (no PyObjC).

Lock signals: the distributed notifications `com.apple.screenIsLocked` and
`com.apple.screensaver.didstart` -> OS_LOCK, observed with CoreFoundation's
`CFNotificationCenterGetDistributedCenter`. Qt's Cocoa event loop runs the main run
loop, so they are delivered on the GUI thread. Sleep has no distributed notification;
the session clock keeps counting through sleep, so the first tick after wake locks.

Capture: `[[view window] setSharingType:NSWindowSharingNone]` on the window behind Qt's
`winId()` (an NSView). macOS 15's ScreenCaptureKit may ignore it, hence "where reachable".

CoreFoundation and the Objective-C runtime are parameters so tests pass fakes.
"""

from __future__ import annotations

import ctypes
import logging
from typing import Any

from cpdesk.platform.base import CallbackList, LockCallback
from cpdesk.session import LockReason

__all__ = ["LOCK_NOTIFICATIONS", "MacCaptureGuard", "MacLockListener"]

log = logging.getLogger(__name__)

LOCK_NOTIFICATIONS = ("com.apple.screenIsLocked", "com.apple.screensaver.didstart")
CF_STRING_ENCODING_UTF8 = 0x08000100
CF_DELIVER_IMMEDIATELY = 4
NS_WINDOW_SHARING_NONE = 0
NS_WINDOW_SHARING_READ_ONLY = 1

CALLBACK = ctypes.CFUNCTYPE(
    None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p
)


def _load(path: str) -> Any:
    return ctypes.CDLL(path)


def _core_foundation() -> Any:
    cf = _load("/System/Library/Frameworks/CoreFoundation.framework/CoreFoundation")
    cf.CFNotificationCenterGetDistributedCenter.restype = ctypes.c_void_p
    cf.CFStringCreateWithCString.restype = ctypes.c_void_p
    cf.CFStringCreateWithCString.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint32]
    cf.CFNotificationCenterAddObserver.argtypes = [
        ctypes.c_void_p,
        ctypes.c_void_p,
        CALLBACK,
        ctypes.c_void_p,
        ctypes.c_void_p,
        ctypes.c_long,
    ]
    cf.CFNotificationCenterRemoveEveryObserver.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    return cf


class MacLockListener:
    """Observes the distributed lock notifications; one C callback per notification name."""

    def __init__(self, cf: Any = None) -> None:
        self._callbacks = CallbackList()
        self._cf = cf if cf is not None else _core_foundation()
        self._center = self._cf.CFNotificationCenterGetDistributedCenter()
        # Distinct observer tokens, and references to the C callbacks so they stay alive.
        self._tokens = (ctypes.c_int * len(LOCK_NOTIFICATIONS))()
        self._c_callbacks: list[Any] = []
        self._sources: list[str] = []
        if not self._center:
            log.warning("no distributed notification centre: no screen-lock signal")
            return
        for index, name in enumerate(LOCK_NOTIFICATIONS):
            callback = CALLBACK(self._make_handler())
            cf_name = self._cf.CFStringCreateWithCString(
                None, name.encode(), CF_STRING_ENCODING_UTF8
            )
            self._cf.CFNotificationCenterAddObserver(
                self._center,
                ctypes.addressof(self._tokens) + index * ctypes.sizeof(ctypes.c_int),
                callback,
                cf_name,
                None,
                CF_DELIVER_IMMEDIATELY,
            )
            self._c_callbacks.append(callback)
            self._sources.append(name)

    def _make_handler(self) -> Any:
        def handler(center: Any, observer: Any, name: Any, obj: Any, info: Any) -> None:
            self._callbacks.fire(LockReason.OS_LOCK)

        return handler

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(self._sources)

    @property
    def detects_screen_lock(self) -> bool:
        return bool(self._sources)

    def subscribe(self, callback: LockCallback) -> None:
        self._callbacks.subscribe(callback)

    def close(self) -> None:
        for index in range(len(self._sources)):
            token = ctypes.addressof(self._tokens) + index * ctypes.sizeof(ctypes.c_int)
            self._cf.CFNotificationCenterRemoveEveryObserver(self._center, token)
        self._sources.clear()


def _objc() -> Any:
    objc = _load("/usr/lib/libobjc.dylib")
    objc.sel_registerName.restype = ctypes.c_void_p
    objc.sel_registerName.argtypes = [ctypes.c_char_p]
    return objc


class MacCaptureGuard:
    """Sets the NSWindow sharing type behind a Qt window."""

    def __init__(self, objc: Any = None) -> None:
        self._objc = objc if objc is not None else _objc()

    def can_prevent(self) -> bool:
        return True

    def _send(self, receiver: int, selector: bytes, *args: int) -> int:
        send = self._objc.objc_msgSend
        send.restype = ctypes.c_void_p
        send.argtypes = [ctypes.c_void_p, ctypes.c_void_p] + [ctypes.c_ulong] * len(args)
        result = send(receiver, self._objc.sel_registerName(selector), *args)
        return int(result or 0)

    def set_prevent(self, window_id: int, on: bool) -> bool:
        window = self._send(window_id, b"window")  # winId() is the NSView
        if not window:
            return False
        wanted = NS_WINDOW_SHARING_NONE if on else NS_WINDOW_SHARING_READ_ONLY
        self._send(window, b"setSharingType:", wanted)
        return self._send(window, b"sharingType") == wanted
