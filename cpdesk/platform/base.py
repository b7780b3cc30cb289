"""One small interface per OS service; one module per OS implements them, plus a null one.

`LockListener` folds every OS event that means "the user is gone" (screen lock, suspend,
lid close, user switch, remote-session disconnect) into one notification carrying the
`LockReason`, so the app wires it straight to `Session.lock`. `CaptureGuard` keeps the
window out of screenshots and screen sharing where the OS allows it.
(KeePassXC's ScreenLockListener and OSUtils have the same shape.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from cpdesk.session import LockReason

__all__ = ["CallbackList", "CaptureGuard", "LockCallback", "LockListener"]

LockCallback = Callable[[LockReason], None]


@runtime_checkable
class LockListener(Protocol):
    """Tells subscribers, once per OS event, that the session must lock now."""

    @property
    def sources(self) -> tuple[str, ...]:
        """Names of the OS signals actually subscribed, for the log and the settings dialog."""
        ...

    @property
    def detects_screen_lock(self) -> bool:
        """False when no OS screen-lock signal is reachable: the app must fail closed."""
        ...

    def subscribe(self, callback: LockCallback) -> None: ...

    def close(self) -> None:
        """Unsubscribe from the OS (at exit)."""
        ...


@runtime_checkable
class CaptureGuard(Protocol):
    """Keeps a window out of screenshots, recordings and screen sharing, where possible."""

    def can_prevent(self) -> bool:
        """Whether this OS lets an app block capture at all (hide the option if not)."""
        ...

    def set_prevent(self, window_id: int, on: bool) -> bool:
        """Turn protection on or off for a native window; False if the OS refused."""
        ...


class CallbackList:
    """The subscriber list every listener shares: one failing callback cannot stop a lock."""

    def __init__(self) -> None:
        self._callbacks: list[LockCallback] = []

    def subscribe(self, callback: LockCallback) -> None:
        self._callbacks.append(callback)

    def fire(self, reason: LockReason) -> None:
        first_error: Exception | None = None
        for callback in list(self._callbacks):
            try:
                callback(reason)
            except Exception as exc:  # every subscriber must hear of a lock
                first_error = first_error or exc
        if first_error is not None:
            raise first_error
