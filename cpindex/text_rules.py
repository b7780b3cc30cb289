"""Character rules for text that is stored or parsed: one place, shared by every entry point.

`unsafe_character` finds what must never reach the audit trail or the store: C0/C1
controls (CR, LF, tab, NUL...), bidirectional overrides and isolates (U+202E...) and
zero-width or invisible characters (U+200B...), which make one text look like another.
`ascii_int` parses a whole number from ASCII digits only: `int()` also takes Arabic-Indic
digits and `str.isdigit()` is true for '²', which `int()` then refuses.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["ascii_int", "unsafe_character"]

_ASCII_INT = re.compile(r"[0-9]{1,9}")
# Format characters (Cf: bidi controls, zero-width joiners, BOM, soft hyphen...), controls
# (Cc), separators other than the space (Zl, Zp), unassigned and private-use code points.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cn", "Cs"})
_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u2800")  # Hangul fillers, braille blank


def unsafe_character(text: str) -> str | None:
    """The first refused character of `text` as U+XXXX, or None when it is all safe."""
    for ch in text:
        if unicodedata.category(ch) in _REFUSED_CATEGORIES or ch in _INVISIBLE:
            return f"U+{ord(ch):04X}"
    return None


def ascii_int(raw: str) -> int | None:
    """`raw` (surrounding spaces allowed) as an int when it is 1-9 ASCII digits, else None."""
    text = raw.strip(" ")
    return int(text) if _ASCII_INT.fullmatch(text) else None
