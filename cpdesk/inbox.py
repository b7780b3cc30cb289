"""The inbox's decisions (issue 18), Qt-free: the unread count, the list, the actions.

`ui/inbox.py` only draws what `InboxView` is told; this is tested without a display
(tests/cpdesk/test_inbox.py). The rules it keeps:
- The GUI thread never waits: the count, the list and every action run as `Runner` jobs
  (a runner of their own, so polling never shows the busy bar or drops a search).
- Polling asks the index only for a number (`_summary=count`, not audited: it names no
  child and holds no text), every `POLL_SECONDS` while signed in and at sign-in and
  unlock. The list, which shows notices and is audited (`notice-list`), is fetched only
  when the user opens the inbox, or when the count changes while it is open.
- Nothing of a notice outlives a lock or a sign-out: the list and the open notice are
  dropped from memory and the view is emptied in the lock's own turn; an unlock fetches
  the count again, and the list only when the user asks. Notices are never cached.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from cpdesk.controller import Runner, explain
from cpdesk.errors import RequestRejected
from cpdesk.notices import INDEX_TEAM_ROLE, Category, Notice, check_notice_text, count_text
from cpdesk.session import SessionState, Transition

if TYPE_CHECKING:
    from cpdesk.clock import Clock
    from cpdesk.records import AccessReason, ChildRecord
    from cpdesk.session import Session

__all__ = ["POLL_SECONDS", "InboxController", "InboxView", "NoticeApi"]

log = logging.getLogger(__name__)

POLL_SECONDS = 60.0  # the unread count is asked for this often while signed in


class NoticeApi(Protocol):
    """What the inbox needs from `cpdesk.net.IndexClient` (blocking: jobs only)."""

    def notice_count(self, *, queue: bool = False) -> int: ...
    def notices(self, *, queue: bool = False) -> tuple[Notice, ...]: ...
    def read_notice(self, notice_id: str) -> Notice: ...
    def notice_done(self, notice_id: str) -> Notice: ...
    def send_notice(
        self, patient_id: str, category: Category, text: str, recipients: tuple[str, ...] = ()
    ) -> int: ...
    def relay_notice(self, notice_id: str, recipients: tuple[str, ...] = ()) -> int: ...
    def answer_notice(self, notice_id: str, text: str) -> int: ...


class InboxView(Protocol):
    """What the window draws for the inbox. It decides nothing."""

    def show_notice_count(self, text: str, unread: int | None) -> None: ...
    def show_inbox(self, notices: tuple[Notice, ...], team: bool) -> None: ...
    def show_inbox_message(self, text: str) -> None: ...
    def show_open_notice(self, notice: Notice, team: bool) -> None: ...
    def clear_inbox(self) -> None:
        """Lock or sign-out: empty every widget holding a notice, in this turn."""

    def notice_sent(self, text: str) -> None: ...
    def notice_send_failed(self, text: str) -> None: ...


def _ignore(_: object) -> None:
    """For the poll's failures: the next poll tries again."""


class InboxController:
    """The unread count, the inbox list, the open notice and the notice actions."""

    def __init__(
        self,
        *,
        api: Callable[[], NoticeApi],
        session: Session,
        clock: Clock,
        runner: Runner,
        poll_seconds: float = POLL_SECONDS,
        is_offline: Callable[[], bool] = lambda: False,
    ) -> None:
        """`api()` is called inside each job (the client is built lazily, off the GUI
        thread); `is_offline()` says the user signed in without the index (no polling)."""
        self._api = api
        self.session = session
        self._clock = clock
        self._runner = runner
        self._poll_seconds = poll_seconds
        self._is_offline = is_offline
        self._view: InboxView | None = None
        self.unread: int | None = None
        self.notices: tuple[Notice, ...] | None = None  # the list, while the inbox is open
        self.opened: Notice | None = None
        self.showing = False
        self._last_poll: float | None = None
        session.subscribe(self.on_transition)

    def attach(self, view: InboxView) -> None:
        self._view = view

    @property
    def view(self) -> InboxView:
        if self._view is None:
            raise RuntimeError("no view attached to the inbox")
        return self._view

    @property
    def team(self) -> bool:
        """Whether the signed-in user is on the index team (their queue is shown too)."""
        user = self.session.user
        return user is not None and user.role == INDEX_TEAM_ROLE

    @property
    def _active(self) -> bool:
        return self.session.state is SessionState.ACTIVE and not self._is_offline()

    # -- session transitions ---------------------------------------------------------------

    def on_transition(self, t: Transition) -> None:
        """A lock or sign-out forgets every notice and empties the view in this turn."""
        self._runner.drop()
        self.notices = None
        self.opened = None
        self.showing = False
        if t.new is SessionState.ACTIVE:
            self._last_poll = None
            self.poll()  # at sign-in and unlock: the count, at once
            return
        if t.new is SessionState.SIGNED_OUT:
            self.unread = None
            self._last_poll = None
        if self._view is not None:
            self.view.clear_inbox()
            self.view.show_notice_count(count_text(None), None)

    # -- polling ---------------------------------------------------------------------------

    def tick(self) -> None:
        """Called by a timer: poll when `poll_seconds` have passed since the last one."""
        last = self._last_poll
        if last is None or self._clock.now() - last >= self._poll_seconds:
            self.poll()

    def poll(self) -> None:
        """Ask the index for the unread count (the team: its own plus the queue's)."""
        if not self._active:
            return
        self._last_poll = self._clock.now()
        api, team = self._api, self.team

        def job() -> int:
            client = api()
            mine = client.notice_count()
            return mine + client.notice_count(queue=True) if team else mine

        self._runner.submit("notice-count", job, self._counted, self._poll_failed)

    def _counted(self, unread: int) -> None:
        changed = unread != self.unread
        self.unread = unread
        self.view.show_notice_count(count_text(unread), unread)
        if changed and self.showing and self.opened is None:
            self.refresh()

    def _poll_failed(self, exc: BaseException) -> None:
        meaning = explain(exc, "notice-count")
        if meaning.ends_session:
            self.session.server_expired()
        # else silent: the count stays as it was and the next poll tries again

    # -- the inbox -------------------------------------------------------------------------

    def open_inbox(self) -> None:
        """The user opened the inbox: fetch the list (audited by the index)."""
        if not self._active:
            return
        self.showing = True
        self.opened = None
        self.refresh()

    def close_inbox(self) -> None:
        self.showing = False
        self.notices = None
        self.opened = None
        self.view.clear_inbox()

    def refresh(self) -> None:
        if not self._active:
            return
        api, team = self._api, self.team

        def job() -> tuple[Notice, ...]:
            client = api()
            mine = client.notices()
            return (*client.notices(queue=True), *mine) if team else mine

        self.view.show_inbox_message("Fetching your notices…")
        self._runner.submit("notice-list", job, self._listed, self._failed)

    def _listed(self, notices: tuple[Notice, ...]) -> None:
        if not self.showing:
            return
        self.notices = notices
        self.view.show_inbox(notices, self.team)
        self.poll()  # the count follows what the list shows

    def open_notice(self, notice_id: str) -> None:
        """Read one notice (the index marks it read and audits it)."""
        if not self._active:
            return
        api = self._api
        self._runner.submit(
            "notice-read", lambda: api().read_notice(notice_id), self._read, self._failed
        )

    def _read(self, notice: Notice) -> None:
        if not self.showing:
            return
        self.opened = notice
        self._replace(notice)
        self.view.show_open_notice(notice, self.team)
        self.poll()

    def back_to_list(self) -> None:
        self.opened = None
        if self.notices is not None:
            self.view.show_inbox(self.notices, self.team)

    def mark_done(self, notice_id: str) -> None:
        if not self._active:
            return
        api = self._api
        self._runner.submit(
            "notice-done", lambda: api().notice_done(notice_id), self._done, self._failed
        )

    def _done(self, notice: Notice) -> None:
        if not self.showing:
            return
        if self.notices is not None:
            self.notices = tuple(n for n in self.notices if n.id != notice.id)
        self.opened = None
        self.view.show_inbox(self.notices or (), self.team)
        self.view.show_inbox_message("Marked as done.")
        self.poll()

    def reason_for(self, notice: Notice) -> AccessReason | None:
        """The reason for access the notice's category suggests (None: the last one)."""
        return notice.category.suggested_reason

    # -- the index team: relay and answer --------------------------------------------------

    def relay(self, notice_id: str, recipients: tuple[str, ...] = ()) -> None:
        """Pass a queued notice on (no recipients: the child's lead professional)."""
        api = self._api
        self._act(
            lambda: api().relay_notice(notice_id, recipients),
            "Passed on to the people working with the child.",
            notice_id,
        )

    def answer(self, notice_id: str, text: str) -> None:
        """Reply to a queued notice's sender (the team writes nothing that locates a child)."""
        try:
            trimmed = check_notice_text(text)
        except RequestRejected as error:
            self.view.notice_send_failed(error.user_message)
            return
        api = self._api
        self._act(lambda: api().answer_notice(notice_id, trimmed), "Answer sent.", notice_id)

    def _act(self, fn: Callable[[], int], said: str, notice_id: str) -> None:
        if not self._active:
            return

        def done(_: int) -> None:
            if self.notices is not None:
                self.notices = tuple(n for n in self.notices if n.id != notice_id)
            self.opened = None
            self.view.notice_sent(said)
            if self.showing:
                self.view.show_inbox(self.notices or (), self.team)
                self.view.show_inbox_message(said)
            self.poll()

        self._runner.submit("notice-act", fn, done, self._send_failed)

    # -- sending from a record -------------------------------------------------------------

    def send(
        self,
        record: ChildRecord,
        category: Category,
        text: str,
        recipients: tuple[str, ...] = (),
    ) -> None:
        """Send a notice about the open record (a shielded child's goes to the team)."""
        try:
            trimmed = check_notice_text(text)
        except RequestRejected as error:
            self.view.notice_send_failed(error.user_message)
            return
        if not self._active:
            return
        api, patient = self._api, record.index_id
        chosen = () if record.shielded else recipients

        def done(count: int) -> None:
            if record.shielded:
                self.view.notice_sent("Notice sent to the national index team.")
            else:
                people = "person" if count == 1 else "people"
                self.view.notice_sent(f"Notice sent to {count} {people}.")

        self._runner.submit(
            "notice-send",
            lambda: api().send_notice(patient, category, trimmed, chosen),
            done,
            self._send_failed,
        )

    # -- plumbing --------------------------------------------------------------------------

    def _replace(self, notice: Notice) -> None:
        if self.notices is not None:
            self.notices = tuple(notice if n.id == notice.id else n for n in self.notices)

    def _message(self, exc: BaseException, during: str) -> str:
        meaning = explain(exc, during)
        if meaning.ends_session:
            self.session.server_expired()
        return meaning.message

    def _failed(self, exc: BaseException) -> None:
        message = self._message(exc, "notices")
        if message and self.showing:
            self.view.show_inbox_message(message)

    def _send_failed(self, exc: BaseException) -> None:
        message = self._message(exc, "notice-send")
        if message:
            self.view.notice_send_failed(message)
