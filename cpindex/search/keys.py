"""Name keys computed once at write time and again for each query.

`fold` removes case, accents and punctuation ("O'Brien-Smyth" -> "obriensmyth");
`phonetic` is Metaphone on the folded name, so "Smyth" and "Smith" share a key.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from functools import lru_cache

import jellyfish

__all__ = ["birth_int", "fold", "phonetic", "postcode_key", "swapped_birth_int"]


@lru_cache(maxsize=65536)
def fold(name: str) -> str:
    """Lower case ASCII letters only."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(ch for ch in decomposed.lower() if "a" <= ch <= "z")


@lru_cache(maxsize=65536)
def phonetic(name: str) -> str:
    """A Metaphone key of the folded name (empty for an empty name)."""
    folded = fold(name)
    if not folded:
        return ""
    key: str = jellyfish.metaphone(folded).upper()
    return key[:20] or folded[:20]


def postcode_key(postcode: str) -> str:
    """Upper case, no spaces: 'ls6 2qb' -> 'LS62QB'."""
    return "".join(postcode.split()).upper()


def birth_int(date: dt.date) -> int:
    return date.year * 10000 + date.month * 100 + date.day


def swapped_birth_int(date: dt.date) -> int | None:
    """The date with day and month exchanged, when that is another real date."""
    if date.day == date.month or date.day > 12:
        return None
    try:
        return birth_int(date.replace(month=date.day, day=date.month))
    except ValueError:
        return None
