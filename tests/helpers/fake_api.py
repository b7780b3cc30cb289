"""A fake index API and synthetic records, for controller and widget tests (no network).

Plain Python: the Qt-free controller tests use it as well as the widget tests.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field

from cpdesk.cache.store import CachedBundle, OfflineView
from cpdesk.errors import SignInFailed
from cpdesk.involvements import SelfDeclaration
from cpdesk.records import (
    AccessReason,
    Carer,
    ChildRecord,
    ChildSummary,
    Contact,
    Involvement,
    Organisation,
    SearchQuery,
    SearchResult,
    UserInfo,
)

USER = UserInfo("nurse.test", "Sam Tester", "practitioner", "Testshire General A&E")

OLIVIA = ChildSummary(
    index_id="c-olivia",
    nhs_number="9434765919",
    given=("Olivia", "Rose"),
    family="Zebedeeson",
    birthdate=dt.date(2011, 3, 14),
    gender="female",
    postcode="LS6 2QB",
    score=0.97,
)
JAYDEN = ChildSummary(
    index_id="c-jayden",
    given=("Jayden",),
    family="Quillfeather",
    birthdate=dt.date(2012, 7, 9),
    gender="male",
    score=1.0,
    shielded=True,
)
OLIVIA_RECORD = ChildRecord(
    summary=OLIVIA,
    address=("12 Larkspur Row", "Leeds", "LS6 2QB"),
    carers=(
        Carer("Hannah Zebedeeson", "Mother", True, Contact("07700 900123", "h.z@example.org")),
        Carer("Marcus Zebedeeson", "Father", True, Contact("07700 900456", "")),
    ),
    school=Organisation("Brambleford Primary School", "school", Contact("0113 496 0001", "")),
    gp=Organisation("Larkspur Medical Practice", "gp-practice", Contact("0113 496 0002", "")),
    involvements=(
        Involvement(
            "Dana Whitcombe",
            "School nurse",
            "Leeds Community Healthcare",
            Contact("0113 496 0003", "dana.w@example.nhs.uk"),
            dt.date(2024, 9, 2),
            False,
        ),
        Involvement(
            "Ravi Penhallow",
            "Social worker",
            "Leeds Children's Services",
            Contact("0113 496 0004", "ravi.p@example.gov.uk"),
            dt.date(2025, 1, 15),
            True,
        ),
    ),
    caf=True,
)
JAYDEN_RECORD = ChildRecord(
    summary=JAYDEN, index_team_contact="Contact the index team on 0300 000 0000"
)


@dataclass(frozen=True)
class FakeSignIn:
    user: UserInfo


@dataclass
class FakeApi:
    """Answers like IndexClient, from memory. `gate` makes calls wait (a stalling server)."""

    password: str = "right"
    results: tuple[ChildSummary, ...] = (OLIVIA, JAYDEN)
    records: dict[str, ChildRecord] = field(
        default_factory=lambda: {"c-olivia": OLIVIA_RECORD, "c-jayden": JAYDEN_RECORD}
    )
    fail_next: BaseException | None = None
    gate: threading.Event | None = None
    calls: list[tuple[str, object]] = field(default_factory=list)
    expires: dt.datetime | None = None
    cancelled: int = 0

    def _maybe_fail(self) -> None:
        if self.gate is not None:
            self.gate.wait(10)
        if self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            raise exc

    def sign_in(self, username: str, password: str, otp: str) -> object:
        self.calls.append(("sign_in", username))
        self._maybe_fail()
        if password != self.password:
            raise SignInFailed()

        return FakeSignIn(USER)

    def unlock(self, password: str) -> None:
        self.calls.append(("unlock", None))
        self._maybe_fail()
        if password != self.password:
            raise SignInFailed()

    def sign_out(self) -> None:
        self.calls.append(("sign_out", None))

    def search(self, query: SearchQuery) -> SearchResult:
        self.calls.append(("search", query))
        self._maybe_fail()
        return SearchResult(self.results)

    def record(self, index_id: str, reason: AccessReason, reason_text: str = "") -> ChildRecord:
        self.calls.append(("record", (index_id, reason, reason_text)))
        self._maybe_fail()
        return self.records[index_id]

    def record_bundle(
        self, index_id: str, reason: AccessReason, reason_text: str = ""
    ) -> tuple[ChildRecord, bytes]:
        """The record, and as its "Bundle" its id (`read_fake_bundle` maps it back)."""
        return self.record(index_id, reason, reason_text), index_id.encode()

    def read_bundle(self, content: bytes, index_id: str) -> ChildRecord:
        """What `fhir.parse_bundle_bytes` is to the real client."""
        return self.records[content.decode()]

    def report_offline_view(self, index_id: str, viewed_at: dt.datetime) -> None:
        self.calls.append(("offline_view", (index_id, viewed_at)))
        self._maybe_fail()

    def declare_involvement(self, index_id: str, declaration: SelfDeclaration) -> Involvement:
        self.calls.append(("declare", (index_id, declaration)))
        self._maybe_fail()
        number = len(self.records[index_id].involvements) + 1
        return Involvement(
            USER.display_name, declaration.role, USER.organisation,
            Contact(declaration.phone, declaration.email), declaration.since,
            declaration.lead, f"{index_id}-involvement-{number}", "Self-declared", mine=True,
        )  # fmt: skip

    def end_involvement(self, role_id: str) -> None:
        self.calls.append(("end", role_id))
        self._maybe_fail()

    def cancel_all(self) -> None:
        self.cancelled += 1
        if self.gate is not None:
            self.gate.set()

    @property
    def absolute_expires_at(self) -> dt.datetime | None:
        return self.expires


class MemoryCache:
    """A RecordCache in a dict, stored at a fixed time (the encrypted one has its own tests)."""

    STORED = dt.datetime(2026, 11, 26, 14, 2, tzinfo=dt.UTC)

    def __init__(self) -> None:
        self.records: dict[str, CachedBundle] = {}
        self.views: list[OfflineView] = []
        self.purged = 0
        self.closed = 0
        self.swept = 0

    def put(self, index_id: str, bundle: bytes) -> None:
        self.records[index_id] = CachedBundle(index_id, bundle, self.STORED)

    def get(self, index_id: str) -> CachedBundle | None:
        return self.records.get(index_id)

    def recent(self) -> list[CachedBundle]:
        return list(reversed(self.records.values()))

    def sweep(self) -> int:
        self.swept += 1
        return 0

    def note_offline_view(self, index_id: str) -> None:
        self.views.append(OfflineView(len(self.views) + 1, index_id, self.STORED))

    def pending_views(self) -> list[OfflineView]:
        return list(self.views)

    def views_sent(self, ids: list[int]) -> None:
        self.views = [v for v in self.views if v.id not in ids]

    def purge(self) -> None:
        self.records.clear()
        self.purged += 1

    def close(self) -> None:
        self.closed += 1
