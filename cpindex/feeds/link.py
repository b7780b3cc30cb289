"""Linking checked feed rows to children with Splink, and the three outcomes.

Splink scores each (feed row, index name row) pair the blocking rules produce; the best
child per feed row is then decided here:

- linked: probability at or above `link`, the given names agree at some level (so a
  twin, whose given name differs, never links), and no other child scores at or above
  `review` with a match weight within RIVAL_MARGIN bits of the best;
  or the NHS number agrees exactly and at least two of given name, family name and date
  of birth agree at some level (an exact valid NHS number links outright).
- review: the best child scores at or above `review` but is not linked.
- rejected: nothing scores at or above `review`; the reason goes back to the source.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from cpindex.feeds.formats import FeedRow
from cpindex.feeds.model import COLUMNS, index_rows, load_model, prepared_row
from cpindex.store.schema import child, child_name

__all__ = ["DEFAULT_LINK", "DEFAULT_REVIEW", "Decision", "Thresholds", "link_rows"]

DEFAULT_LINK = 0.99
DEFAULT_REVIEW = 0.5
_FEED, _INDEX = "a_feed", "b_index"  # Splink puts the alphabetically first side on the left
RIVAL_MARGIN = 10.0  # bits of match weight: the best child 1,024 times likelier than a rival
_ELSE = 0  # Splink numbers a comparison's levels down to 0 for "all other comparisons"


@dataclass(frozen=True)
class Thresholds:
    link: float = DEFAULT_LINK
    review: float = DEFAULT_REVIEW

    def __post_init__(self) -> None:
        if not 0 < self.review <= self.link <= 1:
            raise ValueError("thresholds must satisfy 0 < review <= link <= 1")


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

    model = load_model()
    model["probability_two_random_records_match"] = 1.0 / max(children, 1)
    if engine != "duckdb":
        raise ValueError(f"linking engine {engine} is not available")
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
    frame = _predictions(index, _feed_frame(rows), children, min(thresholds.review, 0.01), engine)
    # The best name row per (feed row, child), then children ordered best first per row.
    frame = frame.sort_values("match_probability", ascending=False, kind="stable")
    frame = frame.drop_duplicates(["unique_id_l", "child_pk_r"])
    by_row: dict[int, list[Any]] = {}
    for rec in frame.itertuples(index=False):
        by_row.setdefault(int(rec.unique_id_l), []).append(rec)
    return [_decide(r, by_row.get(r.number, []), thresholds) for r in rows]


def _decide(row: FeedRow, candidates: list[Any], t: Thresholds) -> Decision:
    if not candidates:
        return Decision(row, "rejected", None, 0.0, "no child in the index is close enough")
    best = candidates[0]
    pk, p = int(best.child_pk_r), float(best.match_probability)
    # A rival counts only if the evidence for the best child is not overwhelmingly
    # stronger (RIVAL_MARGIN bits): a twin with another given name, or a sibling of the
    # same name born on another day, is told apart; two near-identical children are not.
    weight = float(best.match_weight)
    rivals = [c for c in candidates[1:] if float(c.match_weight) > weight - RIVAL_MARGIN]
    rival = float(rivals[0].match_probability) if rivals else 0.0
    agree = sum(int(g) > _ELSE for g in (best.gamma_given, best.gamma_family, best.gamma_dob))
    if int(best.gamma_nhs) > _ELSE and agree >= 2:
        return Decision(row, "linked", pk, p, "NHS number and details agree")
    if p >= t.link and rival < t.review and int(best.gamma_given) > _ELSE:
        return Decision(row, "linked", pk, p, "details agree")
    if p >= t.review:
        if rival >= t.review:
            reason = "more than one child is close"
        elif int(best.gamma_given) == _ELSE:
            reason = "given name differs"
        else:
            reason = "probability between the thresholds"
        return Decision(row, "review", pk, p, reason)
    return Decision(row, "rejected", None, p, "no child in the index is close enough")
