"""Fixtures for the index's rule tests: one small seeded store per backend and session.

Every test that takes `seeded_engine` (or `api`) runs on SQLite and, when
CPINDEX_TEST_POSTGRES_URL names a throwaway database, again on PostgreSQL: one suite,
parametrised. `.ci/run` starts a PostgreSQL cluster and sets CPINDEX_REQUIRE_POSTGRES, so
in CI a missing PostgreSQL fails the run instead of leaving half the suite out.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Iterator

import pyotp
import pytest
from sqlalchemy import Engine, text

from cpindex.api import Services, create_app
from cpindex.auth.sealing import open_secret_box, seal_plain_secrets
from cpindex.auth.users import create_user
from cpindex.clock import ManualClock
from cpindex.config import ServerSettings
from cpindex.seed.demo import DEMO_PASSWORD, demo_account
from cpindex.seed.generate import seed_database
from cpindex.store.db import make_engine
from tests.helpers.spent_codes import forget_spent_code

with warnings.catch_warnings():
    # Starlette 1.x nudges towards `httpx2`; the pinned httpx works and is what we test with.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

SMALL_CHILDREN = 3000
# The shared in-process API's clock never moves; limits raised (not off) for rule tests.
RAISED = ServerSettings(search_limit=100_000, view_limit=100_000, lockout_failures=1000)


def _fresh_postgres(url: str) -> Engine:
    """An emptied PostgreSQL database (CPINDEX_TEST_POSTGRES_URL points at a throwaway one)."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    return engine


def backends() -> list[str]:
    """sqlite always; postgresql when a test database is given."""
    return ["sqlite"] + (["postgresql"] if os.environ.get("CPINDEX_TEST_POSTGRES_URL") else [])


@pytest.fixture(scope="session", params=backends())
def seeded_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """The rule tests' store, once per backend."""
    if request.param == "postgresql":
        url = os.environ["CPINDEX_TEST_POSTGRES_URL"]
        loader = _fresh_postgres(url)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('cpindex') / 'small.db'}"
        loader = make_engine(url, bulk_load=True)
    seed_database(loader, children=SMALL_CHILDREN, seed=1)
    loader.dispose()
    engine = make_engine(url)
    yield engine
    engine.dispose()


def engine_url(engine: Engine) -> str:
    """The engine's URL as text a subprocess can use (password kept)."""
    return engine.url.render_as_string(hide_password=False)


TEST_PASSWORD = "a long test password"


def new_user(engine: Engine, role: str = "practitioner", **kw: object) -> tuple[str, str]:
    """A fresh account (unique name) on the shared store: (username, TOTP secret)."""
    name = f"t.{uuid.uuid4().hex[:12]}"
    secret = pyotp.random_base32()
    with engine.begin() as conn:
        create_user(
            conn, name, TEST_PASSWORD, role=role, organisation="Test Organisation",
            totp_secret=secret, **kw,  # type: ignore[arg-type]
        )  # fmt: skip
    return name, secret


def sign_in_as(client: TestClient, clock: ManualClock, name: str, secret: str) -> str:
    forget_spent_code(client.app.state.services.engine, name)  # type: ignore[attr-defined]
    response = client.post(
        "/auth/session",
        json={
            "username": name,
            "password": TEST_PASSWORD,
            "otp": pyotp.TOTP(secret).at(clock.now()),
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


def sign_in(client: TestClient, clock: ManualClock | None, username: str = "nurse.demo") -> str:
    secret = demo_account(username).totp_secret
    totp = pyotp.TOTP(secret)
    code = totp.at(clock.now()) if clock else totp.now()
    forget_spent_code(client.app.state.services.engine, username)  # type: ignore[attr-defined]
    response = client.post(
        "/auth/session",
        json={"username": username, "password": DEMO_PASSWORD, "otp": code},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


def build_services(
    engine: Engine, settings: ServerSettings = RAISED, clock: ManualClock | None = None
) -> Services:
    """Services as `cpindex serve` builds them: TOTP secrets sealed with the run's key.

    Servers that tests start on the shared store seal its plain secrets with that key
    (tests/conftest.py names the file), so an in-process app must hold the same key.
    """
    with engine.begin() as conn:
        box, _ = open_secret_box(conn)
        seal_plain_secrets(conn, box)
    return Services.build(engine, settings, clock=clock, box=box)


class Api:
    """A TestClient over the seeded store with a signed-in nurse and a manual clock."""

    def __init__(self, engine: Engine) -> None:
        self.clock = ManualClock()
        self.app = create_app(build_services(engine, clock=self.clock))
        self.client = TestClient(self.app)
        self.token = sign_in(self.client, self.clock)

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **extra}

    def search(self, **params: object) -> tuple[int, dict[str, object]]:
        response = self.client.get("/Patient", params=params, headers=self.headers())  # type: ignore[arg-type]
        return response.status_code, response.json()

    def everything(
        self, index_id: str, reason: str | None = "health-care", text: str = ""
    ) -> tuple[int, dict[str, object]]:
        extra = {}
        if reason is not None:
            extra["X-Access-Reason"] = reason
        if text:
            extra["X-Access-Reason-Text"] = text
        response = self.client.get(
            f"/Patient/{index_id}/$everything", headers=self.headers(**extra)
        )
        return response.status_code, response.json()


@pytest.fixture(scope="session")
def api(seeded_engine: Engine) -> Iterator[Api]:
    holder = Api(seeded_engine)
    with holder.client:
        yield holder
