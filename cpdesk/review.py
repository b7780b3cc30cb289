"""The index team's "Links to review" screen, Qt-free: what to fetch, compare and show.

A council feed row the index could neither link nor reject waits for the index team
(docs/feeds.md). This screen shows one at a time: the row as the council sent it beside
the candidate child as the index holds it, each field marked same, close, different or
not given (by a word and a sign, not only a colour), and takes the decision: Link, Not
this child (both sent to the index, which audits them) or Skip (this screen only: the item
stays in the queue). Then it moves to the next.

The window (`cpdesk/ui/review.py`) draws what this tells it through `ReviewView`. Calls
to the index run as `Runner` jobs on the "review" channel, so a lock (which drops every
pending answer) leaves nothing to draw; the window destroys the screen at the lock, and
this controller with it: nothing of a review survives a lock, nothing is written to disk.
"""

from __future__ import annotations

import datetime as dt
import enum
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from cpdesk.controller import Runner, explain
from cpdesk.dates import format_date
from cpdesk.errors import RequestRejected
from cpdesk.records import format_nhs_number
from cpdesk.session import Session, SessionState

__all__ = [
    "INDEX_TEAM",
    "Agreement",
    "CandidateChild",
    "ComparedField",
    "FeedChild",
    "FeedPractitioner",
    "ReviewApi",
    "ReviewCase",
    "ReviewController",
    "ReviewView",
    "compare",
    "why",
]

INDEX_TEAM = "index-team"
LOADING = "Loading the links to review…"
NONE_WAITING = "No links are waiting for review."
MORE_WAITING = "More links are waiting: press Check again (F5) for the next ones."
TAKEN = "Someone else decided this one already (or a newer feed replaced it). Moving on."
CHANNEL = "review"
_T = TypeVar("_T")


class Agreement(enum.Enum):
    """How a feed field compares with the index's; `mark` and `word` say it without colour."""

    SAME = ("✓", "Same")
    CLOSE = ("≈", "Close")
    DIFFERENT = ("✗", "Different")
    MISSING = ("–", "Not given")

    @property
    def mark(self) -> str:
        return self.value[0]

    @property
    def word(self) -> str:
        return self.value[1]


@dataclass(frozen=True, repr=False)
class FeedChild:
    """The child as the council's row names them."""

    given: tuple[str, ...]
    family: str
    birth_date: dt.date | None
    postcode: str
    nhs_number: str


@dataclass(frozen=True, repr=False)
class FeedPractitioner:
    name: str
    role: str
    organisation: str
    phone: str
    email: str
    since: dt.date | None
    lead: bool


@dataclass(frozen=True, repr=False)
class CandidateChild:
    """The candidate as the index holds it (the index team's view, shielded or not)."""

    index_id: str
    given: tuple[str, ...]
    family: str
    other_names: tuple[tuple[tuple[str, ...], str], ...]  # (given, family): former, aliases
    birth_date: dt.date | None
    gender: str
    postcode: str
    address: str
    nhs_number: str
    shielded: bool


@dataclass(frozen=True, repr=False)
class ReviewCase:
    """One review item side by side. Its repr names the item only, never the child."""

    item_id: str
    source: str
    row_number: int | None
    probability: float | None
    reason: str
    feed: FeedChild
    practitioner: FeedPractitioner
    candidate: CandidateChild

    def __repr__(self) -> str:
        return f"ReviewCase(item_id={self.item_id!r})"


@dataclass(frozen=True, repr=False)
class ComparedField:
    label: str
    feed: str
    index: str
    agreement: Agreement

    def __repr__(self) -> str:
        return f"ComparedField({self.label!r}, {self.agreement.name})"


# -- comparing ---------------------------------------------------------------------------


def _fold(text: str) -> str:
    """Case, accents, spaces and hyphens folded away: "Marsh-Whitley" == "marsh whitley"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if ch.isalnum())


def _parts(text: str) -> set[str]:
    return {_fold(p) for p in text.replace("-", " ").split() if _fold(p)}


def _given(feed: FeedChild, child: CandidateChild) -> Agreement:
    if not feed.given:
        return Agreement.MISSING
    first = _fold(feed.given[0])
    if child.given and first == _fold(child.given[0]):
        return Agreement.SAME
    known = {_fold(g) for g in child.given} | {_fold(g) for gs, _f in child.other_names for g in gs}
    return Agreement.CLOSE if first in known else Agreement.DIFFERENT


def _family(feed: FeedChild, child: CandidateChild) -> Agreement:
    if not feed.family:
        return Agreement.MISSING
    if _fold(feed.family) == _fold(child.family):
        return Agreement.SAME
    others = {_fold(f) for _g, f in child.other_names}
    if _fold(feed.family) in others or _parts(feed.family) & _parts(child.family):
        return Agreement.CLOSE
    return Agreement.DIFFERENT


def _birth(feed: FeedChild, child: CandidateChild) -> Agreement:
    a, b = feed.birth_date, child.birth_date
    if a is None or b is None:
        return Agreement.MISSING
    if a == b:
        return Agreement.SAME
    swapped = a.year == b.year and a.day == b.month and a.month == b.day
    one_off = sum((a.year != b.year, a.month != b.month, a.day != b.day)) == 1
    return Agreement.CLOSE if swapped or one_off else Agreement.DIFFERENT


def _postcode(feed: FeedChild, child: CandidateChild) -> Agreement:
    if not feed.postcode or not child.postcode:
        return Agreement.MISSING
    a, b = _fold(feed.postcode), _fold(child.postcode)
    if a == b:
        return Agreement.SAME
    outward = feed.postcode.split()[0].upper() == child.postcode.split()[0].upper()
    return Agreement.CLOSE if outward else Agreement.DIFFERENT


def _nhs(feed: FeedChild, child: CandidateChild) -> Agreement:
    if not feed.nhs_number or not child.nhs_number:
        return Agreement.MISSING
    same = _fold(feed.nhs_number) == _fold(child.nhs_number)
    return Agreement.SAME if same else Agreement.DIFFERENT


def compare(case: ReviewCase) -> tuple[ComparedField, ...]:
    """The fields the decision rests on, each with how far feed and index agree."""
    feed, child = case.feed, case.candidate
    family_index = child.family
    former = [f for _g, f in child.other_names if f and _fold(f) != _fold(child.family)]
    if former:
        family_index += " (formerly " + ", ".join(dict.fromkeys(former)) + ")"
    given_index = " ".join(child.given)
    aliases = [" ".join(g) for g, _f in child.other_names if g and not set(g) <= set(child.given)]
    if aliases:
        given_index += " (also known as " + ", ".join(dict.fromkeys(aliases)) + ")"
    return (
        ComparedField("Given names", " ".join(feed.given), given_index, _given(feed, child)),
        ComparedField("Family name", feed.family, family_index, _family(feed, child)),
        ComparedField(
            "Date of birth",
            format_date(feed.birth_date, long=True),
            format_date(child.birth_date, long=True),
            _birth(feed, child),
        ),
        ComparedField("Postcode", feed.postcode, child.postcode, _postcode(feed, child)),
        ComparedField(
            "NHS number",
            format_nhs_number(feed.nhs_number),
            format_nhs_number(child.nhs_number),
            _nhs(feed, child),
        ),
    )


_WHY = {
    "given name differs": "The given names differ, so the index would not link it by itself.",
    "more than one child is close": "More than one child in the index is close to this row.",
}
LEGEND = (
    "✓ Same · ≈ Close: a middle, former or known name, the same postcode area, or a date "
    "one part or a day-and-month swap away · ✗ Different · – Not given by one side"
)


def why(case: ReviewCase) -> str:
    """Where the row comes from and, in words, why the index asks a person."""
    where = f"From {case.source}" + (f", row {case.row_number}" if case.row_number else "") + "."
    reason = _WHY.get(case.reason)
    if reason is None and case.probability is not None:
        reason = f"The index finds this child likely ({case.probability:.0%}) but not certain."
    return f"{where} {reason or case.reason}".strip()


# -- the seams -------------------------------------------------------------------------------


class ReviewApi(Protocol):
    """The index's review calls (`cpdesk.net.review.ReviewClient`); blocking: run as jobs."""

    def queue(self) -> tuple[tuple[str, ...], int]: ...
    def case(self, item_id: str) -> ReviewCase: ...
    def decide(self, item_id: str, link: bool) -> tuple[str, ...]: ...


class ReviewView(Protocol):
    """What the review screen draws when told. It decides nothing."""

    def show_waiting(self, text: str) -> None: ...
    def show_case(
        self, case: ReviewCase, fields: Sequence[ComparedField], position: int, total: int
    ) -> None: ...
    def show_finished(self, text: str) -> None: ...
    def show_message(self, text: str) -> None: ...
    def set_busy(self, busy: bool) -> None: ...


@dataclass
class _Tally:
    linked: int = 0
    not_linked: int = 0
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        done = []
        if self.linked:
            done.append(f"{self.linked} linked")
        if self.not_linked:
            done.append(f"{self.not_linked} marked not this child")
        if self.skipped:
            done.append(f"{len(self.skipped)} skipped (still waiting)")
        return ("This session: " + ", ".join(done) + ".") if done else ""


class ReviewController:
    """The queue, the item on screen and the decisions; see the module docstring."""

    def __init__(self, api: ReviewApi, runner: Runner, session: Session, view: ReviewView) -> None:
        self._api = api
        self._runner = runner
        self._session = session
        self._view = view
        self._queue: list[str] = []
        self._case: ReviewCase | None = None
        self._total = 0
        self._more = False  # the index listed only the oldest of those waiting
        self._tally = _Tally()
        self._busy = False
        self._closed = False

    @property
    def allowed(self) -> bool:
        user = self._session.user
        return user is not None and user.role == INDEX_TEAM

    @property
    def current(self) -> ReviewCase | None:
        return self._case

    def open(self) -> None:
        """Fetch the queue (the index team only: the index refuses anyone else too)."""
        if not self.allowed or self._session.state is not SessionState.ACTIVE:
            return
        self._tally = _Tally()
        self._run(LOADING, self._api.queue, self._queued)

    def reload(self) -> None:
        """Fetch the queue again: skipped items come back."""
        self.open()

    def link(self) -> None:
        self._decide(True)

    def not_this_child(self) -> None:
        self._decide(False)

    def skip(self) -> None:
        """Next item; this one stays in the index's queue for later (or for a colleague)."""
        case = self._case
        if case is None or self._busy:
            return
        self._queue.remove(case.item_id)
        self._tally.skipped.append(case.item_id)
        self._view.show_message("Skipped: it stays in the queue.")
        self._next()

    def close(self) -> None:
        """The screen is going (back to search, a lock, a sign-out): forget everything."""
        self._closed = True
        self._queue.clear()
        self._case = None

    # -- steps ---------------------------------------------------------------------------

    def _queued(self, listed: tuple[tuple[str, ...], int]) -> None:
        ids, waiting = listed
        self._queue = list(ids)
        self._total = len(ids)
        self._more = waiting > len(ids)
        self._next()

    def _next(self) -> None:
        self._case = None
        if not self._queue:
            summary = self._tally.summary()
            head = MORE_WAITING if self._more else NONE_WAITING
            self._view.show_finished(head + (" " + summary if summary else ""))
            return
        item_id = self._queue[0]
        self._run("Loading the next link…", lambda: self._api.case(item_id), self._shown)

    def _shown(self, case: ReviewCase) -> None:
        self._case = case
        done = self._total - len(self._queue)
        self._view.show_case(case, compare(case), done + 1, self._total)

    def _decide(self, link: bool) -> None:
        case = self._case
        if case is None or self._busy:
            return
        item_id = case.item_id

        def decided(ids: tuple[str, ...]) -> None:
            gone = set(ids) | {item_id}
            self._queue = [i for i in self._queue if i not in gone]
            if link:
                self._tally.linked += 1
            else:
                self._tally.not_linked += 1
            more = len(gone) - 1
            also = f" ({more} more row{'s' if more > 1 else ''} about the same child too)"
            word = "Linked" if link else "Marked not this child"
            self._view.show_message(word + (also if more else "") + ".")
            self._next()

        self._run("Sending…", lambda: self._api.decide(item_id, link), decided)

    def _run(self, text: str, job: Callable[[], _T], then: Callable[[_T], None]) -> None:
        if self._closed:
            return
        self._busy = True
        self._view.set_busy(True)
        self._view.show_waiting(text)

        def done(result: _T) -> None:
            self._busy = False
            if self._closed:
                return
            self._view.set_busy(False)
            then(result)

        self._runner.submit(CHANNEL, job, done, self._failed)

    def _failed(self, exc: BaseException) -> None:
        self._busy = False
        if self._closed:
            return
        self._view.set_busy(False)
        if isinstance(exc, RequestRejected) and exc.code == "CONFLICT" and self._case:
            self._queue = [i for i in self._queue if i != self._case.item_id]
            self._view.show_message(TAKEN)
            self._next()
            return
        meaning = explain(exc, "review")
        if meaning.ends_session:
            self._session.server_expired()
            return
        if meaning.message:
            self._view.show_message(meaning.message)
            if self._case is None:
                self._view.show_finished(meaning.message)
