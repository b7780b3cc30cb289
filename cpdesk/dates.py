"""Date-of-birth input checks in the NHS design system's date-input pattern, without Qt.

The pattern is three numeric fields (Day, Month, Year), checked on submit, with one
message naming what is wrong ("Date of birth must include a month", "... must be a real
date", "... must be in the past") and the fields at fault highlighted. Users often paste
or type a whole date into Day, so `split_full_date` spreads "22/10/2010" over all three.
Kept free of Qt so the rules are tested without a display.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

__all__ = [
    "DAY",
    "MONTH",
    "YEAR",
    "DateCheck",
    "check_date_of_birth",
    "format_date",
    "split_full_date",
]

DAY = "day"
MONTH = "month"
YEAR = "year"

_LABEL = "Date of birth"
_FULL_DATE = re.compile(r"^\s*(\d{1,2})\s*[/.\- ]\s*(\d{1,2})\s*[/.\- ]\s*(\d{4})\s*$")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_ISO_DATE = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})\s*$")


@dataclass(frozen=True)
class DateCheck:
    """The outcome of a check: a date, or a message and the fields to highlight."""

    value: dt.date | None = field(default=None, repr=False)
    error: str = ""
    fields: frozenset[str] = frozenset()

    @property
    def ok(self) -> bool:
        return self.value is not None and not self.error


def split_full_date(text: str) -> tuple[str, str, str] | None:
    """'22/10/2010' (or 22-10-2010, 22.10.2010, 2010-10-22) -> ('22', '10', '2010')."""
    iso = _ISO_DATE.match(text)
    if iso:
        return iso.group(3), iso.group(2), iso.group(1)
    full = _FULL_DATE.match(text)
    if full:
        return full.group(1), full.group(2), full.group(3)
    return None


def _missing_message(missing: list[str]) -> str:
    if len(missing) == 1:
        return f"{_LABEL} must include a {missing[0]}"
    return f"{_LABEL} must include a {missing[0]} and {missing[1]}"


def check_date_of_birth(day: str, month: str, year: str, *, today: dt.date) -> DateCheck:
    """Check the three fields as the NHS pattern does, in its order of messages."""
    parts = {DAY: day.strip(), MONTH: month.strip(), YEAR: year.strip()}
    if not any(parts.values()):
        return DateCheck(error=f"Enter a {_LABEL.lower()}", fields=frozenset(parts))
    missing = [name for name, text in parts.items() if not text]
    if missing:
        return DateCheck(error=_missing_message(missing), fields=frozenset(missing))
    not_numbers = [name for name, text in parts.items() if not text.isdigit()]
    if not_numbers:
        return DateCheck(error=f"{_LABEL} must be a real date", fields=frozenset(not_numbers))
    if len(parts[YEAR]) != 4:
        return DateCheck(error=f"{_LABEL} year must include 4 numbers", fields=frozenset({YEAR}))
    try:
        value = dt.date(int(parts[YEAR]), int(parts[MONTH]), int(parts[DAY]))
    except ValueError:
        wrong = _wrong_fields(int(parts[DAY]), int(parts[MONTH]))
        return DateCheck(error=f"{_LABEL} must be a real date", fields=wrong)
    if value >= today:
        return DateCheck(error=f"{_LABEL} must be in the past", fields=frozenset(parts))
    if value.year < 1900:
        return DateCheck(error=f"{_LABEL} must be a real date", fields=frozenset({YEAR}))
    return DateCheck(value=value)


def _wrong_fields(day: int, month: int) -> frozenset[str]:
    """Which fields to highlight when the numbers make no date."""
    if not 1 <= month <= 12:
        return frozenset({MONTH}) if 1 <= day <= 31 else frozenset({DAY, MONTH})
    return frozenset({DAY})


def format_date(value: dt.date | None, *, long: bool = False) -> str:
    """'14 Mar 2011' (tables) or '14 March 2011' (record), as the NHS writes dates."""
    if value is None:
        return ""
    month = _MONTHS[value.month - 1]  # not strftime: Qt sets the C locale from the system
    return f"{value.day} {month if long else month[:3]} {value.year}"
