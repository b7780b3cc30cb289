"""NHS-number-style identifiers: ten digits whose last is a modulus-11 check digit.

Generated numbers start 990-998 and fixed test children use 999 (the NHS test range);
no real NHS numbers are issued with these prefixes.
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["check_digit", "is_valid", "synthetic_numbers"]

_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)


def check_digit(first_nine: str) -> int | None:
    """The modulus-11 check digit for nine digits, or None when none exists (remainder 1)."""
    total = sum(int(d) * w for d, w in zip(first_nine, _WEIGHTS, strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def is_valid(number: str) -> bool:
    """True for ten digits with a correct modulus-11 check digit."""
    if len(number) != 10 or not number.isdigit():
        return False
    return check_digit(number[:9]) == int(number[9])


def synthetic_numbers(offset: int) -> Iterator[str]:
    """Distinct valid numbers in 990 000 000x-998 999 999x, in an order set by `offset`.

    Walks the seven free digits with a step coprime to 10**7, so no number repeats.
    """
    space = 9_000_000
    step = 7_919_011  # coprime with 9_000_000
    i = 0
    while True:
        n = (offset + i * step) % space
        i += 1
        first_nine = f"{990_000_000 + n:09d}"
        check = check_digit(first_nine)
        if check is not None:
            yield first_nine + str(check)
