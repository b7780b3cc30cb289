"""End to end through a real uvicorn over TLS on loopback."""

from __future__ import annotations

import re
from pathlib import Path

import requests
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome

from cpindex.seed.demo import FIXED_CHILDREN, fixed_child
from tests.helpers.index_server import RunningIndex, sign_in_token, start_index


def _get(index: RunningIndex, path: str, token: str, **kw: object) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}", **kw.pop("headers", {})}  # type: ignore[dict-item]
    return requests.get(
        f"{index.base_url}{path}", headers=headers, verify=index.verify, timeout=30, **kw
    )  # type: ignore[arg-type]


def test_ready_line_and_demo_codes(index_server: RunningIndex) -> None:
    assert any(
        line.startswith("cpindex ready on https://127.0.0.1:") for line in index_server.output
    )
    assert any(
        line.startswith("Demo sign-in: nurse.demo / demo-pass-2026 / code ")
        for line in index_server.output
    )


def test_search_and_record_over_tls(index_server: RunningIndex) -> None:
    token = sign_in_token(index_server)
    olivia = fixed_child("Smithfield", "Olivia")
    r = _get(
        index_server, "/Patient", token, params={"family": "Smithfield", "birthdate": "2011-03-14"}
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/fhir+json")
    assert r.headers["x-session-idle-expires"].endswith("Z")
    bundle = Bundle.model_validate(r.json())
    assert bundle.total == 1
    assert bundle.entry[0].resource.id == olivia.index_id
    r = _get(
        index_server,
        f"/Patient/{olivia.index_id}/$everything",
        token,
        headers={"X-Access-Reason": "health-care"},
    )
    assert r.status_code == 200
    Bundle.model_validate(r.json())
    r = _get(index_server, f"/Patient/{olivia.index_id}/$everything", token)
    assert r.status_code == 400
    OperationOutcome.model_validate(r.json())


def test_fixed_children_are_planted(index_server: RunningIndex) -> None:
    token = sign_in_token(index_server, "social.demo")
    for child in FIXED_CHILDREN:
        r = _get(
            index_server,
            "/Patient",
            token,
            params={"family": child.family, "birthdate": child.birth_date.isoformat()},
        )
        ids = [e["resource"]["id"] for e in r.json().get("entry", [])]
        assert child.index_id in ids


def test_shielded_child_over_real_http(index_server: RunningIndex) -> None:
    token = sign_in_token(index_server, "nurse.demo")
    jayden = fixed_child("Marsh-Whitley", "Jayden")
    r = _get(
        index_server, "/Patient", token, params={"family": jayden.family, "birthdate": "2012-07-09"}
    )
    resource = r.json()["entry"][0]["resource"]
    assert resource["meta"]["security"][0]["code"] == "R" and "address" not in resource
    r = _get(
        index_server,
        "/Patient",
        token,
        params={
            "family": jayden.family,
            "birthdate": "2012-07-09",
            "address-postalcode": jayden.postcode,
        },
    )
    assert r.json()["total"] == 0
    r = _get(
        index_server,
        f"/Patient/{jayden.index_id}/$everything",
        token,
        headers={"X-Access-Reason": "safeguarding"},
    )
    assert [e["resource"]["resourceType"] for e in r.json()["entry"]] == ["Patient"]
    assert jayden.postcode not in r.text and "Karen" not in r.text


def test_revoked_token_is_refused_over_real_http(index_server: RunningIndex) -> None:
    token = sign_in_token(index_server, "indexteam.demo")
    rid = "0b5f8a52-6a3e-4c1b-9d0e-2f4a6b8c0d1e"
    r = _get(index_server, "/auth/session", token, headers={"X-Request-ID": rid})
    assert r.status_code == 200 and r.headers["x-request-id"] == rid
    assert r.json()["user"]["role"] == "index-team"
    r = requests.delete(
        f"{index_server.base_url}/auth/session",
        headers={"Authorization": f"Bearer {token}"},
        verify=index_server.verify,
        timeout=30,
    )
    assert r.status_code == 204
    r = _get(
        index_server, "/Patient", token, params={"family": "Smithfield", "birthdate": "2011-03-14"}
    )
    assert r.status_code == 401
    body = OperationOutcome.model_validate(r.json())
    assert body.issue[0].code == "login"


def test_plain_http_start_and_clean_sigterm(index_server: RunningIndex, tmp_path: Path) -> None:
    with start_index(tmp_path, tls=False, db_url=index_server.db_url) as index:
        assert index.base_url.startswith("http://127.0.0.1:")
        assert any(line == f"cpindex ready on {index.base_url}" for line in index.output)
        codes = [line for line in index.output if line.startswith("Demo sign-in: ")]
        assert len(codes) == 4 and all(
            re.fullmatch(r"Demo sign-in: \S+ / demo-pass-2026 / code \d{6}", c) for c in codes
        )
        r = requests.get(f"{index.base_url}/metadata", timeout=30)
        assert r.status_code == 200
        index.stop()
        assert index.process.returncode == 0


def test_no_child_data_in_server_output(index_server: RunningIndex) -> None:
    """A canary: searched names, a record's contents and errors never reach the server's output."""
    token = sign_in_token(index_server, "nurse.demo")
    canary = "Zzcanaryqx"
    _get(
        index_server,
        "/Patient",
        token,
        params={
            "family": canary,
            "given": "Olivia",
            "birthdate": "2011-03-14",
            "_fuzzy-match": "true",
        },
    )
    _get(index_server, "/Patient", token, params={"family": canary, "birthdate": "not-a-date"})
    olivia = fixed_child("Smithfield", "Olivia")
    _get(
        index_server,
        f"/Patient/{olivia.index_id}/$everything",
        token,
        headers={"X-Access-Reason": "health-care"},
    )
    output = "\n".join(index_server.output)
    for secret in (canary, "Smithfield", "LS6 2QB", "07700 900123", "Hannah Lowe"):
        assert secret not in output
