"""Composition root: the only place that names concrete classes and wires them together.

Start-up order, and why:
1. Harden the process (no core dumps: a crash must not write child data to disk).
2. Load the admin policy. An invalid value stops the app here, before any window, with
   the key named (never run with a silently weaker setting).
3. In demo mode, start the embedded index (seeded SQLite, throwaway CA, pinned key) and
   use its URL, CA and pin instead of the policy's server settings.
4. Create the QApplication, the theme, and the GUI-thread garbage collector (before any
   worker thread exists: see `GuiThreadGarbageCollector`).
5. Build the plain-Python core: one `requests.Session`, the `IndexClient` on it, the
   record cache, the `Session` state machine.
6. Build the Qt edge that serves the core: the task runners (network off the GUI thread),
   the sensitive clipboard, the window; then the OS lock listener (it needs the native
   window on Windows; with no OS lock signal the idle limit is tightened: fail closed)
   and the activity filter, which both feed `Session` and nothing else.
7. Show the window, run the event loop. At exit: sign out (best effort), purge, stop the
   workers and the demo index.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QThreadPool
from PySide6.QtWidgets import QApplication, QDialog, QWidget

from cpdesk import __version__
from cpdesk.cache import NullCache, RecordCache
from cpdesk.clock import Clock, SystemClock
from cpdesk.errors import PolicyError, UserFacingError
from cpdesk.net import IndexClient, make_http_session
from cpdesk.platform import (
    LockListener,
    describe_lock_detection,
    effective_idle_lock_seconds,
    make_capture_guard,
    make_lock_listener,
)
from cpdesk.policy import Policy, load_policy
from cpdesk.session import Session, SignOutReason
from cpdesk.ui.activity import ActivityFilter
from cpdesk.ui.clipboard import SensitiveClipboard
from cpdesk.ui.main_window import MainWindow
from cpdesk.ui.settings_dialog import build_settings_dialog
from cpdesk.ui.theme import apply_theme
from cpdesk.ui.workers import GuiThreadGarbageCollector, TaskRunner

__all__ = ["App", "Connection", "build_app", "harden_process", "run"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Connection:
    """Where the index is and how to trust it."""

    server_url: str
    ca_bundle: str = ""  # "" = the system trust store
    spki_pins: tuple[str, ...] = ()

    @classmethod
    def from_policy(cls, policy: Policy) -> Connection:
        return cls(policy.server_url, policy.ca_bundle, tuple(policy.spki_pins))


@dataclass
class App:
    """Everything `build_app` made, so tests and benchmarks can reach the parts."""

    qapp: QApplication
    window: MainWindow
    session: Session
    client: IndexClient
    runner: TaskRunner
    auth_runner: TaskRunner
    clipboard: SensitiveClipboard
    gc: GuiThreadGarbageCollector
    activity: ActivityFilter
    cache: RecordCache

    def shutdown(self) -> None:
        """Sign out (best effort), stop the workers and OS hooks; safe to call twice."""
        self.window.timer.stop()
        self.session.sign_out(SignOutReason.QUIT)
        self.clipboard.clear_now()
        self.activity.uninstall()
        self.runner.cancel()
        self.runner.wait(3000)
        self.auth_runner.wait(5000)
        self.cache.close()
        self.gc.stop()


def harden_process() -> None:
    """No core dumps: a crash dump would hold whatever child data was in memory."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, ValueError, OSError):  # not on this OS, or not allowed
        pass


def _qapp() -> QApplication:
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    qapp = QApplication([sys.argv[0] if sys.argv else "cpdesk"])
    qapp.setApplicationName("cpdesk")
    qapp.setApplicationVersion(__version__)
    qapp.setDesktopFileName("cpdesk")
    return qapp


def build_app(
    policy: Policy,
    connection: Connection,
    *,
    demo: bool = False,
    clock: Clock | None = None,
    cache: RecordCache | None = None,
) -> App:
    """Build every object in order (steps 4-6 of the module docstring); shows nothing."""
    qapp = _qapp()
    apply_theme(qapp)
    collector = GuiThreadGarbageCollector(parent=qapp)
    collector.start()
    clock = clock or SystemClock()
    http = make_http_session()
    client = IndexClient(
        http,
        connection.server_url,
        ca_bundle=connection.ca_bundle or None,
        spki_pins=connection.spki_pins,
    )
    record_cache: RecordCache = cache or NullCache()
    session = Session(
        clock,
        idle_lock_seconds=policy.idle_lock_seconds,
        lock_to_logout_seconds=policy.lock_to_logout_seconds,
    )
    pool = QThreadPool(qapp)
    pool.setMaxThreadCount(4)
    auth_pool = QThreadPool(qapp)
    auth_pool.setMaxThreadCount(1)  # sign-in, unlock, sign-out never overtake each other
    runner = TaskRunner(pool, cancel_hook=client.cancel_all, parent=qapp)
    auth_runner = TaskRunner(auth_pool, cancel_hook=client.cancel_all, parent=qapp)
    clipboard = SensitiveClipboard(policy.clipboard_clear_seconds, parent=qapp)
    guard = make_capture_guard()
    capture_applied: list[bool | None] = [None]
    listeners: list[LockListener] = []

    def settings(parent: QWidget) -> QDialog:
        return build_settings_dialog(
            policy,
            listener=listeners[0],
            idle_lock_seconds=session.idle_lock_seconds,
            guard=guard,
            capture_applied=capture_applied[0],
            parent=parent,
        )

    window = MainWindow(
        api=client,
        session=session,
        clock=clock,
        runner=runner,
        auth_runner=auth_runner,
        server_label=connection.server_url,
        copy=clipboard.copy,
        clear_clipboard=clipboard.clear_now,
        cache=record_cache,
        settings_factory=settings,
        lock_on_minimise=policy.lock_on_minimise,
        lock_on_focus_loss=policy.lock_on_focus_loss,
        demo=demo,
    )
    listener = make_lock_listener(int(window.winId()))  # Windows needs the native window
    listeners.append(listener)
    idle = effective_idle_lock_seconds(policy.idle_lock_seconds, listener, policy.lock_on_os_lock)
    session.tighten_idle_lock(idle)  # fail closed when the OS cannot report screen locks
    log.info("%s", describe_lock_detection(listener, idle))
    if policy.lock_on_os_lock:
        listener.subscribe(session.lock)
    if policy.screen_capture_protection and guard.can_prevent():
        capture_applied[0] = guard.set_prevent(int(window.winId()), True)
        if not capture_applied[0]:
            log.warning("screen capture protection could not be turned on")
    activity = ActivityFilter(session.activity, parent=qapp)
    activity.install(qapp)
    qapp.aboutToQuit.connect(listener.close)
    return App(
        qapp,
        window,
        session,
        client,
        runner,
        auth_runner,
        clipboard,
        collector,
        activity,
        record_cache,
    )


def run(*, demo: bool = False, policy_root: Path | None = None) -> int:
    """The whole app; returns the process exit code (0 ok, 1 could not start)."""
    harden_process()
    try:
        policy = load_policy(policy_root)
    except PolicyError as exc:
        print(f"cpdesk: {exc.user_message}", file=sys.stderr)
        return 1
    index = None
    if demo:
        from cpdesk.demo import DemoError, start_demo_index

        try:
            index = start_demo_index()
        except DemoError as exc:
            print(f"cpdesk: {exc}", file=sys.stderr)
            return 1
        connection = Connection(index.base_url, str(index.ca_cert), (index.spki_pin,))
        print(
            "\ncpdesk demo: the index is running on "
            f"{index.base_url}. Sign in as nurse.demo with the password and the one-time "
            "code printed above (a new code every 30 seconds).\n",
            flush=True,
        )
    else:
        connection = Connection.from_policy(policy)
        if not connection.server_url:
            print(
                "cpdesk: no index server is configured. Set server_url by policy or "
                "CPDESK_SERVER_URL (or try `cpdesk demo`).",
                file=sys.stderr,
            )
            return 1
    try:
        app = build_app(policy, connection, demo=demo)
    except UserFacingError as exc:
        print(f"cpdesk: {exc.user_message}", file=sys.stderr)
        if index is not None:
            index.stop()
        return 1
    try:
        app.window.show()
        app.qapp.exec()
    finally:
        app.shutdown()
        if index is not None:
            index.stop()
    return 0
