"""Fakes for the OS seams: the Windows registry, OS lock listeners and capture guards.

FakeLockListener and FakeCaptureGuard satisfy cpdesk.platform.base's Protocols.

Plain Python so the logic around them is tested on any machine without the real OS.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cpdesk.session import LockReason

HKLM = 0x80000002
REG_SZ, REG_EXPAND_SZ, REG_DWORD, REG_MULTI_SZ = 1, 2, 4, 7


class FakeRegistry:
    """The slice of `winreg` that policy.py uses, over a dict of key path -> values."""

    HKEY_LOCAL_MACHINE = HKLM
    REG_SZ = REG_SZ
    REG_EXPAND_SZ = REG_EXPAND_SZ
    REG_DWORD = REG_DWORD
    REG_MULTI_SZ = REG_MULTI_SZ

    def __init__(self) -> None:
        self.keys: dict[str, dict[str, tuple[object, int]]] = {}
        self.open_handles = 0

    def set(self, path: str, name: str, data: object, kind: int) -> None:
        self.add_key(path)
        self.keys[path][name] = (data, kind)

    def add_key(self, path: str) -> None:
        parts = path.split("\\")
        for i in range(1, len(parts) + 1):
            self.keys.setdefault("\\".join(parts[:i]), {})

    def OpenKey(self, key: Any, sub_key: str) -> str:
        assert key == HKLM
        if sub_key not in self.keys:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        self.open_handles += 1
        return sub_key

    def EnumValue(self, key: str, index: int) -> tuple[str, object, int]:
        items = list(self.keys[key].items())
        if index >= len(items):
            raise OSError(259, "No more data is available")
        name, (data, kind) = items[index]
        return name, data, kind

    def EnumKey(self, key: str, index: int) -> str:
        prefix = key + "\\"
        children = [p[len(prefix) :] for p in self.keys if p.startswith(prefix)]
        children = [c for c in children if "\\" not in c]
        if index >= len(children):
            raise OSError(259, "No more data is available")
        return children[index]

    def CloseKey(self, key: str) -> None:
        self.open_handles -= 1


class FakeLockListener:
    """A `LockListener` the test fires by hand: `fire(LockReason.OS_LOCK)`."""

    def __init__(self, detects_screen_lock: bool = True) -> None:
        self._detects = detects_screen_lock
        self._callbacks: list[Callable[[LockReason], None]] = []
        self.closed = False

    @property
    def sources(self) -> tuple[str, ...]:
        return ("fake.ScreenSaver",) if self._detects else ()

    @property
    def detects_screen_lock(self) -> bool:
        return self._detects

    def subscribe(self, callback: Callable[[LockReason], None]) -> None:
        self._callbacks.append(callback)

    def close(self) -> None:
        self.closed = True

    def fire(self, reason: LockReason = LockReason.OS_LOCK) -> None:
        for callback in list(self._callbacks):
            callback(reason)


class FakeCaptureGuard:
    """A `CaptureGuard` that records what it was asked to do."""

    def __init__(self, possible: bool = True, succeeds: bool = True) -> None:
        self.possible = possible
        self.succeeds = succeeds
        self.calls: list[tuple[int, bool]] = []

    def can_prevent(self) -> bool:
        return self.possible

    def set_prevent(self, window_id: int, on: bool) -> bool:
        self.calls.append((window_id, on))
        return self.possible and self.succeeds
