"""Names with no letters the index can match are refused; no child is scored on a date
alone (issue 12, item 4: `family=-&given=-` listed every child born that day)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from cpindex.errors import RequestError
from cpindex.search.engine import search_children
from cpindex.search.keys import fold
from cpindex.search.params import SearchRequest, parse_search
from tests.cpindex.conftest import Api

OLIVIA_BORN = "2011-03-14"


@pytest.mark.parametrize(
    "names",
    [
        {"family": "-", "given": "-"},
        {"family": "'", "given": "'"},
        {"family": "王", "given": "伟"},
        {"family": "Иванов", "given": "Olivia"},
        {"family": "Smithfield", "given": "-"},
        {"family": "- '", "given": "Olivia"},
    ],
)
@pytest.mark.parametrize("fuzzy", [{}, {"_fuzzy-match": "true"}])
def test_a_name_without_latin_letters_is_refused(
    api: Api, names: dict[str, str], fuzzy: dict[str, str]
) -> None:
    status, body = api.search(**names, **fuzzy, birthdate=OLIVIA_BORN)
    assert status == 400, body
    issue = body["issue"][0]  # type: ignore[index]
    assert issue["details"]["coding"][0]["code"] == "INVALID_SEARCH_DATA"
    assert "Latin spelling on the child's NHS record" in issue["diagnostics"]


_ANY_NAME = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12
)


@settings(max_examples=300, deadline=None)
@given(_ANY_NAME, _ANY_NAME, st.booleans())
def test_an_accepted_search_always_has_letters_to_match(
    family: str, given_name: str, fuzzy: bool
) -> None:
    items = [("family", family), ("given", given_name), ("birthdate", OLIVIA_BORN)]
    if fuzzy:
        items.append(("_fuzzy-match", "true"))
    try:
        request = parse_search(items)
    except RequestError as error:
        assert error.status == 400
        return
    assert request.family is not None and fold(request.family)
    assert all(fold(g) for g in request.given)


_EMPTY = st.sampled_from(["-", "'", "王", "- '", "--", "・"])


def test_the_engine_never_scores_on_the_date_alone(seeded_engine: Engine) -> None:
    """Even a request built past the parser: with no letters, nobody is found."""

    @settings(max_examples=60, deadline=None)
    @given(_EMPTY, _EMPTY, st.booleans(), st.booleans())
    def check(family: str, given_name: str, fuzzy: bool, with_family: bool) -> None:
        request = SearchRequest(
            family if with_family else None, (given_name,), dt.date(2011, 3, 14), None, None,
            None, None, fuzzy, False, 10,
        )  # fmt: skip
        with seeded_engine.connect() as conn:
            assert search_children(conn, request) == []

    check()
