"""The child-index domain as frozen dataclasses: what the UI shows and the cache stores.

Plain Python, no Qt and no FHIR: `net/fhir.py` converts at the edge. Every class that can
hold child data hides it from `repr`, so an accidental log line or traceback shows only
the opaque index id. `LOGGABLE_FIELDS` is the allowlist for anything that is logged.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field

__all__ = [
    "LOGGABLE_FIELDS",
    "AccessReason",
    "Carer",
    "ChildRecord",
    "ChildSummary",
    "Contact",
    "Involvement",
    "Organisation",
    "SearchQuery",
    "SearchResult",
    "UserInfo",
    "age_on",
    "format_nhs_number",
]

# Fields that may appear in a log line. Everything else is child data.
LOGGABLE_FIELDS = frozenset({"index_id", "count", "elapsed_ms", "error_class", "request_id"})


class AccessReason(enum.Enum):
    """Reasons for access the index accepts (header X-Access-Reason)."""

    EMERGENCY_CARE = "emergency-care"
    SAFEGUARDING = "safeguarding"
    HEALTH_CARE = "health-care"
    EDUCATION_WELFARE = "education-welfare"
    SOCIAL_CARE = "social-care"
    YOUTH_SUPPORT = "youth-support"
    OTHER = "other"

    @property
    def label(self) -> str:
        return _REASON_LABELS[self]


_REASON_LABELS = {
    AccessReason.EMERGENCY_CARE: "Emergency care",
    AccessReason.SAFEGUARDING: "Safeguarding concern",
    AccessReason.HEALTH_CARE: "Health care",
    AccessReason.EDUCATION_WELFARE: "Education welfare",
    AccessReason.SOCIAL_CARE: "Social care",
    AccessReason.YOUTH_SUPPORT: "Youth support",
    AccessReason.OTHER: "Other (say why)",
}


@dataclass(frozen=True)
class UserInfo:
    """The signed-in practitioner (not child data)."""

    username: str
    display_name: str
    role: str
    organisation: str


@dataclass(frozen=True)
class SearchQuery:
    """What the user searched for. Child data: never logged, never stored."""

    family: str = field(default="", repr=False)
    given: tuple[str, ...] = field(default=(), repr=False)
    birthdate: dt.date | None = field(default=None, repr=False)
    birthdate_from: dt.date | None = field(default=None, repr=False)
    birthdate_to: dt.date | None = field(default=None, repr=False)
    gender: str = field(default="", repr=False)
    postcode: str = field(default="", repr=False)
    fuzzy: bool = True
    max_results: int = 10


@dataclass(frozen=True)
class Contact:
    """Phone and email for a person or organisation."""

    phone: str = field(default="", repr=False)
    email: str = field(default="", repr=False)


@dataclass(frozen=True)
class ChildSummary:
    """One search result row."""

    index_id: str
    nhs_number: str = field(default="", repr=False)
    given: tuple[str, ...] = field(default=(), repr=False)
    family: str = field(default="", repr=False)
    birthdate: dt.date | None = field(default=None, repr=False)
    gender: str = field(default="", repr=False)
    postcode: str = field(default="", repr=False)
    score: float = 1.0
    shielded: bool = False

    @property
    def display_name(self) -> str:
        return " ".join([*self.given, self.family]).strip()

    @property
    def postcode_district(self) -> str:
        """The outward code only ('LS1 4AP' -> 'LS1'): enough to tell children apart."""
        return self.postcode.split(" ")[0] if self.postcode else ""


@dataclass(frozen=True)
class SearchResult:
    """A whole search answer: the rows ranked best first."""

    children: tuple[ChildSummary, ...] = ()


@dataclass(frozen=True)
class Carer:
    name: str = field(repr=False)
    relationship: str = field(default="", repr=False)
    parental_responsibility: bool = False
    contact: Contact = field(default_factory=Contact, repr=False)
    address: str = field(default="", repr=False)


@dataclass(frozen=True)
class Organisation:
    name: str = field(repr=False)
    kind: str = ""  # "school" or "gp-practice"
    contact: Contact = field(default_factory=Contact, repr=False)


@dataclass(frozen=True)
class Involvement:
    practitioner: str = field(repr=False)
    role: str = field(default="", repr=False)
    organisation: str = field(default="", repr=False)
    contact: Contact = field(default_factory=Contact, repr=False)
    since: dt.date | None = field(default=None, repr=False)
    lead_professional: bool = False
    role_id: str = ""  # the PractitionerRole id, "<index id>-involvement-N"
    source: str = field(default="", repr=False)  # "Self-declared", a feed's source, or ""
    mine: bool = False  # self-declared by the signed-in user: they may end it


@dataclass(frozen=True)
class ChildRecord:
    """A child's whole index record as one `$everything` call returns it."""

    summary: ChildSummary
    address: tuple[str, ...] = field(default=(), repr=False)
    carers: tuple[Carer, ...] = field(default=(), repr=False)
    school: Organisation | None = field(default=None, repr=False)
    gp: Organisation | None = field(default=None, repr=False)
    involvements: tuple[Involvement, ...] = field(default=(), repr=False)
    caf: bool = False
    index_team_contact: str = field(default="", repr=False)
    team_view: bool = False  # a shielded child's full record: the index team's view only

    @property
    def index_id(self) -> str:
        return self.summary.index_id

    @property
    def shielded(self) -> bool:
        return self.summary.shielded


def format_nhs_number(value: str) -> str:
    """'9434765919' -> '943 476 5919' (the NHS's 3-3-4 display)."""
    digits = "".join(ch for ch in value if ch.isdigit())
    if len(digits) != 10:
        return value
    return f"{digits[:3]} {digits[3:6]} {digits[6:]}"


def age_on(birthdate: dt.date, today: dt.date) -> int:
    """Age in whole years on `today`."""
    years = today.year - birthdate.year
    if (today.month, today.day) < (birthdate.month, birthdate.day):
        years -= 1
    return years
