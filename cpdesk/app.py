"""Composition root: the only place that names concrete classes and wires them together.

Start-up order, and why:
1. Harden the process (no core dumps: a crash must not write child data to disk).
2. Load the admin policy. An invalid value stops the app here, before any window, with
   the key named (never run with a silently weaker setting).
3. In demo mode, start the embedded index (seeded SQLite, throwaway CA, pinned key) and
   use its URL, CA and pin instead of the policy's server settings.
4. Create the QApplication, the theme, and the GUI-thread garbage collector (before any
   worker thread exists: see `GuiThreadGarbageCollector`).
5. Build the plain-Python core: the (lazy) index client, the record cache, the `Session`
   state machine.
6. Build the Qt edge that serves the core: the task runners (network, cache and hashing
   off the GUI thread), the sensitive clipboard; then the `WorkController` that decides,
   and the window with its sign-in page that draws what it is told.
7. Show the window, run the event loop. In the turn after the sign-in page's first paint
   (`StartUp.run`; at the latest before a sign-in request is sent), its named steps: the
   OS lock listener (it needs the native window on Windows; with no OS lock signal the
   idle limit is tightened: fail closed), screen-capture protection, the lock keys, the
   activity filter, the ticker (deadlines, and a check at once when the app wakes), and
   the `IndexClient` with its one `requests.Session` (built on the auth worker). At exit:
   sign out (best effort), close the record cache (run-only caches are deleted), stop
   the workers and the demo index. The per-user encrypted caches (`LazyCaches`) are opened
   at sign-in and unlock on the auth worker, with the password typed anyway.

Nothing the sign-in page does not need is imported before it paints: that is what keeps
cold start within 1.5x of a bare PySide6 window (benchmarks/client.py).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QThreadPool, QTimer, qVersion
from PySide6.QtWidgets import QApplication, QWidget

from cpdesk import __version__
from cpdesk.controller import WorkController
from cpdesk.errors import PolicyError, UserFacingError
from cpdesk.session import Session, SignOutReason
from cpdesk.ui.clipboard import SensitiveClipboard
from cpdesk.ui.icon import app_icon
from cpdesk.ui.main_window import MainWindow
from cpdesk.ui.theme import QT_ARGS, apply_theme
from cpdesk.ui.workers import GuiThreadGarbageCollector, TaskRunner
from cpdesk.user_settings import user_settings_file

if TYPE_CHECKING:
    import datetime as dt

    from PySide6.QtWidgets import QDialog

    from cpdesk.cache import RecordCache
    from cpdesk.cache.keeper import CacheKeeper
    from cpdesk.clock import Clock
    from cpdesk.involvements import SelfDeclaration
    from cpdesk.net import IndexClient, SignInResult
    from cpdesk.platform import CaptureGuard, LockListener
    from cpdesk.policy import Policy
    from cpdesk.records import AccessReason, ChildRecord, Involvement, SearchQuery, SearchResult
    from cpdesk.review import ReviewController, ReviewView
    from cpdesk.ui.activity import ActivityFilter, Ticker
    from cpdesk.ui.inbox import InboxScreen

__all__ = [
    "App",
    "Connection",
    "LazyClient",
    "StartUp",
    "build_app",
    "harden_process",
    "run",
    "sign_in_window_check",
    "user_settings_file",
]

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

    def check(self) -> None:
        """Refuse a plain-http or malformed address before anything starts (one rule)."""
        from cpdesk.policy import normalise_server_url

        normalise_server_url(self.server_url)


class LazyClient:
    """The `IndexClient`, built on first use instead of at start-up.

    Its imports (requests, urllib3, TLS and certificate code) cost about as much as Qt
    itself, so the sign-in window is painted first and the client is built right after
    on the one-thread auth worker, which also runs the sign-in: it is always ready first.
    Thread-safe; every method blocks like IndexClient's (call them off the GUI thread).
    """

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._client: IndexClient | None = None
        self._lock = threading.Lock()

    @property
    def real(self) -> IndexClient:
        with self._lock:
            if self._client is None:
                from cpdesk.net import IndexClient, make_http_session

                c = self._connection
                self._client = IndexClient(
                    make_http_session(),
                    c.server_url,
                    ca_bundle=c.ca_bundle or None,
                    spki_pins=c.spki_pins,
                )
            return self._client

    def warm_up(self) -> None:
        _ = self.real

    def sign_in(self, username: str, password: str, otp: str) -> SignInResult:
        return self.real.sign_in(username, password, otp)

    def unlock(self, password: str) -> None:
        self.real.unlock(password)

    def sign_out(self) -> None:
        if self._client is not None:
            self._client.sign_out()

    def search(self, query: SearchQuery) -> SearchResult:
        return self.real.search(query)

    def record(self, index_id: str, reason: AccessReason, reason_text: str = "") -> ChildRecord:
        return self.real.record(index_id, reason, reason_text)

    def record_bundle(
        self, index_id: str, reason: AccessReason, reason_text: str = ""
    ) -> tuple[ChildRecord, bytes]:
        return self.real.record_bundle(index_id, reason, reason_text)

    def report_offline_view(self, index_id: str, viewed_at: dt.datetime) -> None:
        self.real.report_offline_view(index_id, viewed_at)

    def declare_involvement(self, index_id: str, declaration: SelfDeclaration) -> Involvement:
        return self.real.declare_involvement(index_id, declaration)

    def end_involvement(self, role_id: str) -> None:
        self.real.end_involvement(role_id)

    def fetch_json(self, method: str, path: str, operation: str) -> object:
        return self.real.fetch_json(method, path, operation)

    def cancel_all(self) -> None:
        if self._client is not None:
            self._client.cancel_all()

    @property
    def absolute_expires_at(self) -> dt.datetime | None:
        return None if self._client is None else self._client.absolute_expires_at


class StartUp:
    """The start-up work left for after the sign-in page's first paint, as named steps.

    `run()` is called in the event-loop turn after the first paint, and again before a
    sign-in request is sent (and before the settings dialog, which shows what the steps
    found). Each step runs once, in order. A step that raises stays pending, and so does
    every step after it: the sign-in that called `run()` raises too and is never sent,
    so nobody signs in without the lock machinery (fail closed).
    """

    def __init__(
        self,
        *,
        policy: Policy,
        qapp: QApplication,
        window: MainWindow,
        controller: WorkController,
        client: LazyClient,
        auth_runner: TaskRunner,
        lock_listener_factory: Callable[[int], LockListener] | None = None,
    ) -> None:
        self._policy = policy
        self._qapp = qapp
        self._window = window
        self._controller = controller
        self._client = client
        self._auth_runner = auth_runner
        self._listener_factory = lock_listener_factory
        self.listener: LockListener | None = None
        self.guard: CaptureGuard | None = None
        self.capture_applied: bool | None = None  # None: not asked for, or not possible
        self.activity: ActivityFilter | None = None
        self.ticker: Ticker | None = None
        self._pending: list[Callable[[], None]] = [
            self.listen_for_os_locks,
            self.protect_from_capture,
            self.install_lock_keys,
            self.watch_activity,
            self.start_ticker,
            self.build_index_client,
        ]

    @property
    def finished(self) -> bool:
        return not self._pending

    def add_step(self, step: Callable[[], None]) -> None:
        """One more step, run after the others (screens built by `build_app`)."""
        self._pending.append(step)

    def run(self) -> None:
        """Run every pending step in order; idempotent once they have all succeeded."""
        while self._pending:
            self._pending[0]()
            self._pending.pop(0)

    def listen_for_os_locks(self) -> None:
        """The OS lock listener; with no OS lock signal the idle limit is tightened."""
        from cpdesk.platform import (
            describe_lock_detection,
            effective_idle_lock_seconds,
            make_lock_listener,
        )

        policy, session = self._policy, self._controller.session
        factory = self._listener_factory or make_lock_listener
        listener = factory(int(self._window.winId()))  # Windows needs the native window
        idle = effective_idle_lock_seconds(
            policy.idle_lock_seconds, listener, policy.lock_on_os_lock
        )
        session.tighten_idle_lock(idle)  # fail closed when the OS cannot report locks
        # Said once, here; the settings dialog says it again to the user.
        level = logging.INFO if listener.detects_screen_lock else logging.WARNING
        log.log(level, "%s", describe_lock_detection(listener, idle))
        if policy.lock_on_os_lock:
            listener.subscribe(session.lock)
        self._qapp.aboutToQuit.connect(listener.close)
        self.listener = listener

    def protect_from_capture(self) -> None:
        """Screen-capture protection where policy asks for it and the OS can do it."""
        from cpdesk.platform import make_capture_guard

        guard = make_capture_guard()
        if self._policy.screen_capture_protection and guard.can_prevent():
            self.capture_applied = guard.set_prevent(int(self._window.winId()), True)
            if not self.capture_applied:
                log.warning("screen capture protection could not be turned on")
        self.guard = guard

    def install_lock_keys(self) -> None:
        """Ctrl+L, the panic Esc and the focus-loss lock (see MainWindow.finish_start)."""
        self._window.finish_start()

    def watch_activity(self) -> None:
        """Real input pushes the idle lock back. Starting it now, not at build time, can
        only lock sooner."""
        from cpdesk.ui.activity import ActivityFilter

        activity = ActivityFilter(self._controller.session.activity, parent=self._qapp)
        activity.install(self._qapp)
        self.activity = activity

    def start_ticker(self) -> None:
        """Deadlines checked every tick, on the idle deadline, and when the app wakes."""
        from cpdesk.ui.activity import Ticker

        ticker = Ticker(self._controller.tick, parent=self._qapp)
        ticker.start()
        self.ticker = ticker

    def build_index_client(self) -> None:
        """The client's imports (requests, urllib3, TLS) cost as much as Qt's own: built
        on the one-thread auth worker, which also runs the sign-in, so it is ready first."""
        self._auth_runner.submit("start-up", self._client.warm_up, _ignore, _warm_up_failed)

    def stop(self) -> None:
        """At exit: no more ticks, no more activity."""
        if self.ticker is not None:
            self.ticker.stop()
        if self.activity is not None:
            self.activity.uninstall()


@dataclass
class App:
    """Everything `build_app` made, so tests and benchmarks can reach the parts."""

    qapp: QApplication
    window: MainWindow
    controller: WorkController
    session: Session
    client: LazyClient
    runner: TaskRunner
    auth_runner: TaskRunner
    clipboard: SensitiveClipboard
    gc: GuiThreadGarbageCollector
    cache: RecordCache
    startup: StartUp
    caches: LazyCaches | None = None
    inbox: InboxScreen | None = None

    @property
    def listener(self) -> LockListener | None:
        return self.startup.listener

    @property
    def activity(self) -> ActivityFilter | None:
        return self.startup.activity

    def finish_start(self) -> None:
        """The start-up steps still pending (see `StartUp`)."""
        self.startup.run()

    def shutdown(self) -> None:
        """Sign out (best effort), stop the workers and OS hooks; safe to call twice."""
        self.startup.stop()
        self.session.sign_out(SignOutReason.QUIT)
        self.clipboard.clear_now()
        self.runner.cancel()
        self.runner.wait(3000)
        if self.inbox is not None:
            self.inbox.stop()
        self.auth_runner.wait(5000)
        self.cache.close()
        if self.caches is not None:
            self.caches.shutdown()
        self.gc.stop()


class LazyCaches:
    """The per-user encrypted caches (`CacheKeeper`), built at first use on a worker.

    cryptography and SQLCipher load only then: after the first paint, off the GUI thread.
    """

    def __init__(self, policy: Policy, clock: Clock) -> None:
        self._policy = policy
        self._clock = clock
        self._keeper: CacheKeeper | None = None
        self._lock = threading.Lock()

    @property
    def keeper(self) -> CacheKeeper:
        with self._lock:
            if self._keeper is None:
                from cpdesk.cache.keeper import CacheKeeper, default_folder
                from cpdesk.cache.keyring import system_keyring

                self._keeper = CacheKeeper(
                    default_folder(),
                    system_keyring,
                    self._clock,
                    enabled=self._policy.cache_enabled,
                    ttl_seconds=self._policy.cache_ttl_seconds,
                )
            return self._keeper

    def open_signed_in(self, username: str, password: str) -> RecordCache:
        return self.keeper.open_signed_in(username, password)

    def open_offline(self, username: str, password: str) -> RecordCache:
        return self.keeper.open_offline(username, password)

    def erase(self, username: str) -> None:
        self.keeper.erase(username)

    def shutdown(self) -> None:
        """Run-only caches go at exit (and at the next start, if this exit never comes)."""
        if self._policy.cache_enabled:
            self.keeper.shutdown()


def harden_process() -> None:
    """No core dumps: a crash dump would hold whatever child data was in memory."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, ValueError, OSError):  # not on this OS, or not allowed
        pass


def _qapp() -> tuple[QApplication, bool]:
    """The QApplication, and whether it was made here (with the theme's style)."""
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing, False
    qapp = QApplication([sys.argv[0] if sys.argv else "cpdesk", *QT_ARGS])
    qapp.setApplicationName("cpdesk")
    qapp.setApplicationVersion(__version__)
    qapp.setDesktopFileName("cpdesk")
    return qapp, True


class _AfterFirstPaint(QObject):
    """Calls `then` in the event-loop turn after `widget` first paints, once.

    A plain `QTimer.singleShot(0)` at build time runs *before* the first paint (it is
    queued ahead of the window's update request), so it would delay the sign-in window.
    """

    def __init__(self, widget: QWidget, then: Callable[[], None]) -> None:
        super().__init__(widget)
        self._then = then
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            watched.removeEventFilter(self)
            QTimer.singleShot(0, self._then)
        return False


def _review_controller(
    client: LazyClient, runner: TaskRunner, session: Session, view: ReviewView
) -> ReviewController:
    """The index team's link review over the app's client and worker pool (on first use)."""
    from cpdesk.net.review import ReviewClient
    from cpdesk.review import ReviewController

    return ReviewController(ReviewClient(client), runner, session, view)


def build_app(
    policy: Policy,
    connection: Connection,
    *,
    demo: bool = False,
    clock: Clock | None = None,
    cache: RecordCache | None = None,
    lock_listener_factory: Callable[[int], LockListener] | None = None,
) -> App:
    """Build every object in order (steps 4-6 of the module docstring); shows nothing.

    What the sign-in window does not need to paint is left to `StartUp`, run in the
    event-loop turn after the first paint, while the user starts typing, and in any case
    before a sign-in request is sent. `lock_listener_factory(window_id)` makes the OS lock
    listener (tests pass a fake).
    """
    qapp, made_here = _qapp()
    collector = GuiThreadGarbageCollector(parent=qapp)
    collector.start()
    apply_theme(qapp, set_style=not made_here)
    qapp.setWindowIcon(app_icon())  # the window, the task switcher and the taskbar
    if clock is None:
        from cpdesk.clock import SystemClock

        clock = SystemClock()
    connection.check()
    client = LazyClient(connection)
    caches = None
    if cache is None:
        from cpdesk.cache import NullCache

        cache = NullCache()
        caches = LazyCaches(policy, clock)
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
    controller = WorkController(
        api=client,
        session=session,
        clock=clock,
        runner=runner,
        auth_runner=auth_runner,
        cache=cache,
        clear_clipboard=clipboard.clear_now,
        before_sign_in=lambda: startup.run(),
        lock_on_minimise=policy.lock_on_minimise,
        lock_on_focus_loss=policy.lock_on_focus_loss,
        allow_pin_unlock=policy.allow_pin_unlock,
        caches=caches,
        offline_sign_in=policy.offline_sign_in,
    )

    def settings(parent: QWidget) -> QDialog:
        from cpdesk.ui.settings_dialog import build_settings_dialog

        startup.run()  # what the dialog reports on is found by the start-up steps
        assert startup.listener is not None and startup.guard is not None
        return build_settings_dialog(
            policy,
            listener=startup.listener,
            idle_lock_seconds=session.idle_lock_seconds,
            guard=startup.guard,
            capture_applied=startup.capture_applied,
            parent=parent,
        )

    window = MainWindow(
        controller,
        server_label=connection.server_url,
        copy=clipboard.copy,
        settings_factory=settings,
        demo=demo,
        finish_now=False,
        review=lambda view: _review_controller(client, runner, session, view),
    )
    runner.busy_changed.connect(window.show_busy)
    startup = StartUp(
        policy=policy,
        qapp=qapp,
        window=window,
        controller=controller,
        client=client,
        auth_runner=auth_runner,
        lock_listener_factory=lock_listener_factory,
    )
    app = App(
        qapp, window, controller, session, client, runner, auth_runner, clipboard, collector,
        cache, startup, caches,
    )  # fmt: skip

    def build_inbox() -> None:
        """After the first paint (it loads the record types), before any sign-in."""
        assert clock is not None
        app.inbox = _build_inbox(qapp, window, controller, client, clock)

    startup.add_step(build_inbox)
    _AfterFirstPaint(window.signin, startup.run)
    return app


def _build_inbox(
    qapp: QApplication,
    window: MainWindow,
    controller: WorkController,
    client: LazyClient,
    clock: Clock,
) -> InboxScreen:
    """The notices inbox (issue 18): its own one-thread runner, so polling never shows the
    busy bar, supersedes a search or is cancelled with one; the view in `ui/inbox.py`."""
    from cpdesk.inbox import InboxController
    from cpdesk.ui.inbox import InboxScreen

    pool = QThreadPool(qapp)
    pool.setMaxThreadCount(1)
    runner = TaskRunner(pool, parent=qapp)
    inbox = InboxController(
        api=lambda: client.real,
        session=controller.session,
        clock=clock,
        runner=runner,
        is_offline=lambda: controller.offline,
    )
    return InboxScreen(inbox, controller, window, ask_reason=window.ask_reason, runner=runner)


def _quit_on_signals(app: App) -> None:
    """Ctrl+C or SIGTERM close the app the normal way, so the demo index is stopped too.

    Python runs signal handlers only between bytecodes; a slow timer gives it the chance
    while Qt's event loop waits.
    """

    def handler(_signum: int, _frame: object) -> None:
        app.window.close()
        app.qapp.quit()

    for name in ("SIGINT", "SIGTERM"):
        number = getattr(signal, name, None)
        if number is not None:
            signal.signal(number, handler)
    wake = QTimer(app.qapp)
    wake.timeout.connect(lambda: None)
    wake.start(300)


def _ignore(_: object) -> None:
    """The warm-up's result is the client itself, kept by LazyClient."""


def _warm_up_failed(exc: BaseException) -> None:
    # A bad pin or CA file: the same error comes back, with its message, at sign-in.
    log.warning("index client could not be built (%s)", type(exc).__name__)


def run(*, demo: bool = False, policy_root: Path | None = None) -> int:
    """The whole app; returns the process exit code (0 ok, 1 could not start)."""
    from cpdesk.policy import load_policy

    harden_process()
    try:
        policy = load_policy(policy_root, user_settings=user_settings_file())
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
    _quit_on_signals(app)
    try:
        app.window.show()
        app.qapp.exec()
    finally:
        app.shutdown()
        if index is not None:
            index.stop()
    return 0


def sign_in_window_check(policy: Policy) -> str:
    """For `cpdesk --self-test`: build the app, paint the sign-in window, shut it down.

    Proves the Qt libraries, platform plugin, theme, icon and start-up wiring load; no
    request is sent (the address is only shown). Raises whatever stops the window.
    """
    connection = Connection.from_policy(policy)
    if not connection.server_url:
        connection = Connection("https://index.invalid")
    app = build_app(policy, connection)
    try:
        app.window.show()
        deadline = QTimer()
        deadline.setSingleShot(True)
        deadline.start(10_000)
        while app.activity is None and deadline.isActive():  # finish_start ran after paint
            app.qapp.processEvents()
        if app.activity is None:
            raise RuntimeError("the sign-in window did not finish starting within 10 s")
        shot = app.window.grab()
        if shot.isNull():
            raise RuntimeError("the sign-in window could not be drawn")
        icon = app.qapp.windowIcon().availableSizes()
        return (
            f"painted {shot.width()}x{shot.height()} on Qt {qVersion()} "
            f"({app.qapp.platformName()}), {len(icon)} icon sizes"
        )
    finally:
        app.window.close()
        app.shutdown()
