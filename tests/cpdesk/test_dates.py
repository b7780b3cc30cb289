import datetime as dt

import pytest

from cpdesk.dates import DAY, MONTH, YEAR, check_date_of_birth, split_full_date

TODAY = dt.date(2026, 11, 26)


def check(day: str, month: str, year: str):
    return check_date_of_birth(day, month, year, today=TODAY)


def test_a_real_date_passes() -> None:
    result = check("22", "10", "2010")
    assert result.ok
    assert result.value == dt.date(2010, 10, 22)
    assert result.error == ""


def test_leading_zeros_and_spaces_are_fine() -> None:
    assert check(" 02", "03 ", "2011").value == dt.date(2011, 3, 2)


def test_empty_asks_for_a_date() -> None:
    result = check("", "", "")
    assert result.error == "Enter a date of birth"
    assert result.fields == {DAY, MONTH, YEAR}


@pytest.mark.parametrize(
    ("parts", "message", "fields"),
    [
        (("22", "", "2010"), "Date of birth must include a month", {MONTH}),
        (("", "10", "2010"), "Date of birth must include a day", {DAY}),
        (("22", "10", ""), "Date of birth must include a year", {YEAR}),
        (("", "", "2010"), "Date of birth must include a day and month", {DAY, MONTH}),
        (("22", "", ""), "Date of birth must include a month and year", {MONTH, YEAR}),
    ],
)
def test_missing_parts_are_named(parts, message, fields) -> None:
    result = check(*parts)
    assert not result.ok
    assert result.error == message
    assert result.fields == fields


@pytest.mark.parametrize(
    ("parts", "fields"),
    [
        (("31", "2", "2010"), {DAY}),
        (("29", "2", "2011"), {DAY}),
        (("12", "13", "2010"), {MONTH}),
        (("40", "13", "2010"), {DAY, MONTH}),
        (("0", "5", "2010"), {DAY}),
        (("a", "5", "2010"), {DAY}),
        (("1", "5", "1850"), {YEAR}),
    ],
)
def test_impossible_dates_must_be_real(parts, fields) -> None:
    result = check(*parts)
    assert result.error == "Date of birth must be a real date"
    assert result.fields == fields


def test_leap_day_is_real() -> None:
    assert check("29", "2", "2012").ok


def test_two_digit_year_is_explained() -> None:
    result = check("22", "10", "10")
    assert result.error == "Date of birth year must include 4 numbers"
    assert result.fields == {YEAR}


@pytest.mark.parametrize("parts", [("26", "11", "2026"), ("1", "1", "2030")])
def test_today_or_later_must_be_in_the_past(parts) -> None:
    result = check(*parts)
    assert result.error == "Date of birth must be in the past"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("22/10/2010", ("22", "10", "2010")),
        (" 2/3/2011 ", ("2", "3", "2011")),
        ("22-10-2010", ("22", "10", "2010")),
        ("22.10.2010", ("22", "10", "2010")),
        ("22 10 2010", ("22", "10", "2010")),
        ("2010-10-22", ("22", "10", "2010")),
        ("22", None),
        ("22/10", None),
        ("22/10/10", None),
        ("hello", None),
    ],
)
def test_split_full_date(text, expected) -> None:
    assert split_full_date(text) == expected


def test_format_date() -> None:
    from cpdesk.dates import format_date

    assert format_date(dt.date(2011, 3, 4)) == "4 Mar 2011"
    assert format_date(dt.date(2011, 3, 14), long=True) == "14 March 2011"
    assert format_date(None) == ""
