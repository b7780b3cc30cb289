"""PDS search rules: minimums, fuzzy and exact matching, too many matches, bounds."""

from __future__ import annotations

from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome

from cpindex.seed.demo import fixed_child
from tests.cpindex.conftest import Api

OLIVIA = fixed_child("Smithfield", "Olivia")
WILLIAM = fixed_child("Ashworth", "William")


def ids(body: dict[str, Any]) -> list[str]:
    Bundle.model_validate(body)
    return [e["resource"]["id"] for e in body.get("entry", [])]


def outcome(body: dict[str, Any]) -> tuple[str, str, str]:
    OperationOutcome.model_validate(body)
    issue = body["issue"][0]
    return issue["code"], issue["details"]["coding"][0]["code"], issue["diagnostics"]


def test_minimum_search_is_family_and_birthdate(api: Api) -> None:
    status, body = api.search(family="Smithfield", birthdate="2011-03-14")
    assert status == 200 and ids(body) == [OLIVIA.index_id]
    assert body["entry"][0]["search"]["score"] == 1.0
    status, body = api.search(family="Smithfield")
    assert status == 400
    code, pds, message = outcome(body)
    assert (code, pds) == ("invalid", "INVALID_SEARCH_DATA") and "date of birth" in message
    status, body = api.search(given="Olivia", birthdate="2011-03-14")
    assert status == 400 and "family name" in outcome(body)[2]


@pytest.mark.parametrize(
    ("params", "hint"),
    [
        ({"family": "Smithfield", "birthdate": "2011-03-14"}, "given name"),
        ({"given": "Olivia", "birthdate": "2011-03-14"}, "family name"),
        ({"given": "Olivia", "birthdate": "2011-03-14", "gender": "female"}, "postcode"),
        ({"family": "Smithfield", "birthdate": "2011-03-14", "gender": "female"}, "postcode"),
    ],
)
def test_fuzzy_minimums_say_what_to_add(api: Api, params: dict[str, str], hint: str) -> None:
    status, body = api.search(**params, **{"_fuzzy-match": "true"})
    assert status == 400
    _code, pds, message = outcome(body)
    assert pds == "INVALID_SEARCH_DATA" and hint in message


def test_fuzzy_accepted_combinations(api: Api) -> None:
    fuzzy = {"_fuzzy-match": "true"}
    assert OLIVIA.index_id in ids(
        api.search(given="Olivia", family="Smithfield", birthdate="2011-03-14", **fuzzy)[1]
    )
    assert OLIVIA.index_id in ids(
        api.search(
            family="Smithfield",
            birthdate="2011-03-14",
            gender="female",
            **{"address-postalcode": "LS6 2QB"},
            **fuzzy,
        )[1]
    )
    assert OLIVIA.index_id in ids(
        api.search(
            given="Olivia",
            birthdate="2011-03-14",
            gender="female",
            **{"address-postalcode": "ls62qb"},
            **fuzzy,
        )[1]
    )


@pytest.mark.parametrize(
    "family", ["Smithfeild", "Smithfiled", "Smythfield", "Smithfied", "Smiithfield"]
)
def test_fuzzy_finds_misspellings(api: Api, family: str) -> None:
    status, body = api.search(
        given="Olivia", family=family, birthdate="2011-03-14", **{"_fuzzy-match": "true"}
    )
    assert status == 200 and ids(body)[0] == OLIVIA.index_id
    assert 0 < body["entry"][0]["search"]["score"] < 1


def test_fuzzy_finds_misspelt_given_name(api: Api) -> None:
    _status, body = api.search(
        given="Olivai", family="Smithfield", birthdate="2011-03-14", **{"_fuzzy-match": "true"}
    )
    assert ids(body)[0] == OLIVIA.index_id


@pytest.mark.parametrize("given", ["Bill", "Billy", "Will", "Liam"])
def test_fuzzy_finds_nicknames(api: Api, given: str) -> None:
    status, body = api.search(
        given=given, family="Ashworth", birthdate="2013-04-07", **{"_fuzzy-match": "true"}
    )
    assert status == 200 and ids(body)[0] == WILLIAM.index_id


def test_fuzzy_finds_previous_name(api: Api) -> None:
    _status, body = api.search(
        given="William", family="Pickering", birthdate="2013-04-07", **{"_fuzzy-match": "true"}
    )
    assert ids(body)[0] == WILLIAM.index_id
    assert body["entry"][0]["search"]["score"] < 1
    names = body["entry"][0]["resource"]["name"]
    assert names[0]["use"] == "official" and {"old", "nickname"} <= {n["use"] for n in names}


def test_fuzzy_tolerates_swapped_day_and_month(api: Api) -> None:
    _status, body = api.search(
        given="William", family="Ashworth", birthdate="2013-07-04", **{"_fuzzy-match": "true"}
    )
    assert ids(body)[0] == WILLIAM.index_id
    assert body["entry"][0]["search"]["score"] < 1


def test_non_fuzzy_does_not_swap_dates_or_forgive_spelling(api: Api) -> None:
    assert ids(api.search(family="Ashworth", birthdate="2013-07-04")[1]) == []
    assert ids(api.search(family="Smithfeild", birthdate="2011-03-14")[1]) == []


def test_exact_match_wants_exact_values(api: Api) -> None:
    exact = {"_exact-match": "true"}
    assert ids(
        api.search(family="Smithfield", given="Olivia", birthdate="2011-03-14", **exact)[1]
    ) == [OLIVIA.index_id]
    assert (
        ids(api.search(family="Smithfeild", given="Olivia", birthdate="2011-03-14", **exact)[1])
        == []
    )
    assert (
        ids(api.search(family="Ashworth", given="Bill", birthdate="2013-04-07", **exact)[1]) == []
    )
    assert (
        ids(api.search(family="Ashworth", given="William", birthdate="2013-07-04", **exact)[1])
        == []
    )
    assert ids(api.search(family="Pickering", birthdate="2013-04-07", **exact)[1]) == []
    assert ids(api.search(family="smithfield", birthdate="2011-03-14", **exact)[1]) == []


def test_birthdate_range(api: Api) -> None:
    status, body = api.search(family="Smithfield", birthdate=["ge2011-01-01", "le2014-12-31"])
    assert status == 200 and set(ids(body)) == {
        OLIVIA.index_id,
        fixed_child("Smithfield", "Noah").index_id,
    }
    status, body = api.search(family="Smithfield", birthdate=["ge2011-01-01", "le2011-12-31"])
    assert ids(body) == [OLIVIA.index_id]
    status, body = api.search(family="Smithfield", birthdate=["ge2012-01-01", "le2011-12-31"])
    assert status == 400


def test_too_many_matches_returns_no_list(api: Api) -> None:
    status, body = api.search(family="Smith", birthdate=["ge2008-01-01", "le2026-12-31"])
    assert status == 200
    code, pds, _message = outcome(body)
    assert (code, pds) == ("multiple-matches", "TOO_MANY_MATCHES")
    assert body["issue"][0]["severity"] == "information"
    assert "entry" not in body and body["resourceType"] == "OperationOutcome"


def test_max_results_bounds(api: Api) -> None:
    rng = ["ge2008-01-01", "le2026-12-31"]
    status, body = api.search(family="Smithfield", birthdate=rng, **{"_max-results": "1"})
    assert status == 200 and outcome(body)[1] == "TOO_MANY_MATCHES"
    status, body = api.search(family="Smithfield", birthdate=rng, **{"_max-results": "2"})
    assert status == 200 and len(ids(body)) == 2
    for bad in ("0", "51", "ten", "-1", "1.5"):
        status, body = api.search(family="Smithfield", birthdate=rng, **{"_max-results": bad})
        assert status == 400 and outcome(body)[1] == "INVALID_VALUE"
    status, body = api.search(family="Smith", birthdate=rng, **{"_max-results": "50"})
    assert status == 200


def test_results_ranked_by_score(api: Api) -> None:
    _status, body = api.search(
        given="Olivia",
        family="Smithfield",
        birthdate=["ge2008-01-01", "le2026-12-31"],
        **{"_fuzzy-match": "true"},
    )
    scores = [e["search"]["score"] for e in body["entry"]]
    assert scores == sorted(scores, reverse=True) and scores[0] == 1.0


@pytest.mark.parametrize(
    ("params", "pds"),
    [
        ({"family": "Smithfield", "birthdate": "14/03/2011"}, "INVALID_VALUE"),
        ({"family": "Smithfield", "birthdate": "2011-02-30"}, "INVALID_VALUE"),
        ({"family": "Smithfield", "birthdate": "2011-03-14", "gender": "f"}, "INVALID_VALUE"),
        (
            {"family": "Smithfield", "birthdate": "2011-03-14", "colour": "red"},
            "ADDITIONAL_PROPERTIES",
        ),
        (
            {
                "family": "Smithfield",
                "birthdate": "2011-03-14",
                "address-postalcode": "not a postcode",
            },
            "INVALID_VALUE",
        ),
        (
            {"family": "Smithfield", "birthdate": "2011-03-14", "_fuzzy-match": "maybe"},
            "INVALID_VALUE",
        ),
        ({"family": "Smith'; DROP TABLE child;--", "birthdate": "2011-03-14"}, "INVALID_VALUE"),
        ({"family": "x" * 500, "birthdate": "2011-03-14"}, "INVALID_VALUE"),
    ],
)
def test_bad_parameters_are_refused(api: Api, params: dict[str, str], pds: str) -> None:
    status, body = api.search(**params)
    assert status == 400 and outcome(body)[1] == pds


def test_postcode_full_or_outward(api: Api) -> None:
    for postcode in ("LS6 2QB", "ls62qb", "LS6"):
        _status, body = api.search(
            family="Smithfield", birthdate="2011-03-14", **{"address-postalcode": postcode}
        )
        assert ids(body) == [OLIVIA.index_id], postcode
    _status, body = api.search(
        family="Smithfield", birthdate="2011-03-14", **{"address-postalcode": "LS7"}
    )
    assert ids(body) == []


def test_gender_filters(api: Api) -> None:
    assert ids(api.search(family="Smithfield", birthdate="2011-03-14", gender="male")[1]) == []
    assert ids(api.search(family="Smithfield", birthdate="2011-03-14", gender="female")[1]) == [
        OLIVIA.index_id
    ]


def test_request_id_echoed_or_made(api: Api) -> None:
    rid = "6f1c5a4e-2b3d-4e5f-8a9b-0c1d2e3f4a5b"
    response = api.client.get(
        "/Patient",
        params={"family": "Smithfield", "birthdate": "2011-03-14"},
        headers=api.headers(**{"X-Request-ID": rid}),
    )
    assert response.headers["x-request-id"] == rid
    response = api.client.get("/metadata")
    assert len(response.headers["x-request-id"]) == 36
