"""Splink's Spark backend for `--engine spark` (national batches; Java and pyspark needed).

A local Spark session by default (`local[*]`); `CPINDEX_SPARK_MASTER` names a cluster.
The model, blocking and decisions are the DuckDB run's; only the engine differs.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["spark_api"]


def spark_api() -> Any:
    """A Splink SparkAPI over a (reused) Spark session; ValueError when Spark is missing."""
    try:
        from pyspark.sql import SparkSession
        from splink.internals.spark.database_api import SparkAPI
        from splink.internals.spark.jar_location import similarity_jar_location
    except ImportError:
        raise ValueError(
            "the Spark engine needs pyspark and Java: pip install 'cpdesk[spark]' and "
            "apt-get install default-jre-headless"
        ) from None
    session = (
        SparkSession.builder.master(os.environ.get("CPINDEX_SPARK_MASTER", "local[*]"))
        .appName("cpindex-feeds")
        .config("spark.ui.enabled", "false")
        .config("spark.jars", similarity_jar_location())  # Splink's string-similarity UDFs
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    session.sparkContext.setCheckpointDir(os.path.join(_scratch(), "checkpoints"))
    return SparkAPI(spark_session=session)  # type: ignore[no-untyped-call]


def _scratch() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="cpindex-spark-")
