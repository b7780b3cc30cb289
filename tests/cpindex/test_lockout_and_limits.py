"""Lock-out after repeated failures (audited, answered like a wrong password, lifted by
time or `cpindex user unlock`) and per-user rate limits (429 with Retry-After, reset)."""

from __future__ import annotations

import json

import pyotp
import pytest
from sqlalchemy import Engine, select, update

from cpindex.api import create_app
from cpindex.cli import main
from cpindex.clock import ManualClock
from cpindex.config import ServerSettings
from cpindex.seed.demo import fixed_child
from cpindex.store.schema import audit_event, user_account
from tests.cpindex.conftest import (
    TEST_PASSWORD,
    TestClient,
    build_services,
    engine_url,
    new_user,
    sign_in_as,
)

SEARCH = {"family": "Smithfield", "birthdate": "2011-03-14"}


def _client(engine: Engine, **settings: float) -> tuple[TestClient, ManualClock]:
    clock = ManualClock()
    app = create_app(build_services(engine, ServerSettings(**settings), clock=clock))  # type: ignore[arg-type]
    return TestClient(app), clock


def _attempt(client: TestClient, clock: ManualClock, name: str, secret: str, password: str):  # type: ignore[no-untyped-def]
    otp = pyotp.TOTP(secret).at(clock.now())
    return client.post("/auth/session", json={"username": name, "password": password, "otp": otp})


def _actions(engine: Engine, name: str) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(audit_event.c.action, audit_event.c.outcome)
            .where(audit_event.c.username == name)
            .order_by(audit_event.c.id)
        )
        return [(r[0], r[1]) for r in rows]


def test_five_failures_lock_the_account_for_fifteen_minutes(seeded_engine: Engine) -> None:
    client, clock = _client(seeded_engine)
    name, secret = new_user(seeded_engine)
    wrong = [_attempt(client, clock, name, secret, "wrong password") for _ in range(5)]
    locked = _attempt(client, clock, name, secret, TEST_PASSWORD)
    unknown = _attempt(client, clock, "no.such.user", secret, TEST_PASSWORD)
    # the locked account's answer is the answer to a wrong password or an unknown user
    for response in [*wrong, locked]:
        assert response.status_code == 401
        assert response.json() == unknown.json()
        assert response.headers.get("www-authenticate") == unknown.headers.get("www-authenticate")
    assert _actions(seeded_engine, name) == [
        *[("sign-in", "failure")] * 5,
        ("lock-out", "success"),
        ("sign-in", "locked"),
    ]
    clock.advance(14 * 60 + 59)
    assert _attempt(client, clock, name, secret, TEST_PASSWORD).status_code == 401
    clock.advance(2)
    assert _attempt(client, clock, name, secret, TEST_PASSWORD).status_code == 201


def test_a_success_resets_the_count(seeded_engine: Engine) -> None:
    client, clock = _client(seeded_engine)
    name, secret = new_user(seeded_engine)
    for _ in range(4):
        assert _attempt(client, clock, name, secret, "wrong").status_code == 401
    assert _attempt(client, clock, name, secret, TEST_PASSWORD).status_code == 201
    for _ in range(4):
        assert _attempt(client, clock, name, secret, "wrong").status_code == 401
    clock.advance(30)  # the next code: the first one is spent
    assert _attempt(client, clock, name, secret, TEST_PASSWORD).status_code == 201


def test_lockout_is_configurable_and_the_cli_unlocks(
    seeded_engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    client, clock = _client(seeded_engine, lockout_failures=2, lockout_minutes=60)
    name, secret = new_user(seeded_engine)
    for _ in range(2):
        _attempt(client, clock, name, secret, "wrong")
    clock.advance(30 * 60)
    assert _attempt(client, clock, name, secret, TEST_PASSWORD).status_code == 401
    assert main(["user", "unlock", name, "--db", engine_url(seeded_engine)]) == 0
    assert _attempt(client, clock, name, secret, TEST_PASSWORD).status_code == 201
    assert ("account-unlock", "success") in _actions(seeded_engine, name)


def test_wrong_unlock_passwords_count_and_end_the_session(seeded_engine: Engine) -> None:
    client, clock = _client(seeded_engine, lockout_failures=3)
    name, secret = new_user(seeded_engine)
    token = sign_in_as(client, clock, name, secret)
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(3):
        response = client.post("/auth/unlock", json={"password": "wrong"}, headers=headers)
        assert response.status_code == 401
    assert client.get("/auth/session", headers=headers).status_code == 401
    assert ("lock-out", "success") in _actions(seeded_engine, name)


def test_search_rate_limit_answers_429_with_retry_after_and_resets(seeded_engine: Engine) -> None:
    client, clock = _client(seeded_engine)  # the defaults: 30 searches a minute
    name, secret = new_user(seeded_engine)
    headers = {"Authorization": f"Bearer {sign_in_as(client, clock, name, secret)}"}
    for _ in range(30):
        assert client.get("/Patient", params=SEARCH, headers=headers).status_code == 200
        clock.advance(1)
    refused = client.get("/Patient", params=SEARCH, headers=headers)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "30"
    issue = refused.json()["issue"][0]
    assert issue["code"] == "throttled"
    assert issue["details"]["coding"][0]["code"] == "TOO_MANY_REQUESTS"
    assert "entry" not in refused.json()
    assert _actions(seeded_engine, name)[-1] == ("search", "rate-limited")
    clock.advance(30)
    assert client.get("/Patient", params=SEARCH, headers=headers).status_code == 200


def test_view_rate_limit(seeded_engine: Engine) -> None:
    client, clock = _client(seeded_engine, view_limit=3)
    name, secret = new_user(seeded_engine)
    headers = {
        "Authorization": f"Bearer {sign_in_as(client, clock, name, secret)}",
        "X-Access-Reason": "health-care",
    }
    path = f"/Patient/{fixed_child('Smithfield', 'Olivia').index_id}/$everything"
    assert [client.get(path, headers=headers).status_code for _ in range(4)] == [200, 200, 200, 429]
    # searches have their own budget
    assert client.get("/Patient", params=SEARCH, headers=headers).status_code == 200
    with seeded_engine.connect() as conn:
        detail = conn.scalar(
            select(audit_event.c.detail).where(
                audit_event.c.username == name, audit_event.c.outcome == "rate-limited"
            )
        )
    assert json.loads(detail or "{}")["reason"] == "health-care"
    clock.advance(61)
    assert client.get(path, headers=headers).status_code == 200


def test_limits_are_per_user(seeded_engine: Engine) -> None:
    client, clock = _client(seeded_engine, search_limit=1)
    first, second = new_user(seeded_engine), new_user(seeded_engine)
    h1 = {"Authorization": f"Bearer {sign_in_as(client, clock, *first)}"}
    h2 = {"Authorization": f"Bearer {sign_in_as(client, clock, *second)}"}
    assert client.get("/Patient", params=SEARCH, headers=h1).status_code == 200
    assert client.get("/Patient", params=SEARCH, headers=h1).status_code == 429
    assert client.get("/Patient", params=SEARCH, headers=h2).status_code == 200


def test_someone_elses_wrong_sign_ins_do_not_end_a_session(seeded_engine: Engine) -> None:
    client, clock = _client(seeded_engine)
    name, secret = new_user(seeded_engine)
    headers = {"Authorization": f"Bearer {sign_in_as(client, clock, name, secret)}"}
    for _ in range(5):
        _attempt(client, clock, name, secret, "guess")
    assert _attempt(client, clock, name, secret, TEST_PASSWORD).status_code == 401
    assert client.get("/auth/session", headers=headers).status_code == 200
    # but a locked account cannot be unlocked from a locked client either
    assert (
        client.post("/auth/unlock", json={"password": TEST_PASSWORD}, headers=headers).status_code
        == 401
    )


@pytest.mark.parametrize("otp", ["１２３４５６", "١٢٣٤٥٦", "12345\u0665", "+12345", " 1234567"])
def test_a_code_in_other_digits_is_an_ordinary_counted_failure(
    seeded_engine: Engine, otp: str
) -> None:
    """Non-ASCII digits once crashed the code check: 500 for the right password (an oracle)."""
    client, _ = _client(seeded_engine, lockout_failures=2)
    name, _ = new_user(seeded_engine)
    right = client.post(
        "/auth/session", json={"username": name, "password": TEST_PASSWORD, "otp": otp}
    )
    wrong = client.post("/auth/session", json={"username": name, "password": "wrong", "otp": otp})
    assert right.status_code == wrong.status_code == 401
    assert right.json() == wrong.json()
    assert _actions(seeded_engine, name) == [
        ("sign-in", "failure"),
        ("sign-in", "failure"),
        ("lock-out", "success"),
    ]


def test_slots_left_by_a_crashed_check_stop_counting(seeded_engine: Engine) -> None:
    """A process that died mid-check leaves its slot taken; it lapses after two minutes."""
    client, clock = _client(seeded_engine)
    name, secret = new_user(seeded_engine)
    with seeded_engine.begin() as conn:
        conn.execute(
            update(user_account)
            .where(user_account.c.username == name)
            .values(checks_in_flight=5, check_started_at=clock.now())
        )
    assert _attempt(client, clock, name, secret, TEST_PASSWORD).status_code == 401
    assert _actions(seeded_engine, name) == [("sign-in", "locked")]  # refused unchecked
    clock.advance(121)
    assert _attempt(client, clock, name, secret, TEST_PASSWORD).status_code == 201
