"""End to end through a real uvicorn over TLS on loopback."""

from __future__ import annotations

import requests
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome

from cpindex.seed.demo import FIXED_CHILDREN, fixed_child
from tests.helpers.index_server import RunningIndex, sign_in_token


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
