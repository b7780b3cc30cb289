"""The null platform: no OS lock signal, no capture protection. The app fails closed."""

from __future__ import annotations

from cpdesk.platform.base import LockCallback

__all__ = ["NullCaptureGuard", "NullLockListener"]


class NullLockListener:
    """Subscribes to nothing; `detects_screen_lock` is False so the idle limit tightens."""

    @property
    def sources(self) -> tuple[str, ...]:
        return ()

    @property
    def detects_screen_lock(self) -> bool:
        return False

    def subscribe(self, callback: LockCallback) -> None:
        return None

    def close(self) -> None:
        return None


class NullCaptureGuard:
    """Capture cannot be blocked here (Linux: X11 and Wayland give apps no such control)."""

    def can_prevent(self) -> bool:
        return False

    def set_prevent(self, window_id: int, on: bool) -> bool:
        return False
