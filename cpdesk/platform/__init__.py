"""Per-OS services behind small interfaces; the factories here pick one for this OS.

`make_lock_listener` never raises: if the OS module cannot start, it logs why and returns
the null listener, whose `detects_screen_lock` is False, so the app fails closed through
`effective_idle_lock_seconds` (the stricter of the policy's idle limit and 60 s).
"""

from __future__ import annotations

import logging
import sys

from cpdesk.platform.base import CaptureGuard, LockListener
from cpdesk.platform.null import NullCaptureGuard, NullLockListener

__all__ = [
    "FAIL_CLOSED_IDLE_SECONDS",
    "CaptureGuard",
    "LockListener",
    "describe_lock_detection",
    "effective_idle_lock_seconds",
    "make_capture_guard",
    "make_lock_listener",
]

log = logging.getLogger(__name__)

FAIL_CLOSED_IDLE_SECONDS = 60


def make_lock_listener(window_id: int = 0, platform: str = sys.platform) -> LockListener:
    """The OS lock listener (Windows needs the top-level window's native id)."""
    try:
        if platform == "win32":
            from cpdesk.platform.windows import WindowsLockListener

            return WindowsLockListener(window_id)
        if platform == "darwin":
            from cpdesk.platform.macos import MacLockListener

            return MacLockListener()
        if platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
            from cpdesk.platform.linux import LinuxLockListener

            return LinuxLockListener()
        log.warning("no OS lock signals on platform %s", platform)
    except Exception as exc:  # a broken OS hook must not stop the app; it fails closed
        log.warning("OS lock signals unavailable (%s)", type(exc).__name__)
    return NullLockListener()


def make_capture_guard(platform: str = sys.platform) -> CaptureGuard:
    """Screen-capture protection where the OS has it; the null guard elsewhere (Linux)."""
    try:
        if platform == "win32":
            from cpdesk.platform.windows import WindowsCaptureGuard

            return WindowsCaptureGuard()
        if platform == "darwin":
            from cpdesk.platform.macos import MacCaptureGuard

            return MacCaptureGuard()
    except Exception as exc:
        log.warning("screen capture protection unavailable (%s)", type(exc).__name__)
    return NullCaptureGuard()


def effective_idle_lock_seconds(
    idle_lock_seconds: float, listener: LockListener, lock_on_os_lock: bool = True
) -> float:
    """Fail closed: with no OS screen-lock signal, lock after at most 60 s of no input."""
    if lock_on_os_lock and not listener.detects_screen_lock:
        return min(idle_lock_seconds, FAIL_CLOSED_IDLE_SECONDS)
    return idle_lock_seconds


def describe_lock_detection(listener: LockListener, idle_lock_seconds: float) -> str:
    """One sentence for the settings/About dialog and the log."""
    if listener.detects_screen_lock:
        return (
            "cpdesk locks when this computer's screen locks (" + ", ".join(listener.sources) + ")."
        )
    return (
        "This computer does not tell cpdesk when its screen locks, so cpdesk locks "
        f"after {int(idle_lock_seconds)} seconds without input instead."
    )
