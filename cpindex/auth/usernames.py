"""Which usernames are acceptable, and how a refused one is written to the audit.

Usernames are compared exactly (case and all), as they always were; what makes two
names look alike is refused instead: control, format (zero-width, bidi overrides),
separator, surrogate, private-use and unassigned characters, anywhere. A new account
must also be in NFKC form, so a full-width or ligature spelling of an existing name
cannot be made. A refused name at sign-in is the ordinary failure; the audit gets it
escaped (`\\u200b`), never the raw characters.
"""

from __future__ import annotations

import unicodedata

__all__ = ["MAX_LENGTH", "audit_name", "is_acceptable", "new_name_problem"]

MAX_LENGTH = 100
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})


def _refused(ch: str) -> bool:
    return unicodedata.category(ch) in _REFUSED_CATEGORIES or unicodedata.bidirectional(ch) in {
        "LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI",
    }  # fmt: skip


def is_acceptable(name: str) -> bool:
    """A name that can belong to an account (sign-in refuses the rest unchecked)."""
    return 0 < len(name) <= MAX_LENGTH and not any(_refused(ch) for ch in name)


def new_name_problem(name: str) -> str | None:
    """Why `name` cannot be given to a new account, or None."""
    if not name:
        return "the username must not be empty"
    if len(name) > MAX_LENGTH:
        return f"the username must be at most {MAX_LENGTH} characters"
    if any(_refused(ch) for ch in name):
        return "the username holds spaces, control, zero-width or direction characters"
    if unicodedata.normalize("NFKC", name) != name:
        return "the username must be written in its plain (NFKC) form"
    return None


def audit_name(name: str) -> str:
    """The name as the audit may hold it: refused characters escaped, at most 100 long."""
    if is_acceptable(name):
        return name
    escaped = "".join(f"\\u{ord(ch):04x}" if _refused(ch) else ch for ch in name)
    return escaped[:MAX_LENGTH]
