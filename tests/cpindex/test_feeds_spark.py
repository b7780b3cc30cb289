"""`--engine spark`: the same model on a local Spark session links a small feed exactly as
DuckDB does (issue 17: "CI runs a small feed on a local Spark session")."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cpindex.feeds.link import Thresholds, link_rows
from tests.cpindex.test_feeds import Store, _feed, seeded_file, store

__all__ = ["seeded_file", "store"]


@pytest.fixture
def spark_stopped() -> Iterator[None]:
    yield
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    if session is not None:
        session.stop()


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::FutureWarning")  # pyspark 4.3 on pandas 3 says it may
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_spark_links_a_small_feed_as_duckdb_does(store: Store, spark_stopped: None) -> None:
    synthetic = _feed(store, size=60)
    with store.engine.connect() as conn:
        duck = link_rows(conn, synthetic.rows, Thresholds())
        spark = link_rows(conn, synthetic.rows, Thresholds(), engine="spark")
    assert [(d.outcome, d.child_pk) for d in spark] == [(d.outcome, d.child_pk) for d in duck]
    assert max(abs(a.probability - b.probability) for a, b in zip(duck, spark, strict=True)) < 1e-6
    assert sum(d.outcome == "linked" for d in duck) > 40
