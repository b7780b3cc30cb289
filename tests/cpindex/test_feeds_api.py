"""POST /$feed: admins only, the same load as the CLI, refusals change nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cpindex.api import Services, create_app
from cpindex.clock import ManualClock
from cpindex.feeds.formats import to_csv, to_fhir
from tests.cpindex.conftest import RAISED, TestClient, new_user, sign_in_as
from tests.cpindex.test_feeds import (
    BOTH_BACKENDS,
    SOURCE,
    Store,
    _dump,
    _feed,
    _linked_pks,
    seeded_file,
    store,
)

__all__ = ["seeded_file", "store"]  # fixtures shared with test_feeds


@pytest.fixture
def client(store: Store) -> Iterator[tuple[TestClient, ManualClock]]:
    clock = ManualClock()
    app = create_app(Services.build(store.engine, RAISED, clock=clock))
    with TestClient(app) as test_client:
        yield test_client, clock


def _post(
    store: Store, client: tuple[TestClient, ManualClock], role: str, body: bytes, **params: str
) -> tuple[int, dict[str, object]]:
    test_client, clock = client
    name, secret = new_user(store.engine, role)
    token = sign_in_as(test_client, clock, name, secret)
    response = test_client.post(
        "/$feed",
        params={"source": SOURCE, **params},
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"},
    )
    return response.status_code, response.json()


def _small(store: Store, rows: int = 12) -> list[object]:
    synthetic = _feed(store, size=200)
    return [r for r in synthetic.rows if synthetic.kinds[r.number] == "exact"][:rows]


@BOTH_BACKENDS
def test_an_admin_loads_a_feed(store: Store, client: tuple[TestClient, ManualClock]) -> None:
    rows = _small(store, 8)
    body = to_csv(rows)  # type: ignore[arg-type]
    status, answer = _post(store, client, "admin", body)
    assert status == 200, answer
    outcome = answer["entry"][0]["resource"]  # type: ignore[index]
    assert "linked" in outcome["issue"][0]["diagnostics"]
    assert len(_linked_pks(store.engine)) == len(rows)


def test_fhir_through_the_api(store: Store, client: tuple[TestClient, ManualClock]) -> None:
    body = to_fhir(_small(store, 2))  # type: ignore[arg-type]
    status, answer = _post(store, client, "admin", body)
    assert status == 200, answer
    assert len(_linked_pks(store.engine)) == 2


@pytest.mark.parametrize(
    ("role", "body", "params", "status"),
    [
        ("practitioner", None, {}, 403),
        ("index-team", None, {}, 403),
        ("admin", b"name,dob\nAnn,2015-01-01\n", {}, 400),
        ("admin", None, {"source": "Nobody"}, 400),
    ],
)
def test_refused_posts_change_nothing(
    store: Store,
    client: tuple[TestClient, ManualClock],
    role: str,
    body: bytes | None,
    params: dict[str, str],
    status: int,
) -> None:
    payload = body if body is not None else to_csv(_small(store, 5))  # type: ignore[arg-type]
    before = _dump(store.engine, audit=False)
    got, answer = _post(store, client, role, payload, **params)
    assert got == status, answer
    assert answer["resourceType"] == "OperationOutcome"
    assert _dump(store.engine, audit=False) == before
