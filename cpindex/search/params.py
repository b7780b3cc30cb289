"""Search parameters and the PDS rules for what makes a search acceptable.

Parsing is strict: an unknown parameter, a malformed date or gender, or a search below the
minimum is refused with a message saying what to change.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cpindex.errors import RequestError
from cpindex.search.keys import postcode_key
from cpindex.text_rules import ascii_int

__all__ = ["ALLOWED_PARAMETERS", "SearchRequest", "parse_search"]

ALLOWED_PARAMETERS = frozenset(
    {
        "family",
        "given",
        "birthdate",
        "gender",
        "address-postalcode",
        "_fuzzy-match",
        "_exact-match",
        "_max-results",
    }
)
GENDERS = ("male", "female", "other", "unknown")
_DATE = re.compile(r"^(eq|ge|le)?(\d{4}-\d{2}-\d{2})$")
_POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][0-9A-Z]?([0-9][A-Z]{2})?$")
_MAX_NAME = 100


@dataclass(frozen=True)
class SearchRequest:
    """A validated search. Child data: never logged."""

    family: str | None
    given: tuple[str, ...]
    birth_eq: dt.date | None
    birth_ge: dt.date | None
    birth_le: dt.date | None
    gender: str | None
    postcode: str | None  # upper case, no spaces; full or outward code
    fuzzy: bool
    exact: bool
    max_results: int

    def __repr__(self) -> str:
        return "SearchRequest(<redacted>)"

    @property
    def has_birthdate(self) -> bool:
        return self.birth_eq is not None or (
            self.birth_ge is not None and self.birth_le is not None
        )

    def audit_parameters(self) -> dict[str, object]:
        """The parameters as the audit trail keeps them."""
        return {
            "family": self.family,
            "given": list(self.given),
            "birthdate": self.birth_eq.isoformat() if self.birth_eq else None,
            "birthdate_ge": self.birth_ge.isoformat() if self.birth_ge else None,
            "birthdate_le": self.birth_le.isoformat() if self.birth_le else None,
            "gender": self.gender,
            "postcode": self.postcode,
            "fuzzy": self.fuzzy,
            "exact": self.exact,
            "max_results": self.max_results,
        }


def _invalid(message: str) -> RequestError:
    return RequestError(400, "value", "INVALID_VALUE", message)


def _one(items: Sequence[tuple[str, str]], name: str) -> str | None:
    values = [v for k, v in items if k == name]
    if len(values) > 1:
        raise _invalid(f"Give '{name}' only once.")
    return values[0] if values else None


def _bool(items: Sequence[tuple[str, str]], name: str) -> bool:
    raw = _one(items, name)
    if raw is None or raw == "":
        return False
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise _invalid(f"'{name}' must be true or false.")


def _name(raw: str, what: str) -> str:
    value = raw.strip()
    if not value:
        raise _invalid(f"The {what} must not be empty.")
    if len(value) > _MAX_NAME:
        raise _invalid(f"The {what} is too long (at most {_MAX_NAME} characters).")
    if any(ch.isdigit() or ch in '<>{}[]\\;=*%_"' or ord(ch) < 32 for ch in value):
        raise _invalid(f"The {what} may hold letters, spaces, hyphens and apostrophes only.")
    return value


def _date(raw: str) -> tuple[str, dt.date]:
    match = _DATE.match(raw.strip())
    if match is None:
        raise _invalid("Give the date of birth as YYYY-MM-DD (optionally eq, ge or le first).")
    try:
        value = dt.date.fromisoformat(match.group(2))
    except ValueError:
        raise _invalid("The date of birth is not a real date.") from None
    return match.group(1) or "eq", value


def parse_search(items: Sequence[tuple[str, str]]) -> SearchRequest:
    """Validate query parameters (as (name, value) pairs, repeats kept) into a request."""
    for key, _ in items:
        if key not in ALLOWED_PARAMETERS:
            raise RequestError(
                400,
                "structure",
                "ADDITIONAL_PROPERTIES",
                f"'{key[:40]}' is not a search parameter. Use: "
                + ", ".join(sorted(ALLOWED_PARAMETERS))
                + ".",
            )
    family_raw = _one(items, "family")
    family = _name(family_raw, "family name") if family_raw is not None else None
    given_values = [v for k, v in items if k == "given"]
    if len(given_values) > 5:
        raise _invalid("Give at most five given names.")
    given = tuple(part for value in given_values for part in _name(value, "given name").split())
    birth_eq = birth_ge = birth_le = None
    dates = [v for k, v in items if k == "birthdate"]
    if len(dates) > 2:
        raise _invalid("Give one date of birth, or a range as ge and le.")
    parsed = [_date(d) for d in dates]
    prefixes = sorted(p for p, _ in parsed)
    if len(parsed) == 1 and prefixes == ["eq"]:
        birth_eq = parsed[0][1]
    elif len(parsed) == 2 and prefixes == ["ge", "le"]:
        birth_ge = next(d for p, d in parsed if p == "ge")
        birth_le = next(d for p, d in parsed if p == "le")
        if birth_ge > birth_le:
            raise _invalid("The start of the date-of-birth range is after its end.")
    elif parsed:
        raise _invalid("Give one date of birth (eq), or a range as ge and le together.")
    gender = _one(items, "gender")
    if gender is not None:
        gender = gender.strip().lower()
        if gender not in GENDERS:
            raise _invalid("Gender must be one of male, female, other or unknown.")
    postcode = _one(items, "address-postalcode")
    if postcode is not None:
        postcode = postcode_key(postcode)
        if not _POSTCODE.match(postcode):
            raise _invalid("Give a UK postcode, in full (LS6 2QB) or its first half (LS6).")
    fuzzy = _bool(items, "_fuzzy-match")
    exact = _bool(items, "_exact-match")
    if fuzzy and exact:
        raise _invalid("Choose either _fuzzy-match or _exact-match, not both.")
    raw_max = _one(items, "_max-results")
    max_results = 10
    if raw_max is not None:
        max_results = ascii_int(raw_max) or 0  # ASCII only: '²'.isdigit() is true
        if not 1 <= max_results <= 50:
            raise _invalid("_max-results must be a whole number from 1 to 50.")
    request = SearchRequest(
        family, given, birth_eq, birth_ge, birth_le, gender, postcode, fuzzy, exact, max_results
    )
    _check_minimum(request)
    return request


def _check_minimum(req: SearchRequest) -> None:
    """PDS minimums: family + birthdate; fuzzy needs one of three richer combinations."""

    def refuse(message: str) -> RequestError:
        return RequestError(400, "invalid", "INVALID_SEARCH_DATA", message)

    has_family, has_given = req.family is not None, bool(req.given)
    has_gender, has_postcode = req.gender is not None, req.postcode is not None
    if not req.has_birthdate:
        raise refuse("Add a date of birth (or a range of dates of birth) to search.")
    if not req.fuzzy:
        if not has_family:
            raise refuse("Add a family name to search.")
        return
    combos = (
        has_given and has_family,
        has_family and has_gender and has_postcode,
        has_given and has_gender and has_postcode,
    )
    if any(combos):
        return
    if has_family or has_given:
        missing = "a given name" if has_family else "a family name"
        raise refuse(f"A fuzzy search needs more: add {missing}, or add gender and postcode.")
    raise refuse("A fuzzy search needs a given name and family name, with the date of birth.")
