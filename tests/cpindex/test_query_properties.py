"""Property tests for query parsing: any input is either a valid search or a 400 with a
message; valid searches keep what was asked; spacing and case of postcodes do not matter."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from cpindex.errors import RequestError
from cpindex.search.params import ALLOWED_PARAMETERS, SearchRequest, parse_search

_KEYS = st.sampled_from([*sorted(ALLOWED_PARAMETERS), "foo", "_count", "birthDate", ""])
_NAMES = st.from_regex(r"\A[A-Za-z][A-Za-z' -]{0,30}[A-Za-z]\Z")
_DATES = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2030, 12, 31))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_KEYS, st.text(max_size=40)), max_size=8))
def test_any_input_is_a_search_or_a_clear_400(items: list[tuple[str, str]]) -> None:
    try:
        request = parse_search(items)
    except RequestError as error:
        assert error.status == 400
        assert error.pds_code in {"INVALID_VALUE", "ADDITIONAL_PROPERTIES", "INVALID_SEARCH_DATA"}
        assert error.diagnostics.endswith(".")
        return
    assert isinstance(request, SearchRequest)
    assert request.has_birthdate
    assert 1 <= request.max_results <= 50


@settings(max_examples=200, deadline=None)
@given(_NAMES, st.lists(_NAMES, min_size=0, max_size=2), _DATES, st.sampled_from(["", "eq"]))
def test_valid_searches_keep_what_was_asked(
    family: str, given_names: list[str], born: dt.date, prefix: str
) -> None:
    items = [("family", family), ("birthdate", prefix + born.isoformat())]
    items += [("given", g) for g in given_names]
    request = parse_search(items)
    assert request.family == family.strip()
    assert request.birth_eq == born
    assert request.given == tuple(p for g in given_names for p in g.split())
    params = request.audit_parameters()
    assert params["birthdate"] == born.isoformat() and params["family"] == request.family


@settings(max_examples=200, deadline=None)
@given(_DATES, _DATES)
def test_ranges_are_ordered_or_refused(a: dt.date, b: dt.date) -> None:
    items = [("family", "Smith"), ("birthdate", f"ge{a}"), ("birthdate", f"le{b}")]
    try:
        request = parse_search(items)
    except RequestError as error:
        assert a > b and error.status == 400
        return
    assert request.birth_ge == a and request.birth_le == b


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["LS6 2QB", "M14 5RL", "BS5 9QX", "SW1A 1AA", "LS6", "EC1A"]),
    st.lists(st.sampled_from([" ", "  "]), max_size=3),
    st.booleans(),
)
def test_postcode_spacing_and_case_do_not_matter(code: str, pads: list[str], lower: bool) -> None:
    raw = "".join(pads) + (code.lower() if lower else code) + "".join(pads)
    base = [("family", "Smith"), ("birthdate", "2011-03-14")]
    assert (
        parse_search([*base, ("address-postalcode", raw)]).postcode
        == parse_search([*base, ("address-postalcode", code)]).postcode
        == code.replace(" ", "")
    )
