"""What a self-declaration may hold: a role, a start date, lead or not, a work phone and
optionally a work email, each checked before anything is stored.

Text follows the shared character rule (cpindex.text_rules) and, like a feed's text, may
not start with a formula character (= + @): the index's data ends up in spreadsheets. The
start date is a real date, not in the future (the UK's date: the user's "today") and no
earlier than a year before the child's birth (pre-birth work is real; more is a typo).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from cpindex.errors import RequestError
from cpindex.text_rules import unsafe_character

__all__ = ["MAX_ROLE", "Declaration", "check_declaration", "check_since", "uk_today"]

MAX_ROLE = 80  # practitioner.role
_FORMULA = ("=", "+", "@")
_PHONE = re.compile(r"\+?[0-9][0-9 ()-]{5,28}[0-9]")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_LONDON = ZoneInfo("Europe/London")
EARLIEST_BEFORE_BIRTH = dt.timedelta(days=366)


@dataclass(frozen=True)
class Declaration:
    role: str
    since: dt.date
    lead: bool
    phone: str
    email: str  # "" when not given


def _bad(message: str, code: str = "INVALID_VALUE") -> RequestError:
    return RequestError(400, "value" if code == "INVALID_VALUE" else "required", code, message)


def uk_today(now: dt.datetime) -> dt.date:
    return now.astimezone(_LONDON).date()


def _text(value: Any, name: str, maximum: int, *, required: bool) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise _bad(f"Give the {name}.", "MISSING_VALUE")
    text = value.strip()
    if len(text) > maximum:
        raise _bad(f"The {name} is too long ({maximum} characters at most).")
    if unsafe_character(text):
        raise _bad(f"The {name} may not hold tabs, control, direction or invisible characters.")
    if text.startswith(_FORMULA) and name != "work phone":
        raise _bad(f"The {name} may not start with =, + or @.")
    return text


def check_since(value: Any, today: dt.date, birth_date: dt.date) -> dt.date:
    """The start date: YYYY-MM-DD, not after `today`, not long before the child's birth."""
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise _bad("Give the date you started as YYYY-MM-DD.", "MISSING_VALUE")
    try:
        since = dt.date.fromisoformat(value)
    except ValueError:
        raise _bad("The start date is not a real date.") from None
    if since > today:
        raise _bad("The start date is in the future: give the day you started.")
    if since < birth_date - EARLIEST_BEFORE_BIRTH:
        raise _bad("The start date is long before the child was born: check the year.")
    return since


def _telecom(body: dict[str, Any]) -> tuple[Any, Any]:
    given = body.get("telecom", [])
    if not isinstance(given, list) or len(given) > 2:
        raise _bad("Give 'telecom' as a list: a work phone and, if you like, a work email.")
    found: dict[str, Any] = {}
    for item in given:
        system = item.get("system") if isinstance(item, dict) else None
        if system not in ("phone", "email") or system in found:
            raise _bad("Give 'telecom' as one phone and at most one email.")
        found[system] = item.get("value")
    return found.get("phone"), found.get("email")


def _extension(body: dict[str, Any], url: str) -> Any:
    extensions = body.get("extension", [])
    if not isinstance(extensions, list):
        raise _bad("Give 'extension' as a list.")
    values = [e for e in extensions if isinstance(e, dict) and e.get("url") == url]
    if len(values) > 1:
        raise _bad("Give each extension once.")
    return values[0] if values else None


def check_declaration(
    body: dict[str, Any], lead_url: str, today: dt.date, birth_date: dt.date
) -> Declaration:
    """The checked declaration from a PractitionerRole body (see docs/api.md)."""
    codes = body.get("code")
    try:
        role_value = codes[0]["text"] if isinstance(codes, list) and len(codes) == 1 else None
    except (TypeError, KeyError):
        role_value = None
    role = _text(role_value, "role", MAX_ROLE, required=True)
    if not any(ch.isalpha() for ch in role):
        raise _bad("Give the role in words (for example 'Youth worker').")
    period = body.get("period")
    since = check_since(
        period.get("start") if isinstance(period, dict) else None, today, birth_date
    )
    lead_ext = _extension(body, lead_url)
    lead = False if lead_ext is None else lead_ext.get("valueBoolean")
    if not isinstance(lead, bool):
        raise _bad("Say whether you are the lead professional (true or false).")
    raw_phone, raw_email = _telecom(body)
    phone = _text(raw_phone, "work phone", 30, required=True)
    if not _PHONE.fullmatch(phone):
        raise _bad("Give a work phone number of digits (spaces, brackets and + allowed).")
    email = _text(raw_email, "work email", 200, required=False)
    if email and not _EMAIL.fullmatch(email):
        raise _bad("The work email is not an email address.")
    return Declaration(role, since, lead, phone, email)
