"""macOS lock notifications and sharing type, through fakes of CoreFoundation and objc."""

from __future__ import annotations

from typing import Any

import pytest

from cpdesk.platform import macos as m
from cpdesk.platform.base import CaptureGuard, LockListener
from cpdesk.session import LockReason

CENTER = 0xC0FFEE


class FakeCoreFoundation:
    def __init__(self, center: int = CENTER) -> None:
        self.center = center
        self.observers: list[tuple[int, Any, str]] = []
        self.removed: list[int] = []
        self._strings: dict[int, str] = {}
        self.CFNotificationCenterGetDistributedCenter = lambda: self.center

    def CFStringCreateWithCString(self, alloc: Any, text: bytes, encoding: int) -> int:
        assert encoding == m.CF_STRING_ENCODING_UTF8
        handle = 0x1000 + len(self._strings)
        self._strings[handle] = text.decode()
        return handle

    def CFNotificationCenterAddObserver(
        self, center: int, observer: int, callback: Any, name: int, obj: Any, how: int
    ) -> None:
        assert center == self.center
        assert how == m.CF_DELIVER_IMMEDIATELY
        self.observers.append((observer, callback, self._strings[name]))

    def CFNotificationCenterRemoveEveryObserver(self, center: int, observer: int) -> None:
        self.removed.append(observer)

    def post(self, name: str) -> None:
        for _, callback, observed in self.observers:
            if observed == name:
                callback(self.center, None, None, None, None)


class Seen:
    def __init__(self) -> None:
        self.reasons: list[LockReason] = []

    def __call__(self, reason: LockReason) -> None:
        self.reasons.append(reason)


def test_screen_lock_notifications_lock() -> None:
    cf = FakeCoreFoundation()
    listener = m.MacLockListener(cf=cf)
    assert isinstance(listener, LockListener)
    assert listener.detects_screen_lock
    assert listener.sources == m.LOCK_NOTIFICATIONS
    assert len({observer for observer, _, _ in cf.observers}) == 2  # distinct tokens
    seen = Seen()
    listener.subscribe(seen)
    cf.post("com.apple.screenIsLocked")
    cf.post("com.apple.screensaver.didstart")
    cf.post("com.apple.screenIsUnlocked")
    assert seen.reasons == [LockReason.OS_LOCK, LockReason.OS_LOCK]
    listener.close()
    assert sorted(cf.removed) == sorted(observer for observer, _, _ in cf.observers)
    assert not listener.sources


def test_no_notification_centre_fails_closed() -> None:
    listener = m.MacLockListener(cf=FakeCoreFoundation(center=0))
    assert not listener.detects_screen_lock
    assert listener.sources == ()
    listener.close()


class FakeObjc:
    """objc_msgSend over a tiny object table: view -> window -> sharingType."""

    def __init__(self, window: int = 0x2000, honours: bool = True) -> None:
        self.window = window
        self.honours = honours
        self.sharing_type = 1
        self.sent: list[tuple[int, bytes, tuple[int, ...]]] = []
        # A plain function, as ctypes' is: the guard sets restype/argtypes on it.
        self.objc_msgSend = lambda *a: self._send(*a)

    def sel_registerName(self, name: bytes) -> bytes:
        return name

    def _send(self, receiver: int, selector: bytes, *args: int) -> int | None:
        self.sent.append((receiver, selector, args))
        if selector == b"window":
            return self.window or None
        if selector == b"setSharingType:" and self.honours:
            self.sharing_type = args[0]
        if selector == b"sharingType":
            return self.sharing_type or None
        return None


def test_sharing_type_none_and_back() -> None:
    objc = FakeObjc()
    guard = m.MacCaptureGuard(objc=objc)
    assert isinstance(guard, CaptureGuard)
    assert guard.can_prevent()
    assert guard.set_prevent(0x1000, True)
    assert objc.sharing_type == m.NS_WINDOW_SHARING_NONE
    assert (0x2000, b"setSharingType:", (0,)) in objc.sent
    assert guard.set_prevent(0x1000, False)
    assert objc.sharing_type == m.NS_WINDOW_SHARING_READ_ONLY


@pytest.mark.parametrize("objc", [FakeObjc(window=0), FakeObjc(honours=False)])
def test_sharing_type_failure_is_reported(objc: FakeObjc) -> None:
    assert not m.MacCaptureGuard(objc=objc).set_prevent(0x1000, True)
