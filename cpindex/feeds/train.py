"""Training the Splink model on the index's own data (`cpindex feed train`).

u probabilities (how often two different children agree by chance) come from random pairs
of the index's rows; m probabilities (how often the same child agrees) come from
expectation maximisation, without labels, on a synthetic feed drawn from the same index
with realistic errors planted (cpindex.feeds.synthetic). Two EM passes with different
blocking let every comparison be estimated: blocked on date of birth (trains names,
postcode, NHS number), then on given and family name (trains the date of birth).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Connection

from cpindex.feeds.link import _FEED, _INDEX, _feed_frame, _index_frame
from cpindex.feeds.model import settings
from cpindex.feeds.synthetic import make_feed

__all__ = ["train_model"]


def train_model(
    conn: Connection, *, feed_rows: int, seed: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the trained Splink model, what it was trained on) from the index behind `conn`."""
    from splink import Linker, block_on
    from splink.internals.duckdb.database_api import DuckDBAPI

    index = _index_frame(conn)
    children = int(index["child_pk"].nunique())
    synthetic = make_feed(conn, feed_rows, seed)
    api = DuckDBAPI()
    logging.getLogger("splink").setLevel(logging.ERROR)
    linker = Linker(
        [
            api.register(_feed_frame(synthetic.rows), table_name=_FEED),
            api.register(index, table_name=_INDEX),
        ],
        settings(1.0 / children),
        log_level=None,
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=seed)
    for rule in (block_on("dob"), block_on("given", "family")):
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, record_sample_proportion=1.0
        )
    model = linker.misc.save_model_to_json()
    trained_on = {"children": children, "feed_rows": feed_rows, "seed": seed}
    return model, trained_on
