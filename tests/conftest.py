"""Shared fixtures: `index_server`, one real seeded index over TLS per test session.

The test suites sign in as the demo accounts hundreds of times and search far faster than
a person: every server a test starts (directly, or through `cpdesk demo`) gets raised
limits through the documented environment variables. Limits stay on; tests of the
limits themselves pass their own values.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

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
