"""What a notice may hold: a known category and 1 to 1,000 characters of safe text.

The text follows the shared character rule (cpindex.text_rules: no controls, direction or
invisible characters) except that a line break is allowed: a notice is a short message.
"""

from __future__ import annotations

from typing import Any

from cpindex.errors import RequestError
from cpindex.text_rules import unsafe_character

__all__ = ["CATEGORIES", "MAX_TEXT", "check_category", "check_text"]

CATEGORIES = {
    "attendance": "Attendance",
    "safeguarding-concern": "Safeguarding concern",
    "request-contact": "Request to make contact",
    "other": "Other",
}
MAX_TEXT = 1000


def _bad(message: str, code: str = "INVALID_VALUE") -> RequestError:
    return RequestError(400, "value" if code == "INVALID_VALUE" else "required", code, message)


def check_text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _bad("Write the notice: its text is empty.", "MISSING_VALUE")
    text = value.strip()
    if len(text) > MAX_TEXT:
        raise _bad(f"The notice is too long ({MAX_TEXT} characters at most).")
    if unsafe_character(text.replace("\n", " ")):
        raise _bad("The notice may not hold tabs, control, direction or invisible characters.")
    return text


def check_category(value: Any) -> str:
    if not isinstance(value, str) or value not in CATEGORIES:
        raise _bad("Give the notice a category: " + ", ".join(CATEGORIES) + ".")
    return str(value)
