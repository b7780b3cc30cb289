"""Shared fixtures: `index_server`, one real seeded index over TLS per test session.

The test suites sign in as the demo accounts hundreds of times and search far faster than
a person: every server a test starts (directly, or through `cpdesk demo`) gets raised
limits through the documented environment variables. Limits stay on; tests of the
limits themselves pass their own values.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.index_server import TEST_LIMITS, RunningIndex, start_index

for _name, _value in TEST_LIMITS.items():
    os.environ.setdefault(_name, _value)
# The key sealing TOTP secrets: one throwaway file per run, never the user's data folder.
os.environ.setdefault(
    "CPINDEX_SECRET_KEY_FILE",
    os.path.join(tempfile.mkdtemp(prefix="cpindex-key-"), "secret.key"),
)


@pytest.fixture(scope="session")
def index_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningIndex]:
    """`cpindex serve` on a free loopback port with TLS, 2,000 children, seed 1."""
    with start_index(tmp_path_factory.mktemp("index"), children=2000, seed=1, tls=True) as index:
        yield index


def pytest_configure(config: pytest.Config) -> None:
    """In CI (CPINDEX_REQUIRE_POSTGRES=1) the PostgreSQL half of the suite must run."""
    if os.environ.get("CPINDEX_REQUIRE_POSTGRES") == "1" and not os.environ.get(
        "CPINDEX_TEST_POSTGRES_URL"
    ):
        raise pytest.UsageError(
            "CPINDEX_REQUIRE_POSTGRES=1 but CPINDEX_TEST_POSTGRES_URL is not set"
        )


@pytest.fixture(autouse=True)
def _no_system_policy(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Tests never read this machine's /etc/cpdesk/policies (a test that means to, says so)."""
    from cpdesk import policy

    monkeypatch.setattr(policy, "DEFAULT_ROOT", tmp_path_factory.getbasetemp() / "no-system-policy")


@pytest.fixture
def root_only_folder() -> Iterator[Path]:
    """A temp folder that passes the policy trust test: root-owned, root-only, up to /.

    /tmp is writable by everyone, so it (and pytest's tmp_path) never can: this lives in
    /run. Needs root, as the tests of trusted policy do.
    """
    if os.geteuid() != 0:
        pytest.fail("the tests of trusted policy folders run as root (as CI does)")
    path = Path(tempfile.mkdtemp(prefix="cpdesk-policy-test-", dir="/run"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path)
