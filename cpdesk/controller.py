"""The work page's decisions, Qt-free: what to fetch, what to show, what an error means.

The window (`ui/main_window.py`) draws what this tells it through `WorkView` and hands
the user's intents back as method calls (`search`, `open_record`, `unlock`...). Nothing
here imports Qt, so every rule is tested without a display (tests/cpdesk/test_controller.py)
with a fake clock, a fake runner and a view that records what it was told.

    window ──intent──▶ WorkController ──job──▶ Runner (worker thread: network, cache, scrypt)
       ▲                  │    ▲                      │
       └──── WorkView ────┘    └──── on_done/on_error ┘ (back on the GUI thread)
    Session ──transition──▶ WorkController.on_transition ──▶ WorkView (same turn)

Rules it keeps:
- The GUI thread never waits: every call to the index, the record cache and the PIN's
  scrypt runs as a `Runner` job (`TaskRunner` in the app: QThreadPool workers). Sign-in,
  unlock, PIN and sign-out go through the one-thread auth runner, so they never overtake
  each other.
- One lock path: every lock is `Session.lock(reason)`; the controller hears the transition
  and, in the same turn, drops pending answers, clears the clipboard and tells the view
  to empty every widget with child data and show the lock panel.
- The child data fetched this sign-in lives only in `WorkState` (memory), so an unlock
  redraws without a new audited fetch; a sign-out drops it and purges the cache.
- An answer for a screen that is no longer current (a newer search, a lock, a sign-out)
  draws nothing.

The record cache (`cpdesk.cache.base.RecordCache`) plugs in at `fetch_record`, which runs
on a worker: a record from the index is stored; when the index cannot be reached
(`shows_offline_copy`) a copy opened earlier is shown under `offline_banner`'s
"Offline copy from 14:02 — may be out of date". Searches are never served from it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple, Protocol, TypeVar

from cpdesk.cache.base import NullCache
from cpdesk.errors import (
    Cancelled,
    NotFound,
    ServerTimeout,
    ServerUnreachable,
    SessionExpired,
    SignInFailed,
    TooManyMatches,
    UserFacingError,
)
from cpdesk.session import LocalPin, LockReason, Session, SessionState, SignOutReason, Transition

if TYPE_CHECKING:  # not at run time: the sign-in page paints before these load
    from cpdesk.cache.base import RecordCache
    from cpdesk.clock import Clock
    from cpdesk.involvements import SelfDeclaration
    from cpdesk.records import (
        AccessReason,
        ChildRecord,
        ChildSummary,
        Involvement,
        SearchQuery,
        SearchResult,
        UserInfo,
    )

__all__ = [
    "GENERIC_ERROR",
    "LOCKOUT_HINT",
    "RELOCKED_MESSAGE",
    "SIGN_OUT_MESSAGES",
    "IndexApi",
    "LockedPanel",
    "Meaning",
    "Opened",
    "Runner",
    "SignedIn",
    "WorkController",
    "WorkState",
    "WorkView",
    "busy_text",
    "explain",
    "fetch_record",
    "format_time_left",
    "offline_banner",
    "shows_offline_copy",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

SWEEP_SECONDS = 600  # expired cache entries are deleted this often (and at each open)

# Value types are NamedTuples and plain classes, not dataclasses: this module loads before
# the sign-in page paints, and each dataclass costs a generated-code exec at import.

PANIC_GAP_SECONDS = 0.6  # two Esc presses this close lock (the panic lock)
SAME_PRESS_SECONDS = 0.03  # closer than this: one press seen by several receivers
EXPIRY_WARNING = "Your session ends in {left}. Save what you need; you will have to sign in again."
RELOCKED_MESSAGE = "cpdesk locked again while checking. Enter your password to unlock."
GENERIC_ERROR = "Something went wrong. Try again; if it keeps happening, tell your IT service desk."
OFFLINE_CHANGE = "The index cannot be reached: try again when you are back online."
CANCELLED_SEARCH = "Cancelled. Search again when you are ready."
CANCELLED_SIGN_IN = "Sign-in cancelled. Try again when the network is back."
SEARCHING = "Searching…"

# The lock-out's length is the index's setting, not ours: no number here.
LOCKOUT_HINT = (
    "After several wrong tries in a row the index locks the account for a while: if you "
    "are sure of your details, try again later or ask your IT service desk to unlock it."
)

SIGN_OUT_MESSAGES = {
    SignOutReason.USER: "You have signed out.",
    SignOutReason.LOCK_TIMEOUT: "You were signed out because cpdesk was locked for too long.",
    SignOutReason.UNLOCK_FAILURES: "You were signed out after too many wrong passwords.",
    SignOutReason.SERVER_EXPIRED: "Your session has ended. Sign in again to continue.",
    SignOutReason.QUIT: "",
}

OFFLINE_NOTICE = (
    "The index cannot be reached. Searching needs it; the records you opened today are "
    "listed below."
)
OFFLINE_SIGNED_IN = "Signed in offline: only the records you opened today can be read."


class NotCachedOffline(NotFound):
    """The index cannot be reached and this record was not opened on this device today."""

    default_message = (
        "This record is not available offline: the index cannot be reached and it was not "
        "opened on this computer today."
    )


_BUSY_TEXT = {"search": SEARCHING, "record": "Opening the record…", "involvement": "Saving…"}


# -- the seams ----------------------------------------------------------------------------


class SignedIn(Protocol):
    """What a sign-in answer must carry (`cpdesk.net.SignInResult`)."""

    @property
    def user(self) -> UserInfo: ...


class IndexApi(Protocol):
    """What the controller needs from `cpdesk.net.IndexClient` (blocking: run as jobs)."""

    def sign_in(self, username: str, password: str, otp: str) -> SignedIn: ...
    def unlock(self, password: str) -> None: ...
    def sign_out(self) -> None: ...
    def search(self, query: SearchQuery) -> SearchResult: ...
    def record_bundle(
        self, index_id: str, reason: AccessReason, reason_text: str = ""
    ) -> tuple[ChildRecord, bytes]: ...
    def report_offline_view(self, index_id: str, viewed_at: dt.datetime) -> None: ...
    def declare_involvement(self, index_id: str, declaration: SelfDeclaration) -> Involvement: ...
    def end_involvement(self, role_id: str) -> None: ...
    @property
    def absolute_expires_at(self) -> dt.datetime | None: ...


class CacheDoor(Protocol):
    """Opens and erases each user's record cache (`cpdesk.cache.keeper.CacheKeeper`).

    Blocking (scrypt, SQLCipher): called from jobs only.
    """

    def open_signed_in(self, username: str, password: str) -> RecordCache: ...
    def open_offline(self, username: str, password: str) -> RecordCache: ...
    def erase(self, username: str) -> None: ...


class Runner(Protocol):
    """Runs blocking jobs off the GUI thread (`ui.workers.TaskRunner`).

    A newer job on a channel supersedes the older one's answer; callbacks come back on
    the GUI thread.
    """

    def submit(
        self,
        channel: str,
        fn: Callable[[], _T],
        on_done: Callable[[_T], None],
        on_error: Callable[[BaseException], None],
    ) -> int: ...

    def drop(self) -> None: ...

    def cancel(self) -> None: ...


class Opened(NamedTuple):
    """A record to show; `offline_since` is when the cached copy was stored, else None."""

    record: ChildRecord
    offline_since: dt.datetime | None = None

    def __repr__(self) -> str:  # never the child's data
        return f"Opened(offline_since={self.offline_since!r})"


class LockedPanel(NamedTuple):
    """What the lock panel shows: who, since when, until when, and whether a PIN works."""

    user: UserInfo
    locked_at: dt.datetime | None
    signs_out_at: dt.datetime | None
    allow_pin: bool


class WorkState:
    """The child data fetched this sign-in, in memory only, to redraw after an unlock."""

    __slots__ = ("last_reason", "opened", "query", "results", "showing_record", "too_many")

    def __init__(self) -> None:
        self.query: SearchQuery | None = None
        self.results: tuple[ChildSummary, ...] | None = None
        self.too_many = False
        self.opened: Opened | None = None
        self.showing_record = False
        self.last_reason: AccessReason | None = None

    def __repr__(self) -> str:  # never the child's data
        return f"WorkState(results={self.results is not None}, record={self.opened is not None})"


class WorkView(Protocol):
    """What the window draws when told. It decides nothing."""

    def show_sign_in(self, notice: str) -> None:
        """Signed out: close dialogs, destroy the workspace, show the sign-in page."""

    def set_sign_in_busy(self, busy: bool) -> None: ...
    def show_sign_in_error(self, text: str) -> None: ...

    def show_workspace(self, user: UserInfo) -> None:
        """Active: the workspace (a new one, or the emptied one kept since the lock)."""

    def show_locked(self, panel: LockedPanel) -> None:
        """Same turn as the lock: close dialogs, empty every child widget, show the panel."""

    def offer_pin(self) -> None: ...
    def set_unlock_checking(self, busy: bool) -> None: ...
    def show_unlock_message(self, text: str) -> None: ...
    def fill_search_form(self, query: SearchQuery) -> None: ...
    def show_waiting(self, text: str) -> None: ...
    def show_results(self, query: SearchQuery, children: tuple[ChildSummary, ...]) -> None: ...
    def show_too_many(self, query: SearchQuery) -> None: ...
    def show_opened_today(self, children: tuple[ChildSummary, ...]) -> None:
        """Offline: "Records you opened today", from the cache (search needs the index)."""

    def show_search_error(self, text: str) -> None: ...
    def show_record(self, record: ChildRecord, banner: str) -> None: ...
    def close_record(self) -> None: ...
    def show_notice(self, text: str) -> None: ...
    def show_time_left(self, status: str, warning: str) -> None: ...
    def show_involvement_result(self, saved: bool, text: str) -> None:
        """A declaration was saved or ended (True), or refused (False, with the reason)."""


# -- pure decisions --------------------------------------------------------------------------


class Meaning(NamedTuple):
    """What a failure means for the user: a message ("" = say nothing), or the end."""

    message: str
    ends_session: bool = False


def explain(exc: BaseException, during: str) -> Meaning:
    """Cancelled says nothing; a 401 ends the session; a typed error says its message;
    anything else is a bug, logged by class only (its text could hold child data)."""
    if isinstance(exc, Cancelled):
        return Meaning("")
    if isinstance(exc, SessionExpired):
        return Meaning("", ends_session=True)
    if isinstance(exc, UserFacingError):
        return Meaning(exc.user_message)
    log.error("unexpected %s during %s", type(exc).__name__, during)
    return Meaning(GENERIC_ERROR)


def shows_offline_copy(exc: BaseException) -> bool:
    """Whether a cached copy may stand in: only when the index could not be reached (no
    answer, or none in time) — never for a 401/403 or a certificate that does not match."""
    return isinstance(exc, ServerUnreachable | ServerTimeout)


BundleReader = Callable[[bytes, str], "ChildRecord"]


def read_bundle(content: bytes, index_id: str) -> ChildRecord:
    """A cached `$everything` Bundle as a record (imported late: after the first paint)."""
    from cpdesk.net.fhir import parse_bundle_bytes

    return parse_bundle_bytes(content, index_id)


def fetch_record(
    api: IndexApi,
    cache: RecordCache,
    index_id: str,
    reason: AccessReason,
    text: str,
    reader: BundleReader = read_bundle,
) -> Opened:
    """The record from the index (its Bundle kept in the cache), or the cached copy when the
    index cannot be reached (that view queued for the index's audit). Blocking: a job."""
    try:
        record, bundle = api.record_bundle(index_id, reason, text)
    except Exception as exc:
        if not shows_offline_copy(exc):
            raise
        cached = cache.get(index_id)
        if cached is None:
            raise NotCachedOffline() from None
        cache.note_offline_view(index_id)
        return Opened(reader(cached.bundle, index_id), cached.fetched_at)
    cache.put(index_id, bundle)
    return Opened(record)


def opened_today(
    cache: RecordCache, reader: BundleReader = read_bundle
) -> tuple[ChildSummary, ...]:
    """The children whose records are in the cache, newest first (a job: it decrypts)."""
    children = []
    for entry in cache.recent():
        with contextlib.suppress(UserFacingError):
            children.append(reader(entry.bundle, entry.index_id).summary)
    return tuple(children)


def send_offline_views(api: IndexApi, cache: RecordCache) -> int:
    """Report queued offline views to the index's audit, oldest first; how many went."""
    pending = cache.pending_views()
    sent = []
    try:
        for view in pending:
            api.report_offline_view(view.index_id, view.viewed_at)
            sent.append(view.id)
    finally:
        cache.views_sent(sent)
    return len(sent)


def offline_banner(offline_since: dt.datetime | None) -> str:
    """'Offline copy from 14:02 — may be out of date' (local time); '' when live."""
    if offline_since is None:
        return ""
    return f"Offline copy from {offline_since.astimezone():%H:%M} — may be out of date"


def format_time_left(seconds: float | None) -> str:
    """'9 h 58 min', '4 min', 'less than 1 min' or '' when unknown."""
    if seconds is None:
        return ""
    minutes = int(seconds // 60)
    if minutes < 1:
        return "less than 1 min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def busy_text(channel: str) -> str:
    """What the busy bar says while a job on `channel` runs."""
    return _BUSY_TEXT.get(channel, "Working…")


def _tries_left(what: str, left: int) -> str:
    return (
        f"That {what} is not right. {left} {'try' if left == 1 else 'tries'} left before "
        "you are signed out."
    )


def _ignore(_: object) -> None:
    """For best-effort jobs (sign-out, purge) whose outcome changes nothing."""


class _SignInOutcome(NamedTuple):
    user: UserInfo
    cache: RecordCache | None = None
    offline: bool = False


def _open_cache(caches: CacheDoor | None, username: str, password: str) -> RecordCache | None:
    """The user's cache after the index accepted the password; None (no cache) on a bug."""
    if caches is None:
        return None
    try:
        return caches.open_signed_in(username, password)
    except Exception as exc:  # a cache that cannot open never blocks a sign-in
        log.error("record cache not opened (%s)", type(exc).__name__)
        return None


def _sign_in_offline(
    caches: CacheDoor, username: str, password: str, unreachable: Exception
) -> _SignInOutcome:
    """Offline sign-in: the password is proven by unwrapping this user's cache key."""
    from cpdesk.cache.keeper import NoOfflineCache, WrongPassword
    from cpdesk.records import UserInfo

    try:
        cache = caches.open_offline(username, password)
    except WrongPassword:
        raise SignInFailed() from None
    except NoOfflineCache:
        raise unreachable from None
    return _SignInOutcome(UserInfo(username, username, "", ""), cache, offline=True)


# -- the controller -------------------------------------------------------------------------


class WorkController:
    """Sign-in, unlock, search and record: runs the jobs, keeps the state, tells the view.

    Attach the view (`attach`) before the first intent; the window does it when built.
    """

    def __init__(
        self,
        *,
        api: IndexApi,
        session: Session,
        clock: Clock,
        runner: Runner,
        auth_runner: Runner,
        cache: RecordCache,
        clear_clipboard: Callable[[], object] = lambda: None,
        before_sign_in: Callable[[], None] = lambda: None,
        lock_on_minimise: bool = True,
        lock_on_focus_loss: bool = False,
        allow_pin_unlock: bool = False,
        caches: CacheDoor | None = None,
        offline_sign_in: bool = False,
        reader: BundleReader = read_bundle,
    ) -> None:
        """`before_sign_in` runs before any sign-in is sent; if it raises, none is.

        `caches` opens each user's encrypted cache at sign-in and unlock (with the password
        typed anyway) and erases it at sign-out; without it `cache` serves everyone.
        """
        self.session = session
        self.state = WorkState()
        self._api = api
        self._clock = clock
        self._runner = runner
        self._auth_runner = auth_runner
        self._cache = cache
        self._clear_clipboard = clear_clipboard
        self._before_sign_in = before_sign_in
        self._lock_on_minimise = lock_on_minimise
        self._lock_on_focus_loss = lock_on_focus_loss
        self._allow_pin = allow_pin_unlock
        self._caches = caches
        self._offline_sign_in = offline_sign_in and caches is not None
        self._reader = reader
        self._username = ""
        self.offline = False  # signed in without the index (offline sign-in)
        self._views_waiting = False  # offline views may be queued in the cache
        self._pin: LocalPin | None = None  # its hash only, in memory, for this sign-in
        self._sign_ins = 0  # counts sign-ins: a PIN hashed for an earlier one is dropped
        self._last_escape = -1e9
        self._last_sweep = clock.now()
        self._view: WorkView | None = None
        session.subscribe(self.on_transition)

    def attach(self, view: WorkView) -> None:
        self._view = view

    @property
    def view(self) -> WorkView:
        if self._view is None:
            raise RuntimeError("no view attached to the controller")
        return self._view

    @property
    def pin_is_set(self) -> bool:
        return self._pin is not None

    def today(self) -> dt.date:
        """Today in the machine's time zone (ages, date checks)."""
        return self._clock.wall().astimezone().date()

    # -- session transitions (synchronous: a lock is drawn in its own turn) -------------

    def on_transition(self, t: Transition) -> None:
        if t.new is SessionState.LOCKED:
            self._locked()
        elif t.new is SessionState.ACTIVE:
            self._active(restore=t.old is SessionState.LOCKED)
        else:
            self._signed_out(t.sign_out_reason or SignOutReason.USER)

    def _locked(self) -> None:
        self._runner.drop()  # an answer still in flight draws nothing
        self._clear_clipboard()
        if self._caches is not None:  # the data key goes; the unlock derives it again
            cache, self._cache = self._cache, NullCache()
            self._auth_runner.submit("cache-close", cache.close, _ignore, _ignore)
        user = self.session.user
        assert user is not None  # a locked session has a user
        self.view.show_locked(
            LockedPanel(
                user,
                self.session.locked_at,
                self.session.signs_out_at,
                allow_pin=self._allow_pin and self._pin is not None,
            )
        )

    def _active(self, *, restore: bool) -> None:
        user = self.session.user
        assert user is not None  # an active session has a user
        self.view.show_workspace(user)
        if restore:
            self._redraw()
        elif self._allow_pin and self._pin is None:
            self.view.offer_pin()

    def _redraw(self) -> None:
        """After an unlock: draw again, from memory, what was on screen at the lock."""
        state, view = self.state, self.view
        if state.query is not None:
            view.fill_search_form(state.query)
            if state.too_many:
                view.show_too_many(state.query)
            elif state.results is not None:
                view.show_results(state.query, state.results)
        if state.showing_record and state.opened is not None:
            view.show_record(state.opened.record, offline_banner(state.opened.offline_since))
        else:
            view.close_record()

    def _signed_out(self, reason: SignOutReason) -> None:
        self._runner.drop()
        self._clear_clipboard()
        self.state = WorkState()
        self._pin = None
        self._sign_ins += 1
        cache, self._cache = self._cache, self._cache if self._caches is None else NullCache()
        self._auth_runner.submit("purge", self._forget(cache, reason), _ignore, _ignore)
        self.offline = False
        self._auth_runner.submit("sign-out", self._api.sign_out, _ignore, _ignore)
        self.view.show_sign_in(SIGN_OUT_MESSAGES[reason])

    def _forget(self, cache: RecordCache, reason: SignOutReason) -> Callable[[], None]:
        """The job that ends a sign-in's cache: quit keeps it (closed), all else erases."""
        caches, username = self._caches, self._username
        if caches is None:
            return cache.purge

        def job() -> None:
            cache.close()
            if reason is not SignOutReason.QUIT and username:
                caches.erase(username)  # sign-out, lock-to-logout, wrong unlocks

        return job

    # -- lock triggers the window reports ------------------------------------------------

    def lock(self, reason: LockReason = LockReason.MANUAL) -> None:
        self.session.lock(reason)

    def sign_out(self) -> None:
        self.session.sign_out(SignOutReason.USER)

    def quit(self) -> None:
        self.session.sign_out(SignOutReason.QUIT)

    def escape_pressed(self) -> None:
        """Esc twice within PANIC_GAP_SECONDS is the panic lock."""
        now = self._clock.now()
        gap = now - self._last_escape
        if gap < SAME_PRESS_SECONDS:
            return  # the same press, passing another receiver
        if gap <= PANIC_GAP_SECONDS:
            self._last_escape = -1e9
            self.session.lock(LockReason.PANIC)
        else:
            self._last_escape = now

    def window_minimised(self) -> None:
        if self._lock_on_minimise:
            self.session.lock(LockReason.MINIMISE)

    def focus_left_app(self) -> None:
        if self._lock_on_focus_loss:
            self.session.lock(LockReason.FOCUS_LOSS)

    def tick(self) -> float | None:
        """Apply passed deadlines, show the time left; returns seconds to the idle lock
        while active (the ticker times its precise one-shot by it), else None."""
        session = self.session
        session.tick()
        if session.state is not SessionState.ACTIVE:
            return None
        if self._clock.now() - self._last_sweep >= SWEEP_SECONDS:
            self._last_sweep = self._clock.now()
            self._runner.submit("cache-sweep", self._cache.sweep, _ignore, _ignore)
        idle = session.idle_seconds_left()
        absolute = session.absolute_seconds_left()
        parts = []
        if absolute is not None:
            parts.append(f"Session ends in {format_time_left(absolute)}")
        idle_text = f"{int(idle)} s" if idle < 60 else format_time_left(idle)
        parts.append(f"locks after {idle_text} without input")
        warning = ""
        if session.expiry_warning_due():
            warning = EXPIRY_WARNING.format(left=format_time_left(absolute))
        self.view.show_time_left(" · ".join(parts), warning)
        return idle

    # -- sign-in ---------------------------------------------------------------------------

    def sign_in(self, username: str, password: str, otp: str) -> None:
        self._before_sign_in()  # start-up finished (lock machinery) before any request
        self.view.set_sign_in_busy(True)
        api, caches, offline_ok = self._api, self._caches, self._offline_sign_in

        def job() -> _SignInOutcome:
            try:
                result = api.sign_in(username, password, otp)
            except Exception as exc:
                if not (offline_ok and caches is not None and shows_offline_copy(exc)):
                    raise
                return _sign_in_offline(caches, username, password, exc)
            return _SignInOutcome(result.user, _open_cache(caches, username, password))

        self._auth_runner.submit("sign-in", job, self._signed_in, self._sign_in_failed)

    def cancel_sign_in(self) -> None:
        self._auth_runner.cancel()
        self.view.set_sign_in_busy(False)
        self.view.show_sign_in_error(CANCELLED_SIGN_IN)

    def _signed_in(self, result: _SignInOutcome) -> None:
        self.view.set_sign_in_busy(False)
        if self.session.state is not SessionState.SIGNED_OUT:
            if result.cache is not None:
                result.cache.close()
            return
        if result.cache is not None:
            self._cache = result.cache
        self._username = result.user.username
        self.offline = result.offline
        self.session.sign_in(result.user, None if result.offline else self._absolute_seconds_left())
        # A kept cache may hold views queued in an earlier, offline, run.
        self._views_waiting = result.cache is not None
        if result.offline:
            self.view.show_notice(OFFLINE_SIGNED_IN)
            self._offer_opened_today()
        else:
            self._send_offline_views()

    def _sign_in_failed(self, exc: BaseException) -> None:
        self.view.set_sign_in_busy(False)
        message = self._message(exc, "sign-in")
        if not message:
            return
        if isinstance(exc, SignInFailed):
            # The index answers a locked account exactly like wrong details (so nobody can
            # probe usernames); say what a lock-out looks like so the user is not stuck.
            message += " " + LOCKOUT_HINT
        self.view.show_sign_in_error(message)

    # -- unlock ----------------------------------------------------------------------------

    def unlock(self, password: str) -> None:
        """Ask the index (the password is checked there, and counted); then derive the
        cache key again from the password. Signed in offline: the key itself checks it."""
        api, caches, username, offline = self._api, self._caches, self._username, self.offline
        opened: list[RecordCache] = []

        def check() -> bool:
            if offline and caches is not None:
                outcome = _sign_in_offline(caches, username, password, SignInFailed())
                assert outcome.cache is not None
                opened.append(outcome.cache)
                return True
            api.unlock(password)  # a wrong password raises SignInFailed
            cache = _open_cache(caches, username, password)
            if cache is not None:
                opened.append(cache)
            return True

        def reopened() -> None:
            if opened and self.session.state is SessionState.ACTIVE:
                self._cache = opened[0]

        self._check_unlock("password", check, reopened)

    def unlock_with_pin(self, pin: str) -> None:
        """Check the PIN against its hash, on the auth worker (scrypt is slow on purpose)."""
        local = self._pin
        self._check_unlock("PIN", lambda: local is not None and local.verify(pin))

    def _check_unlock(
        self, what: str, check: Callable[[], bool], then: Callable[[], None] = lambda: None
    ) -> None:
        """One attempt: the session's token handshake, the check as a job, the answer."""
        session = self.session
        attempt = session.begin_unlock()
        self.view.set_unlock_checking(True)

        def done(right: bool) -> None:
            if right:
                session.unlock_succeeded(attempt)
                then()
            else:
                session.unlock_failed(attempt)
            if session.state is not SessionState.LOCKED:
                return  # unlocked, or signed out after the last wrong try
            self.view.set_unlock_checking(False)
            # Still locked after a right answer: it locked again while checking, and this
            # answer unlocks nothing.
            left = session.unlock_tries_left
            self.view.show_unlock_message(RELOCKED_MESSAGE if right else _tries_left(what, left))

        def failed(exc: BaseException) -> None:
            if isinstance(exc, SignInFailed):  # the index said: wrong password
                done(False)
                return
            message = self._message(exc, "unlock")
            if session.state is SessionState.LOCKED:
                self.view.set_unlock_checking(False)
                if message:
                    self.view.show_unlock_message(message)

        self._auth_runner.submit("unlock", check, done, failed)

    def set_pin(self, pin: str) -> None:
        """Hash a new PIN on the auth worker; it counts only for the sign-in it was set in."""
        if self.session.state is not SessionState.ACTIVE:
            return
        sign_ins = self._sign_ins

        def made(local: LocalPin) -> None:
            if sign_ins == self._sign_ins and self.session.state is not SessionState.SIGNED_OUT:
                self._pin = local

        def failed(exc: BaseException) -> None:
            log.error("PIN not set (%s)", type(exc).__name__)

        self._auth_runner.submit("set-pin", lambda: LocalPin.make(pin), made, failed)

    # -- search and record -------------------------------------------------------------

    def search(self, query: SearchQuery) -> None:
        if self.session.state is not SessionState.ACTIVE:
            return
        self.state.query = query
        self.view.show_notice("")
        self.view.show_waiting(SEARCHING)
        api = self._api
        self._runner.submit(
            "search", lambda: api.search(query), self._search_done, self._search_failed
        )

    def _search_done(self, result: SearchResult) -> None:
        self._sync_expiry()
        self._send_offline_views()
        state = self.state
        assert state.query is not None  # set before the job; a sign-out drops the job
        state.results = result.children
        state.too_many = False
        state.showing_record = False
        state.opened = None
        self.view.show_results(state.query, result.children)

    def _search_failed(self, exc: BaseException) -> None:
        state = self.state
        if isinstance(exc, TooManyMatches) and state.query is not None:
            state.results = None
            state.too_many = True
            self.view.show_too_many(state.query)
            return
        message = self._message(exc, "search")
        if message:
            self.view.show_search_error(message)
        if shows_offline_copy(exc):
            self._offer_opened_today()

    def cancel(self) -> None:
        """The user stopped waiting: drop the answers and break the stalled calls."""
        self._runner.cancel()
        self.view.show_waiting(CANCELLED_SEARCH)

    def open_record(self, index_id: str, reason: AccessReason, text: str = "") -> None:
        """Fetch a record with a reason for access (the index audits it)."""
        if self.session.state is not SessionState.ACTIVE:
            return
        self.state.last_reason = reason
        self.view.show_notice("")
        api, cache, reader = self._api, self._cache, self._reader
        self._runner.submit(
            "record",
            lambda: fetch_record(api, cache, index_id, reason, text, reader),
            self._record_done,
            self._record_failed,
        )

    def _record_done(self, opened: Opened) -> None:
        self._sync_expiry()
        if opened.offline_since is None:
            self._send_offline_views()
        else:
            self._views_waiting = True
        self.state.opened = opened
        self.state.showing_record = True
        self.view.show_record(opened.record, offline_banner(opened.offline_since))

    def _record_failed(self, exc: BaseException) -> None:
        message = self._message(exc, "record")
        if message:
            self.view.show_notice(message)
        if isinstance(exc, NotCachedOffline):
            self._offer_opened_today()

    def _offer_opened_today(self) -> None:
        """Offline: list the records kept for this user (decrypted in a job)."""
        cache, reader = self._cache, self._reader
        self._runner.submit(
            "opened-today",
            lambda: opened_today(cache, reader),
            self.view.show_opened_today,
            _ignore,
        )

    def _send_offline_views(self) -> None:
        """The index answered: report the views made while it could not be reached."""
        if not self._views_waiting or self.offline:
            return
        self._views_waiting = False
        api, cache = self._api, self._cache

        def failed(exc: BaseException) -> None:
            self._views_waiting = True  # try again after the next answer from the index
            log.warning("offline views not sent yet (%s)", type(exc).__name__)

        self._auth_runner.submit(
            "send-views", lambda: send_offline_views(api, cache), _ignore, failed
        )

    # -- "I am working with this child" (cpdesk.involvements) ----------------------------

    def declare_involvement(self, declaration: SelfDeclaration) -> None:
        """Add the user's own involvement to the open record (a job; the index audits it)."""
        from cpdesk.involvements import with_involvement

        api = self._api

        def declare(index_id: str) -> Callable[[ChildRecord], ChildRecord]:
            added = api.declare_involvement(index_id, declaration)
            return lambda record: with_involvement(record, added)

        self._change_involvement(declare, "You are now listed as working with this child.")

    def end_involvement(self, role_id: str) -> None:
        """End the user's own self-declared involvement on the open record."""
        from cpdesk.involvements import without_involvement

        api = self._api

        def end(_index_id: str) -> Callable[[ChildRecord], ChildRecord]:
            api.end_involvement(role_id)
            return lambda record: without_involvement(record, role_id)

        self._change_involvement(end, "Your involvement with this child has ended.")

    def _change_involvement(
        self, job: Callable[[str], Callable[[ChildRecord], ChildRecord]], done_text: str
    ) -> None:
        """Run `job` (the call to the index) for the open record; redraw it changed."""
        opened = self.state.opened
        if self.session.state is not SessionState.ACTIVE or opened is None:
            return
        if opened.offline_since is not None or self.offline:
            self.view.show_involvement_result(False, OFFLINE_CHANGE)
            return
        index_id = opened.record.index_id

        def done(change: Callable[[ChildRecord], ChildRecord]) -> None:
            current = self.state.opened
            if current is None or current.record.index_id != index_id:
                return  # another record (or none) is open now: nothing to redraw
            self.state.opened = Opened(change(current.record))
            self.view.show_record(self.state.opened.record, "")
            self.view.show_involvement_result(True, done_text)

        def failed(exc: BaseException) -> None:
            self.view.show_involvement_result(False, self._message(exc, "involvement"))

        self._runner.submit("involvement", lambda: job(index_id), done, failed)

    def back_to_results(self) -> None:
        self.state.showing_record = False
        self.state.opened = None
        self.view.close_record()

    # -- plumbing ----------------------------------------------------------------------

    def _message(self, exc: BaseException, during: str) -> str:
        meaning = explain(exc, during)
        if meaning.ends_session:
            self.session.server_expired()
        return meaning.message

    def _absolute_seconds_left(self) -> float | None:
        expires = self._api.absolute_expires_at
        if expires is None:
            return None
        return max(0.0, (expires - self._clock.wall()).total_seconds())

    def _sync_expiry(self) -> None:
        left = self._absolute_seconds_left()
        if left is not None and self.session.state is not SessionState.SIGNED_OUT:
            self.session.set_absolute_seconds_left(left)
