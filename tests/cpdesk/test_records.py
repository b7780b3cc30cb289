import datetime as dt

from cpdesk.records import ChildSummary, age_on, format_nhs_number


def test_nhs_number_is_shown_3_3_4() -> None:
    assert format_nhs_number("9434765919") == "943 476 5919"
    assert format_nhs_number("943 476 5919") == "943 476 5919"
    assert format_nhs_number("123") == "123"


def test_age_counts_whole_years() -> None:
    assert age_on(dt.date(2010, 10, 22), dt.date(2026, 10, 21)) == 15
    assert age_on(dt.date(2010, 10, 22), dt.date(2026, 10, 22)) == 16


def test_repr_hides_child_data() -> None:
    child = ChildSummary(index_id="abc", given=("Zebedee",), family="Canary")
    assert "Zebedee" not in repr(child)
    assert "Canary" not in repr(child)
    assert "abc" in repr(child)
