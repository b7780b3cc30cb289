"""A fake index for notices (cpdesk.inbox.NoticeApi), from memory, and synthetic notices.

Plain Python: the Qt-free inbox tests and the widget tests both use it. Like the index, a
read marks a notice read, done removes it from the in-progress list, and a count is of
unread notices not done.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from dataclasses import dataclass, field

from cpdesk.errors import NotFound
from cpdesk.notices import Category, Notice

__all__ = ["ATTENDANCE", "CANARY_TEXT", "QUEUED", "FakeNoticeApi"]

CANARY_TEXT = "Attended Quillbrook A&E 02:14, intoxicated, discharged to mother (Xyloquent)."
ATTENDANCE = Notice(
    id="101",
    category=Category.ATTENDANCE,
    patient_id="c-olivia",
    sent=dt.datetime(2026, 12, 1, 2, 20, tzinfo=dt.UTC),
    sender="Sam Tester, Testshire General A&E",
    recipient="Ravi Penhallow",
    text=CANARY_TEXT,
)
QUEUED = Notice(
    id="202",
    category=Category.REQUEST_CONTACT,
    patient_id="c-jayden",
    sent=dt.datetime(2026, 12, 1, 3, 5, tzinfo=dt.UTC),
    sender="Sam Tester, Testshire General A&E",
    recipient="Index team",
    text="Seen in A&E tonight; please put me in touch with his social worker (Vorpalith).",
    queued=True,
)


@dataclass
class FakeNoticeApi:
    """Answers like IndexClient's notice calls. `gate` makes calls wait."""

    mine: list[Notice] = field(default_factory=lambda: [ATTENDANCE])
    queue: list[Notice] = field(default_factory=list)
    calls: list[tuple[str, object]] = field(default_factory=list)
    fail_next: BaseException | None = None
    gate: threading.Event | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _maybe_fail(self) -> None:
        if self.gate is not None:
            self.gate.wait(10)
        if self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            raise exc

    def _find(self, notice_id: str) -> tuple[list[Notice], int]:
        for box in (self.mine, self.queue):
            for i, n in enumerate(box):
                if n.id == notice_id:
                    return box, i
        raise NotFound("That notice is no longer in your inbox.")

    def notice_count(self, *, queue: bool = False) -> int:
        self.calls.append(("count", queue))
        self._maybe_fail()
        with self._lock:
            box = self.queue if queue else self.mine
            return sum(1 for n in box if not n.read and not n.done)

    def notices(self, *, queue: bool = False) -> tuple[Notice, ...]:
        self.calls.append(("list", queue))
        self._maybe_fail()
        with self._lock:
            return tuple(n for n in (self.queue if queue else self.mine) if not n.done)

    def _update(self, notice_id: str, **changes: object) -> Notice:
        with self._lock:
            box, i = self._find(notice_id)
            box[i] = dataclasses.replace(box[i], **changes)  # type: ignore[arg-type]
            return box[i]

    def read_notice(self, notice_id: str) -> Notice:
        self.calls.append(("read", notice_id))
        self._maybe_fail()
        return self._update(notice_id, read=True)

    def notice_done(self, notice_id: str) -> Notice:
        self.calls.append(("done", notice_id))
        self._maybe_fail()
        return self._update(notice_id, read=True, done=True)

    def send_notice(
        self, patient_id: str, category: Category, text: str, recipients: tuple[str, ...] = ()
    ) -> int:
        self.calls.append(("send", (patient_id, category, text, recipients)))
        self._maybe_fail()
        return max(1, len(recipients))

    def relay_notice(self, notice_id: str, recipients: tuple[str, ...] = ()) -> int:
        self.calls.append(("relay", (notice_id, recipients)))
        self._maybe_fail()
        self._update(notice_id, read=True, done=True)
        return 1

    def answer_notice(self, notice_id: str, text: str) -> int:
        self.calls.append(("answer", (notice_id, text)))
        self._maybe_fail()
        self._update(notice_id, read=True, done=True)
        return 1

    def named(self, name: str) -> list[object]:
        return [args for n, args in self.calls if n == name]
