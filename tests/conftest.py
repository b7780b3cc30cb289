"""Shared fixtures: `index_server`, one real seeded index over TLS per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.index_server import RunningIndex, start_index


@pytest.fixture(scope="session")
def index_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningIndex]:
    """`cpindex serve` on a free loopback port with TLS, 2,000 children, seed 1."""
    with start_index(tmp_path_factory.mktemp("index"), children=2000, seed=1, tls=True) as index:
        yield index
