"""Sign-in, session expiry (moved by a manual clock, never slept), revocation, unlock."""

from __future__ import annotations

from typing import Any

import pyotp
from fhir.resources.R4B.operationoutcome import OperationOutcome
from sqlalchemy import Engine, select

from cpindex.api import create_app
from cpindex.auth.users import create_user, disable_user
from cpindex.clock import ManualClock
from cpindex.seed.demo import DEMO_PASSWORD, demo_account
from cpindex.store.schema import user_session
from tests.cpindex.conftest import RAISED, TestClient, build_services, sign_in

SEARCH = {"family": "Smithfield", "birthdate": "2011-03-14"}


def _client(engine: Engine) -> tuple[TestClient, ManualClock]:
    clock = ManualClock()
    return TestClient(create_app(build_services(engine, RAISED, clock=clock))), clock


def _search(client: TestClient, token: str) -> Any:
    return client.get("/Patient", params=SEARCH, headers={"Authorization": f"Bearer {token}"})


def _denied(response: Any) -> None:
    assert response.status_code == 401
    body = response.json()
    OperationOutcome.model_validate(body)
    assert body["issue"][0]["code"] == "login"
    assert body["issue"][0]["details"]["coding"][0]["code"] == "ACCESS_DENIED"


def test_sign_in_answer(seeded_engine: Engine) -> None:
    client, clock = _client(seeded_engine)
    account = demo_account("social.demo")
    response = client.post(
        "/auth/session",
        json={
            "username": account.username,
            "password": DEMO_PASSWORD,
            "otp": pyotp.TOTP(account.totp_secret).at(clock.now()),
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["token_type"] == "Bearer" and len(body["token"]) >= 40
    assert body["idle_timeout_seconds"] == 900
    assert body["idle_expires_at"] == "2026-11-26T09:15:00Z"
    assert body["absolute_expires_at"] == "2026-11-26T19:00:00Z"
    assert body["user"] == {
        "username": "social.demo",
        "display_name": "Priya Shah",
        "role": "practitioner",
        "organisation": "Northgate Council Children's Services",
    }
    with seeded_engine.connect() as conn:
        stored = conn.execute(select(user_session.c.token_hash)).scalars().all()
    assert body["token"] not in stored and all(len(h) == 64 for h in stored)


def test_failures_all_look_the_same(seeded_engine: Engine) -> None:
    client, clock = _client(seeded_engine)
    account = demo_account("nurse.demo")
    good = pyotp.TOTP(account.totp_secret).at(clock.now())
    attempts = [
        {"username": "nobody.here", "password": DEMO_PASSWORD, "otp": good},
        {"username": "nurse.demo", "password": "wrong-password", "otp": good},
        {
            "username": "nurse.demo",
            "password": DEMO_PASSWORD,
            "otp": "000000" if good != "000000" else "111111",
        },
        {
            "username": "nurse.demo",
            "password": DEMO_PASSWORD,
            "otp": pyotp.TOTP(account.totp_secret).at(clock.now().timestamp() - 600),
        },
    ]
    bodies = []
    for attempt in attempts:
        response = client.post("/auth/session", json=attempt)
        _denied(response)
        bodies.append(response.json())
    assert all(b == bodies[0] for b in bodies)
    assert bodies[0]["issue"][0]["diagnostics"] == "The username, password or code is not right."


def test_bad_sign_in_bodies(seeded_engine: Engine) -> None:
    client, _ = _client(seeded_engine)
    assert (
        client.post(
            "/auth/session", content=b"not json", headers={"content-type": "application/json"}
        ).status_code
        == 400
    )
    assert client.post("/auth/session", json={"username": "nurse.demo"}).status_code == 400
    assert client.post("/auth/session", json=["x"]).status_code == 400
    assert (
        client.post(
            "/auth/session", content=b"{}", headers={"content-type": "text/plain"}
        ).status_code
        == 400
    )
    big = client.post(
        "/auth/session",
        content=b"{" + b" " * 10000 + b"}",
        headers={"content-type": "application/json"},
    )
    assert big.status_code == 413


def test_missing_or_garbage_token(seeded_engine: Engine) -> None:
    client, _ = _client(seeded_engine)
    _denied(client.get("/Patient", params=SEARCH))
    _denied(_search(client, "not-a-token"))
    _denied(client.get("/Patient", params=SEARCH, headers={"Authorization": "Basic abc"}))


def test_idle_expiry_slides_with_use(seeded_engine: Engine) -> None:
    client, clock = _client(seeded_engine)
    token = sign_in(client, clock)
    for _ in range(3):
        clock.advance(14 * 60)
        response = _search(client, token)
        assert response.status_code == 200
    assert response.headers["x-session-idle-expires"] == "2026-11-26T09:57:00Z"
    assert response.headers["x-session-absolute-expires"] == "2026-11-26T19:00:00Z"
    clock.advance(15 * 60 + 1)
    _denied(_search(client, token))


def test_absolute_expiry_holds_despite_activity(seeded_engine: Engine) -> None:
    client, clock = _client(seeded_engine)
    token = sign_in(client, clock)
    for _ in range(int(10 * 60 / 10) - 1):
        clock.advance(10 * 60)
        assert (
            client.get("/auth/session", headers={"Authorization": f"Bearer {token}"}).status_code
            == 200
        )
    clock.advance(10 * 60)
    _denied(_search(client, token))


def test_sign_out_revokes(seeded_engine: Engine) -> None:
    client, clock = _client(seeded_engine)
    token = sign_in(client, clock)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/auth/session", headers=headers).json()["user"]["username"] == "nurse.demo"
    response = client.delete("/auth/session", headers=headers)
    assert response.status_code == 204
    _denied(_search(client, token))
    _denied(client.delete("/auth/session", headers=headers))


def test_unlock_rechecks_password_without_new_session(seeded_engine: Engine) -> None:
    client, clock = _client(seeded_engine)
    token = sign_in(client, clock)
    headers = {"Authorization": f"Bearer {token}"}
    _denied(client.post("/auth/unlock", json={"password": "wrong"}, headers=headers))
    response = client.post("/auth/unlock", json={"password": DEMO_PASSWORD}, headers=headers)
    assert response.status_code == 200 and response.json() == {"unlocked": True}
    assert _search(client, token).status_code == 200
    clock.advance(16 * 60)
    _denied(client.post("/auth/unlock", json={"password": DEMO_PASSWORD}, headers=headers))


def test_disabled_user_loses_sessions_and_cannot_sign_in(seeded_engine: Engine) -> None:
    client, clock = _client(seeded_engine)
    with seeded_engine.begin() as conn:
        uri = create_user(
            conn, "temp.worker", "temporary-pass-1", role="practitioner", organisation="Test Org"
        )
    secret = uri.split("secret=")[1].split("&")[0]
    code = pyotp.TOTP(secret).at(clock.now())
    response = client.post(
        "/auth/session",
        json={"username": "temp.worker", "password": "temporary-pass-1", "otp": code},
    )
    assert response.status_code == 201
    token = response.json()["token"]
    with seeded_engine.begin() as conn:
        disable_user(conn, "temp.worker", by={"by": "test"})
    _denied(_search(client, token))
    _denied(
        client.post(
            "/auth/session",
            json={"username": "temp.worker", "password": "temporary-pass-1", "otp": code},
        )
    )
