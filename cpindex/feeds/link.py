"""Linking checked feed rows to children with Splink, and the three outcomes.

Splink scores each (feed row, index name row) pair the blocking rules produce (match
weights from the trained model). Per feed row, the close children's weights then give a
row-level probability for each (`_row_posteriors`): the row is one of them, or its child
is not in the index (1 - `present`). The best child decides:

- linked: probability at or above `link` and the given names agree at some level (so a
  twin, whose given name differs, never links; a twin close in name splits the
  probability with the other and goes to review); or the NHS number agrees exactly and
  at least two of given name, family name and date of birth agree at some level (an
  exact valid NHS number links outright);
- review: the best child's probability is at or above `review` but it is not linked;
- rejected: below `review`; the reason goes back to the source.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from cpindex.feeds.formats import FeedRow
from cpindex.feeds.model import COLUMNS, index_rows, load_model, prepared_row
from cpindex.store.schema import child, child_name

__all__ = [
    "DEFAULT_LINK",
    "DEFAULT_PRESENT",
    "DEFAULT_REVIEW",
    "Decision",
    "Thresholds",
    "link_rows",
]

DEFAULT_LINK = 0.99
DEFAULT_REVIEW = 0.5
_FEED, _INDEX = "a_feed", "b_index"  # Splink puts the alphabetically first side on the left
DEFAULT_PRESENT = 0.9  # the share of a feed's rows whose child is in the index at all
PAIR_FLOOR = 0.001  # pairs Splink scores below this cannot change a decision
_ELSE = 0  # Splink numbers a comparison's levels down to 0 for "all other comparisons"


@dataclass(frozen=True)
class Thresholds:
    link: float = DEFAULT_LINK
    review: float = DEFAULT_REVIEW
    present: float = DEFAULT_PRESENT

    def __post_init__(self) -> None:
        if not 0 < self.review <= self.link <= 1:
            raise ValueError("thresholds must satisfy 0 < review <= link <= 1")
        if not 0 < self.present < 1:
            raise ValueError("the present share must be between 0 and 1")


@dataclass(frozen=True)
class Decision:
    row: FeedRow
    outcome: str  # linked | review | rejected
    child_pk: int | None
    probability: float
    reason: str


def _index_frame(conn: Connection) -> Any:
    import pandas as pd

    query = select(
        child_name.c.id,
        child_name.c.child_pk,
        child_name.c.given,
        child_name.c.family,
        child_name.c.birth_int,
        child.c.postcode_key,
        child.c.nhs_number,
    ).join(child, child.c.pk == child_name.c.child_pk)
    result = conn.execution_options(yield_per=50_000).execute(query)
    return pd.DataFrame.from_records(list(index_rows(result)), columns=COLUMNS)


def _feed_frame(rows: Sequence[FeedRow]) -> Any:
    import pandas as pd

    prepared = [
        prepared_row(r.number, None, r.given, r.family, r.birth_date, r.postcode, r.nhs_number)
        for r in rows
    ]
    return pd.DataFrame.from_records(prepared, columns=COLUMNS)


def _predictions(index: Any, feed: Any, children: int, floor: float, engine: str) -> Any:
    from splink import Linker

    model = load_model(dialect=engine)
    model["probability_two_random_records_match"] = 1.0 / max(children, 1)
    if engine == "spark":
        from cpindex.feeds.spark import spark_api

        api: Any = spark_api()
    else:
        from splink.internals.duckdb.database_api import DuckDBAPI

        api = DuckDBAPI()
    logging.getLogger("splink").setLevel(logging.WARNING)
    linker = Linker(
        [api.register(feed, table_name=_FEED), api.register(index, table_name=_INDEX)],
        model,
        log_level=None,
    )
    scored = linker.inference.predict(threshold_match_probability=floor, warning_mode="never")
    frame = scored.as_pandas_dataframe()  # type: ignore[no-untyped-call]
    assert frame.empty or set(frame["source_dataset_l"]) == {_FEED}
    return frame[
        [
            "unique_id_l",
            "child_pk_r",
            "match_weight",
            "match_probability",
            "gamma_given",
            "gamma_family",
            "gamma_dob",
            "gamma_nhs",
        ]
    ]


def link_rows(
    conn: Connection,
    rows: Sequence[FeedRow],
    thresholds: Thresholds,
    *,
    engine: str = "duckdb",
) -> list[Decision]:
    """Decide every row; reads the index through `conn`, writes nothing."""
    if not rows:
        return []
    index = _index_frame(conn)
    children = int(index["child_pk"].nunique()) if len(index) else 0
    if children == 0:
        return [Decision(r, "rejected", None, 0.0, "the index holds no children") for r in rows]
    frame = _predictions(index, _feed_frame(rows), children, PAIR_FLOOR, engine)
    # The best name row per (feed row, child), then children ordered best first per row.
    frame = frame.sort_values("match_weight", ascending=False, kind="stable")
    frame = frame.drop_duplicates(["unique_id_l", "child_pk_r"])
    by_row: dict[int, list[Any]] = {}
    for rec in frame.itertuples(index=False):
        by_row.setdefault(int(rec.unique_id_l), []).append(rec)
    prior = math.log2(1.0 / (children - 1)) if children > 1 else 0.0
    return [_decide(r, by_row.get(r.number, []), thresholds, prior, children) for r in rows]


def _row_posteriors(
    candidates: list[Any], t: Thresholds, prior: float, children: int
) -> list[float]:
    """P(the row is this child) for each candidate, the alternatives being the others and
    "not in the index" (1 - t.present); children outside the candidates add nothing.

    Splink's pairwise probability assumes nothing about the other children (prior 1/N per
    pair); knowing every close candidate, the row-level posterior is sharper: one strong
    candidate and no rival is very likely the child, two close ones split the probability.
    """
    scale = t.present / children
    weights = [scale * 2.0 ** min(float(c.match_weight) - prior, 1000.0) for c in candidates]
    total = sum(weights) + (1.0 - t.present)
    return [w / total for w in weights]


def _decide(
    row: FeedRow, candidates: list[Any], t: Thresholds, prior: float, children: int
) -> Decision:
    if not candidates:
        return Decision(row, "rejected", None, 0.0, "no child in the index is close enough")
    posteriors = _row_posteriors(candidates, t, prior, children)
    best, p = candidates[0], posteriors[0]
    pk = int(best.child_pk_r)
    agree = sum(int(g) > _ELSE for g in (best.gamma_given, best.gamma_family, best.gamma_dob))
    if int(best.gamma_nhs) > _ELSE and agree >= 2:
        return Decision(row, "linked", pk, p, "NHS number and details agree")
    if p >= t.link and int(best.gamma_given) > _ELSE:
        return Decision(row, "linked", pk, p, "details agree")
    if p >= t.review:
        if len(posteriors) > 1 and posteriors[1] >= 1.0 - t.link:
            reason = "more than one child is close"
        elif int(best.gamma_given) == _ELSE:
            reason = "given name differs"
        else:
            reason = "probability between the thresholds"
        return Decision(row, "review", pk, p, reason)
    return Decision(row, "rejected", None, p, "no child in the index is close enough")
