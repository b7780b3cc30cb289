"""Linux OS lock signals over D-Bus (QtDBus), folded into one `LockReason` notification.

Subscribed, all at once (whichever fires first locks):
- session bus `org.freedesktop.ScreenSaver` and `org.gnome.ScreenSaver` (and MATE's)
  `ActiveChanged(true)`: the desktop locked or blanked the screen -> OS_LOCK;
- system bus `org.freedesktop.login1.Session.Lock`: `loginctl lock-session`, or the
  desktop asking every app to lock -> OS_LOCK;
- system bus `org.freedesktop.login1.Manager.PrepareForSleep(true)`: suspend, including
  lid close -> SUSPEND.

QtDBus pitfalls (see PLATFORM-NOTES): subscribe with an empty service name (a signal has
no well-known sender name), receive in `@Slot(bool)` methods named with `QtCore.SLOT`,
check each `connect()` result, and keep this QObject alive as long as the subscriptions.

A subscription always "succeeds" even when nothing will ever send the signal, so
`detects_screen_lock` is True only when a screen-saver service is actually on the bus.
Screen capture cannot be blocked by an app on X11 or Wayland: see `NullCaptureGuard`.
"""

from __future__ import annotations

import logging

from PySide6 import QtCore
from PySide6.QtCore import QObject, Slot
from PySide6.QtDBus import QDBusConnection

from cpdesk.platform.base import CallbackList, LockCallback
from cpdesk.session import LockReason

__all__ = ["SCREEN_SAVERS", "LinuxLockListener"]

log = logging.getLogger(__name__)

SCREEN_SAVERS = ("org.freedesktop.ScreenSaver", "org.gnome.ScreenSaver", "org.mate.ScreenSaver")
LOGIN1 = "org.freedesktop.login1"


class LinuxLockListener(QObject):
    """Listens on the session and system buses; see the module docstring for the signals."""

    def __init__(
        self,
        session_bus: QDBusConnection | None = None,
        system_bus: QDBusConnection | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._callbacks = CallbackList()
        self._session_bus = session_bus if session_bus is not None else QDBusConnection.sessionBus()
        self._system_bus = system_bus if system_bus is not None else QDBusConnection.systemBus()
        self._subscriptions: list[tuple[QDBusConnection, str, str, str, str]] = []
        self._sources: list[str] = []
        self._screen_lock = False

        if self._session_bus.isConnected():
            for interface in SCREEN_SAVERS:
                ok = self._connect(
                    self._session_bus, "", interface, "ActiveChanged", "_on_active_changed(bool)"
                )
                if ok and _registered(self._session_bus, interface):
                    self._sources.append(f"{interface}.ActiveChanged")
                    self._screen_lock = True
        if self._system_bus.isConnected():
            lock_ok = self._connect(
                self._system_bus, "", f"{LOGIN1}.Session", "Lock", "_on_session_lock()"
            )
            sleep_ok = self._connect(
                self._system_bus,
                "/org/freedesktop/login1",
                f"{LOGIN1}.Manager",
                "PrepareForSleep",
                "_on_prepare_for_sleep(bool)",
            )
            if _registered(self._system_bus, LOGIN1):
                if lock_ok:
                    self._sources.append(f"{LOGIN1}.Session.Lock")
                if sleep_ok:
                    self._sources.append(f"{LOGIN1}.Manager.PrepareForSleep")
        if not self._screen_lock:
            # INFO: the app says it once, at WARNING, with the idle limit it falls back to.
            log.info(
                "no screen-lock signal on D-Bus (%s): the idle lock is the only guard",
                ", ".join(SCREEN_SAVERS),
            )

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(self._sources)

    @property
    def detects_screen_lock(self) -> bool:
        return self._screen_lock

    def subscribe(self, callback: LockCallback) -> None:
        self._callbacks.subscribe(callback)

    def close(self) -> None:
        for bus, path, interface, name, slot in self._subscriptions:
            bus.disconnect("", path, interface, name, self, QtCore.SLOT(slot))  # type: ignore[call-overload]
        self._subscriptions.clear()

    def _connect(
        self, bus: QDBusConnection, path: str, interface: str, name: str, slot: str
    ) -> bool:
        # PySide6 wants the QtCore.SLOT string; its stubs wrongly say bytes.
        ok = bool(bus.connect("", path, interface, name, self, QtCore.SLOT(slot)))  # type: ignore[call-overload]
        if ok:
            self._subscriptions.append((bus, path, interface, name, slot))
        else:
            log.warning("could not subscribe to D-Bus signal %s.%s", interface, name)
        return ok

    @Slot(bool)
    def _on_active_changed(self, active: bool) -> None:
        if active:
            self._callbacks.fire(LockReason.OS_LOCK)

    @Slot()
    def _on_session_lock(self) -> None:
        self._callbacks.fire(LockReason.OS_LOCK)

    @Slot(bool)
    def _on_prepare_for_sleep(self, starting: bool) -> None:
        if starting:
            self._callbacks.fire(LockReason.SUSPEND)


def _registered(bus: QDBusConnection, service: str) -> bool:
    iface = bus.interface()
    if iface is None:
        return False
    reply = iface.isServiceRegistered(service)
    return reply.isValid() and bool(reply.value())
