""" "I am working with this child": what a practitioner declares, checked, and how the open
record changes when a declaration is saved or ended. Plain Python (no Qt, no HTTP).

The index is the authority (cpindex.selfdecl.rules); these checks give the same answer
at once, in the dialog, before anything is sent. Name and organisation are never asked:
the index takes them from the signed-in account.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import unicodedata
from typing import NamedTuple

from cpdesk.records import ChildRecord, Involvement

__all__ = [
    "MAX_ROLE",
    "SelfDeclaration",
    "check_declaration",
    "with_involvement",
    "without_involvement",
]

MAX_ROLE = 80
_PHONE = re.compile(r"\+?[0-9][0-9 ()-]{5,28}[0-9]")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}")
_REFUSED = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cn", "Cs"})  # as cpindex.text_rules


class SelfDeclaration(NamedTuple):
    """What the dialog sends: role, start date, lead professional, work phone and email."""

    role: str
    since: dt.date
    lead: bool
    phone: str
    email: str = ""

    def __repr__(self) -> str:  # the user's own details, but kept out of logs all the same
        return f"SelfDeclaration(lead={self.lead})"


def _unsafe(text: str) -> bool:
    return any(unicodedata.category(ch) in _REFUSED for ch in text)


def check_declaration(
    role: str, since: dt.date | None, phone: str, email: str, today: dt.date
) -> tuple[str, str]:
    """("", "") when it can be sent, else (the field at fault, a message saying what to do).

    Fields: "role", "since", "phone", "email"."""
    role, phone, email = role.strip(), phone.strip(), email.strip()
    if not role or not any(ch.isalpha() for ch in role):
        return "role", "Give your role in words, for example Youth worker."
    if len(role) > MAX_ROLE or _unsafe(role) or role.startswith(("=", "+", "@")):
        return "role", f"The role must be plain text of at most {MAX_ROLE} characters."
    if since is None:
        return "since", "Give the date you started working with the child."
    if since > today:
        return "since", "The start date is in the future: give the day you started."
    if not _PHONE.fullmatch(phone):
        return "phone", "Give your work phone number (digits, spaces, brackets and +)."
    if email and (not _EMAIL.fullmatch(email) or len(email) > 200 or _unsafe(email)):
        return "email", "The work email is not an email address (or leave it empty)."
    return "", ""


def with_involvement(record: ChildRecord, involvement: Involvement) -> ChildRecord:
    """The record with the user's new declaration added (as the index now serves it)."""
    kept = tuple(i for i in record.involvements if i.role_id != involvement.role_id)
    return dataclasses.replace(record, involvements=(*kept, involvement))


def without_involvement(record: ChildRecord, role_id: str) -> ChildRecord:
    """The record without an ended declaration (the others keep their ids)."""
    kept = tuple(i for i in record.involvements if i.role_id != role_id)
    return dataclasses.replace(record, involvements=kept)
