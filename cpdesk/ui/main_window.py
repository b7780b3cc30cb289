"""The main window: renders the session's state and runs the user's intents off-thread.

Pages: sign-in, the workspace (search, results, record) and the lock panel. The window
never decides a transition itself: it asks `Session` and redraws on the transitions it is
told about, synchronously, so a lock empties every widget with child data in the same
event-loop turn (the emptied workspace stays hidden behind the lock panel, to be refilled;
a sign-out destroys it). The child data it has fetched stays only in `WorkState` (memory)
so an unlock redraws without a new audited fetch; a sign-out drops it.

Every call to the index runs on a `TaskRunner` worker. Sign-in, unlock and sign-out go
through a one-thread runner so they can never overtake each other.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeyEvent
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QMainWindow,
    QStackedWidget,
    QToolTip,
    QWidget,
)

from cpdesk.errors import (
    Cancelled,
    ServerTimeout,
    ServerUnreachable,
    SessionExpired,
    SignInFailed,
    TooManyMatches,
    UserFacingError,
)
from cpdesk.session import (
    LocalPin,
    LockReason,
    Session,
    SessionState,
    SignOutReason,
    Transition,
)
from cpdesk.ui.signin import SignInPage
from cpdesk.ui.statusbar import SessionStatusBar, format_time_left
from cpdesk.ui.workers import TaskRunner

if TYPE_CHECKING:  # the other screens are imported when first needed: sign-in paints sooner
    from cpdesk.cache.base import RecordCache
    from cpdesk.clock import Clock
    from cpdesk.records import (
        AccessReason,
        ChildRecord,
        ChildSummary,
        SearchQuery,
        SearchResult,
    )
    from cpdesk.ui.lockscreen import LockScreen
    from cpdesk.ui.work_page import WorkPage

__all__ = [
    "APP_TITLE",
    "LOCKED_TITLE",
    "IndexApi",
    "LockPanel",
    "MainWindow",
    "WorkState",
]

log = logging.getLogger(__name__)

APP_TITLE = "cpdesk"
LOCKED_TITLE = "cpdesk — locked"
PANIC_GAP_SECONDS = 0.6
SAME_PRESS_SECONDS = 0.03
TICK_MS = 250
RELOCKED_MESSAGE = "cpdesk locked again while checking. Enter your password to unlock."
GENERIC_ERROR = "Something went wrong. Try again; if it keeps happening, tell your IT service desk."

LOCKOUT_HINT = (
    "After several wrong tries in a row the account is locked for a while: if you are "
    "sure of your details, wait 15 minutes or ask your IT service desk to unlock it."
)

SIGN_OUT_MESSAGES = {
    SignOutReason.USER: "You have signed out.",
    SignOutReason.LOCK_TIMEOUT: "You were signed out because cpdesk was locked for too long.",
    SignOutReason.UNLOCK_FAILURES: "You were signed out after too many wrong passwords.",
    SignOutReason.SERVER_EXPIRED: "Your session has ended. Sign in again to continue.",
    SignOutReason.QUIT: "",
}


class IndexApi(Protocol):
    """What the window needs from `cpdesk.net.IndexClient` (blocking; called off-thread)."""

    def sign_in(self, username: str, password: str, otp: str) -> object: ...
    def unlock(self, password: str) -> None: ...
    def sign_out(self) -> None: ...
    def search(self, query: SearchQuery) -> SearchResult: ...
    def record_bundle(
        self, index_id: str, reason: AccessReason, reason_text: str = ""
    ) -> tuple[ChildRecord, bytes]: ...
    def cancel_all(self) -> None: ...
    @property
    def absolute_expires_at(self) -> dt.datetime | None: ...


class LockPanel(Protocol):
    """What the window needs from a lock panel (ui/lockscreen.py slots in here)."""

    unlock_requested: Signal  # (str password)
    sign_out_requested: Signal

    def show_message(self, text: str, *, error: bool = True) -> None: ...
    def set_checking(self, busy: bool) -> None: ...


@dataclass
class WorkState:
    """The child data fetched this session, in memory only, to redraw after an unlock."""

    query: SearchQuery | None = None
    results: tuple[ChildSummary, ...] | None = None
    too_many: bool = False
    record: ChildRecord | None = None
    record_cached_at: dt.datetime | None = None
    showing_record: bool = False
    last_reason: AccessReason | None = None
    extra: dict[str, object] = field(default_factory=dict)


class _KeyWatch(QObject):
    """Application-wide keys that lock: Ctrl+L, and Esc twice quickly (the panic lock).

    An event filter on the application rather than a QShortcut: Qt does not deliver a
    window's shortcuts while a window-modal dialog (reason, settings) shadows it, and
    nothing may keep the user from locking.
    """

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        self._last_escape = -1e9

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.KeyPress or not isinstance(event, QKeyEvent):
            return False
        from PySide6.QtCore import Qt  # loaded after the first paint (see finish_start)

        if event.key() == Qt.Key.Key_L and _is_ctrl(event):
            self._window.session.lock(LockReason.MANUAL)
            return True  # consumed: no stray "l" typed into a field
        if event.key() == Qt.Key.Key_Escape and not event.isAutoRepeat():
            # One key press passes the filter once per receiver it propagates to, all
            # within a millisecond: a human's second press comes much later.
            gap = self._window.clock.now() - self._last_escape
            if gap < SAME_PRESS_SECONDS:
                return False
            if gap <= PANIC_GAP_SECONDS:
                self._last_escape = -1e9
                self._window.session.lock(LockReason.PANIC)
            else:
                self._last_escape = self._window.clock.now()
        return False


class MainWindow(QMainWindow):
    """The one window. See the module docstring for the rules it keeps."""

    def __init__(
        self,
        *,
        api: IndexApi,
        session: Session,
        clock: Clock,
        runner: TaskRunner,
        auth_runner: TaskRunner,
        server_label: str,
        copy: Callable[[str], None],
        clear_clipboard: Callable[[], object] = lambda: None,
        cache: RecordCache | None = None,
        settings_factory: Callable[[QWidget], QDialog] | None = None,
        lock_on_minimise: bool = True,
        lock_on_focus_loss: bool = False,
        allow_pin_unlock: bool = False,
        demo: bool = False,
        finish_now: bool = True,
        before_sign_in: Callable[[], None] | None = None,
    ) -> None:
        """`finish_now=False` leaves `finish_start()` to the caller (the app calls it right
        after the first paint); `before_sign_in` runs before any sign-in is sent, so the
        start-up work still pending is finished by then."""
        super().__init__()
        self.api = api
        self.session = session
        self.clock = clock
        self.runner = runner
        self.auth_runner = auth_runner
        self._copy = copy
        self._clear_clipboard = clear_clipboard
        self._cache = cache
        self._settings_factory = settings_factory
        self._lock_on_minimise = lock_on_minimise
        self._lock_on_focus_loss = lock_on_focus_loss
        self._allow_pin = allow_pin_unlock
        self.pin = LocalPin()  # its hash only, in memory, for this sign-in
        self.state = WorkState()
        self.work: WorkPage | None = None  # the workspace while active, else None
        self._parked: WorkPage | None = None  # the emptied workspace while locked
        self.lock_panel: LockScreen | None = None  # the panel while locked, else None
        self._lock_screen: LockScreen | None = None  # built once, refilled for each lock
        self.setWindowTitle(APP_TITLE)
        self.resize(1280, 820)
        self.pages = QStackedWidget()
        self.setCentralWidget(self.pages)
        self.signin = SignInPage(server_label, demo=demo)
        self.signin.sign_in_requested.connect(self._sign_in)
        self.signin.cancel_requested.connect(self._cancel_sign_in)
        self.pages.addWidget(self.signin)
        self.status = SessionStatusBar(server_label)
        self.setStatusBar(self.status)
        self.runner.busy_changed.connect(self._busy_changed)
        session.subscribe(self._on_transition)
        self._before_sign_in = before_sign_in
        self._keys = _KeyWatch(self)
        self._finished = False
        self.timer = QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.timer.start()
        # The tick finds a passed deadline up to TICK_MS late; this one-shot fires on the
        # idle deadline itself once it is closer than a tick (activity only delays it).
        self._deadline = QTimer(self)
        self._deadline.setSingleShot(True)  # made precise by finish_start
        self._deadline.timeout.connect(self._tick)
        self.signin.focus_first()
        if finish_now:
            self.finish_start()

    def finish_start(self) -> None:
        """What the sign-in page does not need to paint (idempotent); all before sign-in.

        The lock keys and the focus-loss lock: an application-wide Python event filter makes
        PySide build a wrapper type for every Qt object an event reaches, which costs more
        than the first paint. And what needs PySide's `Qt` namespace, ~100 enums built in
        one go (~25 ms): the precise idle-deadline timer, the one-time code's input hint.
        """
        if self._finished:
            return
        from PySide6.QtCore import Qt

        self._deadline.setTimerType(Qt.TimerType.PreciseTimer)
        self.signin.finish_start()
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self._keys)
            if isinstance(app, QApplication):
                app.focusWindowChanged.connect(self._focus_window_changed)
        self._finished = True

    # -- session transitions --------------------------------------------------------

    def _on_transition(self, t: Transition) -> None:
        if t.new is SessionState.LOCKED:
            self._render_locked()
        elif t.new is SessionState.ACTIVE:
            self._render_active(restore=t.old is SessionState.LOCKED)
        elif t.new is SessionState.SIGNED_OUT:
            self._render_signed_out(t.sign_out_reason or SignOutReason.USER)

    def _render_active(self, *, restore: bool) -> None:
        self._drop_lock_panel()
        self.setWindowTitle(APP_TITLE)
        user = self.session.user
        if user is not None:
            self.status.set_user(user.display_name, user.role, user.organisation)
        self._build_work()
        self._panel()  # built now, so a lock never waits for it
        if restore:
            self._restore_work()
        elif self.work is not None:
            self.work.form.focus_first()
            if self._allow_pin and not self.pin.is_set:
                self._offer_pin()

    def _render_locked(self) -> None:
        """Same turn as the lock: empty and destroy child data, close dialogs, show the panel.

        Ends with a synchronous repaint, so the window (and the taskbar or switcher
        thumbnail taken from it) shows the panel before any other event is handled.
        """
        self.setWindowTitle(LOCKED_TITLE)
        self.runner.drop()
        self._close_dialogs()
        self._park_work()
        self._clear_clipboard()
        self.status.set_locked()
        user = self.session.user
        if user is None or self.lock_panel is not None:
            return
        panel = self._panel()
        panel.show_locked(user, self.session.locked_at, signs_out_at=self.session.signs_out_at)
        panel.set_pin_allowed(self._allow_pin and self.pin.is_set)
        self.lock_panel = panel
        self.pages.setCurrentWidget(panel)
        panel.focus_first()
        self.repaint()

    def _panel(self) -> LockScreen:
        if self._lock_screen is None:
            from cpdesk.ui.lockscreen import LockScreen

            panel = LockScreen(APP_TITLE)
            panel.unlock_requested.connect(self._unlock)
            panel.pin_unlock_requested.connect(self._unlock_with_pin)
            panel.sign_out_requested.connect(lambda: self.session.sign_out(SignOutReason.USER))
            self.pages.addWidget(panel)
            self._lock_screen = panel
        return self._lock_screen

    def _render_signed_out(self, reason: SignOutReason) -> None:
        self.setWindowTitle(APP_TITLE)
        self.runner.drop()
        self._close_dialogs()
        self._destroy_work()
        self._drop_lock_panel()
        self._clear_clipboard()
        self.state = WorkState()
        self.pin.clear()
        self.status.set_signed_out()
        if self._cache is not None:
            cache = self._cache
            self.auth_runner.submit("purge", cache.purge, _ignore, _ignore)
        self.auth_runner.submit("sign-out", self.api.sign_out, _ignore, _ignore)
        self.signin.reset()
        self.signin.show_notice(SIGN_OUT_MESSAGES[reason])
        self.pages.setCurrentWidget(self.signin)
        self.signin.focus_first()

    # -- building and destroying the workspace -------------------------------------

    def _today(self) -> dt.date:
        return self.clock.wall().astimezone().date()

    def _build_work(self) -> None:
        from cpdesk.ui.work_page import WorkPage

        parked, self._parked = self._parked, None
        self._destroy_work()
        if parked is not None:  # an unlock: the emptied workspace is refilled from memory
            self.work = parked
            self.pages.setCurrentWidget(parked)
            return
        work = WorkPage(self._copy, self._today)
        work.lock_requested.connect(lambda: self.session.lock(LockReason.MANUAL))
        work.sign_out_requested.connect(lambda: self.session.sign_out(SignOutReason.USER))
        work.cancel_requested.connect(self._cancel)
        work.settings_requested.connect(self._show_settings)
        work.settings_button.setVisible(self._settings_factory is not None)
        work.form.search_requested.connect(self._search)
        work.results.open_requested.connect(self._ask_reason)
        work.record.back_requested.connect(self._back_to_results)
        self.work = work
        self.pages.addWidget(work)
        self.pages.setCurrentWidget(work)

    def _park_work(self) -> None:
        """Lock: empty every widget of the workspace now; keep the emptied page, hidden.

        Emptied, not destroyed: destroying and rebuilding hundreds of widgets made each
        lock and unlock cost tens of milliseconds more, and an empty widget holds nothing
        (tests walk the widget and accessibility trees, hidden widgets included).
        """
        work, self.work = self.work, None
        if work is None:
            return
        work.wipe()  # every text with child data goes now, in this turn
        work.set_busy(False)
        work.show_notice("")
        work.show_expiry_warning("")
        self._parked = work

    def _destroy_work(self) -> None:
        """Sign-out: the workspace (live or parked) goes for good."""
        pages = [self.work, self._parked]
        self.work = self._parked = None
        for work in pages:
            if work is None:
                continue
            work.wipe()  # every text with child data goes now, in this turn
            self.pages.removeWidget(work)
            work.hide()
            # Destroyed in a later turn. No setParent(None): turning a page into a hidden
            # top-level re-polishes its whole tree (~50 ms).
            work.deleteLater()

    def _drop_lock_panel(self) -> None:
        panel, self.lock_panel = self.lock_panel, None
        if panel is not None:
            panel.show_locked(None, None)  # the panel stays, hidden and empty

    def _close_dialogs(self) -> None:
        """Every dialog, menu and tooltip goes: ours, and any top-level one of the app."""
        QToolTip.hideText()
        popup = QApplication.activePopupWidget()
        while popup is not None:
            popup.close()
            next_popup = QApplication.activePopupWidget()
            popup = None if next_popup is popup else next_popup
        dialogs = set(self.findChildren(QDialog))
        dialogs.update(w for w in QApplication.topLevelWidgets() if isinstance(w, QDialog))
        for dialog in dialogs:
            dialog.reject()
            dialog.hide()
            dialog.setParent(None)
            dialog.deleteLater()

    def _restore_work(self) -> None:
        work, state = self.work, self.state
        if work is None:
            return
        if state.query is not None:
            work.form.set_query(state.query)
            if state.too_many:
                work.results.show_too_many(state.query)
            elif state.results is not None:
                work.results.show_results(state.query, state.results)
        if state.showing_record and state.record is not None:
            work.record.show_record(state.record, state.record_cached_at)
            work.show_record_pane()
        else:
            work.show_results_pane()

    # -- sign-in and unlock -----------------------------------------------------------

    def _sign_in(self, username: str, password: str, otp: str) -> None:
        if self._before_sign_in is not None:
            self._before_sign_in()  # lock machinery and client ready before any request
        self.signin.set_busy(True)
        api = self.api
        self.auth_runner.submit(
            "sign-in",
            lambda: api.sign_in(username, password, otp),
            self._signed_in,
            self._sign_in_failed,
        )

    def _cancel_sign_in(self) -> None:
        self.auth_runner.cancel()
        self.signin.set_busy(False)
        self.signin.show_error("Sign-in cancelled. Try again when the network is back.")

    def _signed_in(self, result: object) -> None:
        self.signin.set_busy(False)
        user = getattr(result, "user", None)
        from cpdesk.records import UserInfo  # not before the first paint

        if not isinstance(user, UserInfo):
            self.signin.show_error(GENERIC_ERROR)
            return
        if self.session.state is not SessionState.SIGNED_OUT:
            return
        self.signin.reset()
        self.session.sign_in(user, self._absolute_seconds_left())

    def _sign_in_failed(self, exc: BaseException) -> None:
        self.signin.set_busy(False)
        if isinstance(exc, Cancelled):
            return
        message = self._message(exc, "sign-in")
        if isinstance(exc, SignInFailed):
            # The index answers a locked account exactly like wrong details (so nobody can
            # probe usernames); say what a lock-out looks like so the user is not stuck.
            message += " " + LOCKOUT_HINT
        self.signin.show_error(message)

    def _unlock(self, password: str) -> None:
        panel = self.lock_panel
        attempt = self.session.begin_unlock()
        _call(panel, "set_checking", True)
        api = self.api

        def done(_: object) -> None:
            _call(self.lock_panel, "set_checking", False)
            if not self.session.unlock_succeeded(attempt):
                # Locked again while the server was checking: this answer unlocks nothing.
                _call(self.lock_panel, "show_message", RELOCKED_MESSAGE)

        def failed(exc: BaseException) -> None:
            _call(self.lock_panel, "set_checking", False)
            if isinstance(exc, SessionExpired):
                self.session.server_expired()
            elif isinstance(exc, SignInFailed):
                self.session.unlock_failed(attempt)
                left = self.session.unlock_tries_left
                _call(
                    self.lock_panel,
                    "show_message",
                    f"That password is not right. {left} "
                    f"{'try' if left == 1 else 'tries'} left before you are signed out.",
                )
            elif not isinstance(exc, Cancelled):
                _call(self.lock_panel, "show_message", self._message(exc, "unlock"))

        self.auth_runner.submit("unlock", lambda: api.unlock(password), done, failed)

    def _unlock_with_pin(self, pin: str) -> None:
        """A local check (policy allows it): the same token handshake and try limit."""
        attempt = self.session.begin_unlock()
        if self.pin.verify(pin):
            self.session.unlock_succeeded(attempt)
            return
        self.session.unlock_failed(attempt)
        left = self.session.unlock_tries_left
        _call(
            self.lock_panel,
            "show_message",
            f"That PIN is not right. {left} "
            f"{'try' if left == 1 else 'tries'} left before you are signed out.",
        )

    def _offer_pin(self) -> None:
        """After sign-in, where policy allows: set a PIN for quick unlocks (or not now)."""
        from cpdesk.ui.lockscreen import PinDialog

        dialog = PinDialog(LocalPin.MIN_DIGITS, LocalPin.MAX_DIGITS, self)
        dialog.pin_chosen.connect(self._set_pin)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def _set_pin(self, pin: str) -> None:
        if self.session.state is SessionState.ACTIVE:
            self.pin.set(pin)

    # -- search and record ------------------------------------------------------------

    def _search(self, query: SearchQuery) -> None:
        work = self.work
        if work is None:
            return
        self.state.query = query
        work.show_notice("")
        work.show_results_pane()
        work.results.show_waiting("Searching…")
        api = self.api
        self.runner.submit(
            "search", lambda: api.search(query), self._search_done, self._search_failed
        )

    def _search_done(self, result: object) -> None:
        self._sync_expiry()
        from cpdesk.records import SearchResult

        if not isinstance(result, SearchResult) or self.state.query is None:
            return
        self.state.results = result.children
        self.state.too_many = False
        self.state.showing_record = False
        if self.work is not None:
            self.work.results.show_results(self.state.query, result.children)
            self.work.show_results_pane()

    def _search_failed(self, exc: BaseException) -> None:
        query = self.state.query
        if isinstance(exc, TooManyMatches) and query is not None:
            self.state.results = None
            self.state.too_many = True
            if self.work is not None:
                self.work.results.show_too_many(query)
            return
        message = self._message(exc, "search")
        if message and self.work is not None:
            self.work.results.show_error(message)

    def _ask_reason(self, child: ChildSummary) -> None:

        from cpdesk.ui.reason_dialog import ReasonDialog

        dialog = ReasonDialog(self.state.last_reason, self)
        dialog.reason_chosen.connect(
            lambda reason, text: self._open_record(child.index_id, reason, text)
        )
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def _open_record(self, index_id: str, reason: AccessReason, text: str) -> None:
        if self.work is None:
            return
        self.state.last_reason = reason
        self.work.show_notice("")
        api, cache = self.api, self._cache

        def fetch() -> tuple[ChildRecord, dt.datetime | None]:
            try:
                record, bundle = api.record_bundle(index_id, reason, text)
            except (ServerUnreachable, ServerTimeout):
                cached = cache.get(index_id) if cache is not None else None
                if cache is None or cached is None:
                    raise
                from cpdesk.net.fhir import parse_bundle_bytes

                cache.note_offline_view(index_id)
                return parse_bundle_bytes(cached.bundle, index_id), cached.fetched_at
            if cache is not None:
                cache.put(index_id, bundle)
            return record, None

        self.runner.submit("record", fetch, self._record_done, self._record_failed)

    def _record_done(self, result: object) -> None:
        self._sync_expiry()
        if not isinstance(result, tuple) or self.work is None:
            return
        record, cached_at = result
        self.state.record = record
        self.state.record_cached_at = cached_at
        self.state.showing_record = True
        self.work.record.show_record(record, cached_at)
        self.work.show_record_pane()

    def _record_failed(self, exc: BaseException) -> None:
        message = self._message(exc, "record")
        if message and self.work is not None:
            self.work.show_notice(message)

    def _show_settings(self) -> None:
        if self._settings_factory is None:
            return
        from PySide6.QtCore import Qt

        dialog = self._settings_factory(self)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def _back_to_results(self) -> None:
        self.state.showing_record = False
        self.state.record = None
        if self.work is not None:
            self.work.record.clear()
            self.work.show_results_pane()

    # -- shared plumbing ----------------------------------------------------------------

    def _message(self, exc: BaseException, what: str) -> str:
        """The text to show for a failure; a 401 ends the session here."""
        if isinstance(exc, Cancelled):
            return ""
        if isinstance(exc, SessionExpired):
            self.session.server_expired()
            return ""
        if isinstance(exc, UserFacingError):
            return exc.user_message
        # A bug: log the class only (an unexpected message could hold child data).
        log.error("unexpected %s during %s", type(exc).__name__, what)
        return GENERIC_ERROR

    def _cancel(self) -> None:
        self.runner.cancel()
        if self.work is not None:
            self.work.results.show_waiting("Cancelled. Search again when you are ready.")

    def _busy_changed(self, busy: bool, channel: str) -> None:
        if self.work is None:
            return
        text = {"search": "Searching…", "record": "Opening the record…"}.get(channel, "Working…")
        self.work.set_busy(busy, text)

    def _absolute_seconds_left(self) -> float | None:
        expires = self.api.absolute_expires_at
        if expires is None:
            return None
        return max(0.0, (expires - self.clock.wall()).total_seconds())

    def _sync_expiry(self) -> None:
        left = self._absolute_seconds_left()
        if left is not None and self.session.state is not SessionState.SIGNED_OUT:
            self.session.set_absolute_seconds_left(left)

    def _tick(self) -> None:
        self.session.tick()
        if self.session.state is SessionState.ACTIVE:
            left_ms = self.session.idle_seconds_left() * 1000
            if left_ms < TICK_MS + 50 and not self._deadline.isActive():
                self._deadline.start(math.ceil(left_ms))
            absolute = self.session.absolute_seconds_left()
            self.status.update_time(absolute, self.session.idle_seconds_left())
            if self.work is not None:
                warn = ""
                if self.session.expiry_warning_due():
                    warn = (
                        f"Your session ends in {format_time_left(absolute)}. "
                        "Save what you need; you will have to sign in again."
                    )
                self.work.show_expiry_warning(warn)

    # -- window events --------------------------------------------------------------

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.WindowStateChange and self._lock_on_minimise:
            from PySide6.QtCore import Qt

            if self.windowState() & Qt.WindowState.WindowMinimized:
                self.session.lock(LockReason.MINIMISE)
        super().changeEvent(event)

    def _focus_window_changed(self, window: object) -> None:
        if self._lock_on_focus_loss and window is None:
            self.session.lock(LockReason.FOCUS_LOSS)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.timer.stop()
        self._deadline.stop()
        self.session.sign_out(SignOutReason.QUIT)
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self._keys)
        super().closeEvent(event)


def _is_ctrl(event: QKeyEvent) -> bool:
    from PySide6.QtCore import Qt

    mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
    return bool(mods == Qt.KeyboardModifier.ControlModifier)


def _ignore(_: object) -> None:
    """For best-effort calls (sign-out, purge) whose outcome changes nothing."""


def _call(target: object, name: str, *args: object) -> None:
    method = getattr(target, name, None)
    if callable(method):
        method(*args)
