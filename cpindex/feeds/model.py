"""The Splink model: the columns both sides are reduced to, comparisons, blocking, the JSON.

Each side becomes one table of the same columns. The index side has one row per name a
child is known by (official, previous, nickname), so previous names and known aliases
compare like the official name; the feed side has one row per feed row. Names are folded
(cpindex.search.keys.fold), given names carry their nickname variants
(cpindex.search.nicknames) as an array, family names their hyphen/space-separated parts.

The trained parameters live in `model.json` beside this module (versioned in the
repository); `cpindex feed train` rewrites it (docs/feeds.md).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from cpindex.search.keys import birth_int, fold, phonetic, postcode_key, swapped_birth_int
from cpindex.search.nicknames import name_variants

__all__ = [
    "COLUMNS",
    "MODEL_PATH",
    "MODEL_VERSION",
    "load_model",
    "prepared_row",
    "save_model",
    "settings",
]

MODEL_PATH = Path(__file__).with_name("model.json")
# Bumped when the columns, comparisons or blocking change (a retrain is then required).
MODEL_VERSION = 1

COLUMNS = (
    "unique_id",
    "child_pk",
    "given",
    "given_variants",
    "given_phon",
    "family",
    "family_parts",
    "family_phon",
    "dob",
    "dob_swap",
    "postcode",
    "outward",
    "nhs",
)


def _parts(family: str) -> list[str]:
    return [p for p in (fold(x) for x in re.split(r"[-\s]+", family)) if p]


def prepared_row(
    unique_id: int,
    child_pk: int | None,
    given: str,
    family: str,
    birth: dt.date | int,
    postcode: str | None,
    nhs: str | None,
) -> tuple[Any, ...]:
    """One row of either side, in COLUMNS order."""
    first = given.split()[0] if given.split() else ""
    given_key = fold(first)
    if isinstance(birth, int):
        birth = dt.date(birth // 10000, birth // 100 % 100, birth % 100)
    swap = swapped_birth_int(birth)
    pc = postcode_key(postcode) if postcode else None
    return (
        unique_id,
        child_pk,
        given_key or None,
        sorted({given_key, *name_variants(given_key)}) if given_key else None,
        phonetic(first) or None,
        fold(family) or None,
        _parts(family) or None,
        phonetic(family) or None,
        str(birth_int(birth)),
        str(swap) if swap else None,
        pc,
        pc[:-3] if pc and len(pc) > 4 else None,
        nhs or None,
    )


def settings(
    probability_two_random_records_match: float = 1e-4, dialect: str = "duckdb"
) -> dict[str, Any]:
    """The untrained Splink settings for an engine's SQL dialect (duckdb or spark)."""
    import splink.blocking_rule_library as brl
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    def name(column: str, array_column: str, array_label: str) -> Any:
        """Exact, then any shared variant/part, then two Jaro-Winkler bands."""
        return cl.CustomComparison(
            output_column_name=column,
            comparison_levels=[
                cll.NullLevel(column),
                cll.ExactMatchLevel(column),
                cll.ArrayIntersectLevel(array_column, 1).configure(label_for_charts=array_label),
                cll.JaroWinklerLevel(column, 0.92),
                cll.JaroWinklerLevel(column, 0.8),
                cll.ElseLevel(),
            ],
        )

    given = name("given", "given_variants", "nickname")
    family = name("family", "family_parts", "shares a part (hyphenated)")
    dob = cl.CustomComparison(
        output_column_name="dob",
        comparison_levels=[
            cll.NullLevel("dob"),
            cll.ExactMatchLevel("dob"),
            cll.CustomLevel("dob_l = dob_swap_r", label_for_charts="day/month swapped"),
            cll.DamerauLevenshteinLevel("dob", 1),
            cll.ElseLevel(),
        ],
    )
    postcode = cl.CustomComparison(
        output_column_name="postcode",
        comparison_levels=[
            cll.NullLevel("postcode"),
            cll.ExactMatchLevel("postcode"),
            cll.ExactMatchLevel("outward").configure(label_for_charts="outward code"),
            cll.ElseLevel(),
        ],
    )
    nhs = cl.CustomComparison(
        output_column_name="nhs",
        comparison_levels=[cll.NullLevel("nhs"), cll.ExactMatchLevel("nhs"), cll.ElseLevel()],
    )
    creator = SettingsCreator(
        link_type="link_only",
        unique_id_column_name="unique_id",
        probability_two_random_records_match=probability_two_random_records_match,
        comparisons=[given, family, dob, postcode, nhs],
        blocking_rules_to_generate_predictions=[
            block_on("nhs"),
            block_on("dob", "family_phon"),
            block_on("dob", "given_phon"),
            block_on("dob", "outward"),
            brl.CustomRule("l.dob_swap = r.dob AND l.family_phon = r.family_phon"),
            block_on("postcode", "given_phon"),
        ],
        additional_columns_to_retain=["child_pk"],
        retain_intermediate_calculation_columns=False,
    )
    result: dict[str, Any] = creator.get_settings(dialect).as_dict()  # type: ignore[no-untyped-call]
    return result


def save_model(model: dict[str, Any], trained_on: dict[str, Any], path: Path = MODEL_PATH) -> None:
    """Write the trained Splink model with our version and what it was trained on."""
    import splink

    document = {
        "cpindex_model_version": MODEL_VERSION,
        "splink_version": splink.__version__,
        "trained_on": trained_on,
        "splink_model": model,
    }
    path.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def load_model(path: Path = MODEL_PATH, dialect: str = "duckdb") -> dict[str, Any]:
    """The trained model for `dialect`: fresh settings with the JSON's m and u values.

    The JSON's SQL is DuckDB's; building the settings again for the engine's dialect and
    copying the trained parameters level by level serves Spark with the same model.
    Refuses a file of another model version.
    """
    document = json.loads(path.read_text(encoding="utf-8"))
    if document.get("cpindex_model_version") != MODEL_VERSION:
        raise ValueError(
            f"{path.name} is model version {document.get('cpindex_model_version')}, "
            f"this code needs {MODEL_VERSION}: run `cpindex feed train`"
        )
    trained: dict[str, Any] = document["splink_model"]
    model = settings(trained["probability_two_random_records_match"], dialect)
    for fresh, old in zip(model["comparisons"], trained["comparisons"], strict=True):
        for level, old_level in zip(
            fresh["comparison_levels"], old["comparison_levels"], strict=True
        ):
            for key in ("m_probability", "u_probability"):
                if key in old_level:
                    level[key] = old_level[key]
    return model


def index_rows(rows: Iterable[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    """Prepared index rows from (name id, child pk, given, family, birth_int, postcode, nhs)."""
    for name_id, pk, given, family, bint, postcode, nhs in rows:
        yield prepared_row(name_id, pk, given, family, int(bint), postcode, nhs)
