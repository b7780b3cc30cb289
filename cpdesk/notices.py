"""Notices about a child (issue 18): what one is, Qt-free and free of the network.

A notice is a short message (category + up to 1,000 characters) from a practitioner to
the people working with a child, as the index serves it (FHIR `Communication`,
`cpdesk.net.notices`). Child data: a Notice shows its id only in `repr`, and is never
logged, cached or written to disk. The inbox's decisions are `cpdesk.inbox`.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field

from cpdesk.errors import RequestRejected
from cpdesk.records import AccessReason

__all__ = [
    "INDEX_TEAM_ROLE",
    "MAX_NOTICE_TEXT",
    "TEAM_QUEUE_NOTE",
    "Category",
    "Notice",
    "check_notice_text",
    "count_text",
]

MAX_NOTICE_TEXT = 1000
INDEX_TEAM_ROLE = "index-team"  # the role whose users see the queue and shielded records
TEAM_QUEUE_NOTE = (
    "This child's details are shielded: your notice goes to the national index team, who "
    "pass it on to the people working with the child. You will not be told who they are."
)


class Category(enum.Enum):
    """The categories the index accepts (cpindex.notices.rules), with the reason for access
    each one suggests when its recipient opens the child's record."""

    ATTENDANCE = "attendance"
    SAFEGUARDING = "safeguarding-concern"
    REQUEST_CONTACT = "request-contact"
    OTHER = "other"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def suggested_reason(self) -> AccessReason | None:
        return _REASONS.get(self)


_LABELS = {
    Category.ATTENDANCE: "Attendance",
    Category.SAFEGUARDING: "Safeguarding concern",
    Category.REQUEST_CONTACT: "Request to make contact",
    Category.OTHER: "Other",
}
_REASONS = {
    Category.ATTENDANCE: AccessReason.HEALTH_CARE,
    Category.SAFEGUARDING: AccessReason.SAFEGUARDING,
    Category.REQUEST_CONTACT: AccessReason.SAFEGUARDING,
}


@dataclass(frozen=True)
class Notice:
    """One Communication as the inbox shows it. Child data: never in repr or logs."""

    id: str
    category: Category
    patient_id: str
    sent: dt.datetime | None = None
    sender: str = field(default="", repr=False)
    recipient: str = field(default="", repr=False)
    text: str = field(default="", repr=False)
    read: bool = False
    done: bool = False
    queued: bool = False  # in the index team's queue (a shielded child's notice)
    relayed: bool = False  # passed on by the index team
    asked_by: str = field(default="", repr=False)  # relayed: who sent it to the index team

    def __repr__(self) -> str:
        return f"Notice(id={self.id!r})"


def check_notice_text(text: str) -> str:
    """The trimmed text, or a RequestRejected the sender can act on (the index checks too)."""
    trimmed = text.strip()
    if not trimmed:
        raise RequestRejected("Write the notice: its text is empty.", code="MISSING_VALUE")
    if len(trimmed) > MAX_NOTICE_TEXT:
        raise RequestRejected(
            f"The notice is too long ({MAX_NOTICE_TEXT} characters at most).",
            code="INVALID_VALUE",
        )
    return trimmed


def count_text(unread: int | None) -> str:
    """What the status bar says: '' before the first count, else the number in words."""
    if unread is None:
        return ""
    if unread == 0:
        return "No new notices"
    return f"{unread} new notice{'s' if unread != 1 else ''}"
