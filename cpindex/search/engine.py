"""Find children: narrow candidates with an index, then score the few with rapidfuzz.

Candidates come from `child_name` keys only (exact date of birth and its day/month swap,
each with the folded family name, or a phonetic key of the family or given name; a date
range with a family key). When a fuzzy search finds nobody that way, it falls back to
every name on those dates, which is still a few hundred index entries at a million
children. Scores are 0-1; 1 is an exact match of the official name and date. A name
must fold to at least one letter (cpindex.search.params refuses others): no child is ever
scored on the date alone. A shielded child (the stored household flag) is found by its
current official name only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import process
from rapidfuzz.distance import OSA
from sqlalchemy import BindParameter, Connection, Executable, Select, bindparam, select, union_all

from cpindex.search.keys import birth_int, fold, phonetic, swapped_birth_int
from cpindex.search.nicknames import name_variants
from cpindex.search.params import SearchRequest
from cpindex.store.schema import child, child_name

__all__ = ["Match", "naive_search", "search_children"]

_FUZZY_COMPONENT_MIN = 0.6
_FUZZY_SCORE_MIN = 0.72
_KIND_FACTOR = {"official": 1.0, "old": 0.95, "nickname": 0.95}
_SWAPPED_DATE_SCORE = 0.8
_NICKNAME_SCORE = 0.9
_PHONETIC_SCORE = 0.8

_COLUMNS = (
    child_name.c.child_pk,
    child_name.c.kind,
    child_name.c.given,
    child_name.c.family,
    child_name.c.given_fold,
    child_name.c.family_fold,
    child_name.c.given_phon,
    child_name.c.family_phon,
    child_name.c.birth_int,
)


@dataclass(frozen=True)
class Match:
    child_pk: int
    score: float


_C = child_name.c
_DATES: BindParameter[Any] = bindparam("dates", expanding=True)
_GIVEN_KEYS: BindParameter[Any] = bindparam("gkeys", expanding=True)
_RANGE = _C.birth_int.between(bindparam("lo"), bindparam("hi"))

# Built once (building a statement costs as much as running it); each is one index probe.
_PROBES: dict[str, Select[Any]] = {
    "dates": select(*_COLUMNS).where(_C.birth_int.in_(_DATES)),
    "date_family": select(*_COLUMNS).where(
        _C.birth_int.in_(_DATES), _C.family_fold == bindparam("qf")
    ),
    "date_family_phon": select(*_COLUMNS).where(
        _C.birth_int.in_(_DATES), _C.family_phon == bindparam("fp")
    ),
    "date_given_phon": select(*_COLUMNS).where(
        _C.birth_int.in_(_DATES), _C.given_phon.in_(_GIVEN_KEYS)
    ),
    "range_family_given": select(*_COLUMNS).where(
        _C.family_fold == bindparam("qf"), _C.given_fold == bindparam("qg"), _RANGE
    ),
    "range_family": select(*_COLUMNS).where(_C.family_fold == bindparam("qf"), _RANGE),
    "range_family_phon": select(*_COLUMNS).where(_C.family_phon == bindparam("fp"), _RANGE),
    "range_given_phon": select(*_COLUMNS).where(_C.given_phon.in_(_GIVEN_KEYS), _RANGE),
}
_STATEMENTS: dict[tuple[str, ...], Executable] = {}


def _statement(names: tuple[str, ...]) -> Executable:
    found = _STATEMENTS.get(names)
    if found is None:
        parts = [_PROBES[n] for n in names]
        found = parts[0] if len(parts) == 1 else union_all(*parts)
        _STATEMENTS[names] = found
    return found


def _probe(conn: Connection, names: tuple[str, ...], values: dict[str, Any]) -> list[Any]:
    return list(conn.execute(_statement(names), values).all()) if names else []


def _candidates(conn: Connection, req: SearchRequest, dates: list[int]) -> list[Any]:
    """Rows from the key lookups the request allows (a union of a few index probes)."""
    qf = fold(req.family) if req.family else ""
    qg = fold(req.given[0]) if req.given else ""
    values: dict[str, Any] = {"qf": qf, "qg": qg, "fp": phonetic(qf) if qf else ""}
    if req.fuzzy and qg:
        values["gkeys"] = sorted({phonetic(g) for g in {qg, *name_variants(qg)}})
    names: list[str] = []
    if dates:
        values["dates"] = dates
        if qf:
            names.append("date_family")
        if req.fuzzy and qf:
            names.append("date_family_phon")
        if req.fuzzy and qg:
            names.append("date_given_phon")
        return _probe(conn, tuple(names), values)
    assert req.birth_ge is not None and req.birth_le is not None
    values["lo"], values["hi"] = birth_int(req.birth_ge), birth_int(req.birth_le)
    if qf and qg and not req.fuzzy:
        # Led by family and first given name: a common surname over a year is thousands of
        # rows, the pair is a handful. A middle-name query falls through to family alone.
        rows = _probe(conn, ("range_family_given",), values)
        if rows:
            return rows
    if qf:
        names.append("range_family")
        if req.fuzzy:
            names.append("range_family_phon")
    elif qg and req.fuzzy:
        names.append("range_given_phon")
    return _probe(conn, tuple(names), values)


def _given_ok(req: SearchRequest, candidate_given: str, exact: bool) -> bool:
    """Non-fuzzy: every given name asked for is among the candidate's given names."""
    if exact:
        names = candidate_given.split()
        return all(g in names for g in req.given)
    names = [fold(n) for n in candidate_given.split()]
    return all(fold(g) in names for g in req.given)


@dataclass
class _Scores:
    """Each child's best score over all its names, and over its official name alone.

    The second is what a shielded child may be found by: a former name or an alias would
    link the old identity to the new name and NHS number.
    """

    best: dict[int, float] = field(default_factory=dict)
    official: dict[int, float] = field(default_factory=dict)

    def add(self, pk: int, kind: str, score: float) -> None:
        if score > self.best.get(pk, 0.0):
            self.best[pk] = score
        if kind == "official" and score > self.official.get(pk, 0.0):
            self.official[pk] = score

    def not_official(self) -> list[int]:
        """Children found better (or only) by a name other than the official one."""
        return [pk for pk, s in self.best.items() if self.official.get(pk, 0.0) < s]


def _strict_scores(req: SearchRequest, rows: Sequence[Any]) -> _Scores:
    scores = _Scores()
    qf = fold(req.family or "")
    if not qf:
        return scores  # never on the date alone
    for row in rows:
        pk, kind, given, family = row[0], row[1], row[2], row[3]
        if req.exact:
            if kind != "official" or family != req.family:
                continue
        elif row[5] != qf:
            continue
        if req.given and not _given_ok(req, given, req.exact):
            continue
        scores.add(pk, kind, 1.0 if req.exact else _KIND_FACTOR[kind])
    return scores


def _similarities(query: str, choices: list[str]) -> list[float]:
    matrix = process.cdist([query], choices, scorer=OSA.normalized_similarity, workers=1)
    return [float(x) for x in matrix[0]]


def _fuzzy_scores(req: SearchRequest, rows: Sequence[Any], exact_dates: set[int]) -> _Scores:
    """Score each candidate name; keep each child's best score above the thresholds."""
    scores = _Scores()
    qf = fold(req.family) if req.family else ""
    qg = fold(req.given[0]) if req.given else ""
    if not rows or not (qf or qg):
        return scores  # never on the date alone
    fam_sims = _similarities(qf, [r[5] for r in rows]) if qf else []
    giv_sims = _similarities(qg, [r[4] for r in rows]) if qg else []
    fp = phonetic(qf) if qf else ""
    gp = phonetic(qg) if qg else ""
    variants = name_variants(qg) if qg else frozenset()
    weights = (0.45 if qf else 0.0, 0.35 if qg else 0.0, 0.2)
    total = sum(weights)
    for i, row in enumerate(rows):
        parts: list[float] = []
        if qf:
            sim = fam_sims[i]
            if sim < 1.0 and row[7] == fp:
                sim = max(sim, _PHONETIC_SCORE)
            if sim < _FUZZY_COMPONENT_MIN:
                continue
            parts.append(weights[0] * sim)
        if qg:
            sim = giv_sims[i]
            if sim < 1.0:
                if row[4] in variants:
                    sim = max(sim, _NICKNAME_SCORE)
                elif row[6] == gp:
                    sim = max(sim, _PHONETIC_SCORE)
            if sim < _FUZZY_COMPONENT_MIN:
                continue
            parts.append(weights[1] * sim)
        date_score = 1.0 if not exact_dates or row[8] in exact_dates else _SWAPPED_DATE_SCORE
        parts.append(weights[2] * date_score)
        score = round(sum(parts) / total * _KIND_FACTOR[row[1]], 4)
        if score >= _FUZZY_SCORE_MIN:
            scores.add(row[0], row[1], score)
    return scores


def _filter_children(conn: Connection, req: SearchRequest, scores: _Scores) -> dict[int, float]:
    """Apply gender and postcode, and shielding: a shielded child (the stored household
    flag) is found by its official name only, and never by a postcode search.

    The child table is read only when the request filters, or when some child was found
    by a former name or alias: most searches need no second query.
    """
    suspects = scores.not_official()
    filtering = req.gender is not None or req.postcode is not None
    if not scores.best or not (filtering or suspects):
        return scores.best
    rows = conn.execute(_CHILD_FLAGS, {"pks": list(scores.best) if filtering else suspects}).all()
    kept = dict(scores.best)
    for pk, gender, pc, shielded in rows:
        if shielded:
            if pk in scores.official:
                kept[pk] = scores.official[pk]
            else:
                del kept[pk]
                continue
        if req.gender is not None and gender != req.gender:
            del kept[pk]
            continue
        if req.postcode is not None:
            outward_only = len(req.postcode) <= 4 and not req.postcode[-2:].isalpha()
            if shielded or (pc[:-3] if outward_only else pc) != req.postcode:
                del kept[pk]
    return kept


_CHILD_FLAGS = select(
    child.c.pk, child.c.gender, child.c.postcode_key, child.c.effectively_shielded
).where(child.c.pk.in_(bindparam("pks", expanding=True)))


def _dates(req: SearchRequest) -> tuple[list[int], set[int]]:
    if req.birth_eq is None:
        return [], set()
    exact = birth_int(req.birth_eq)
    dates = [exact]
    if req.fuzzy:
        swapped = swapped_birth_int(req.birth_eq)
        if swapped is not None:
            dates.append(swapped)
    return dates, {exact}


def search_children(conn: Connection, req: SearchRequest) -> list[Match]:
    """Every child matching `req`, best first (the caller applies _max-results)."""
    dates, exact_dates = _dates(req)
    rows = _candidates(conn, req, dates)
    if req.fuzzy:
        scores = _filter_children(conn, req, _fuzzy_scores(req, rows, exact_dates))
        if not scores and dates:
            rows = _probe(conn, ("dates",), {"dates": dates})
            scores = _filter_children(conn, req, _fuzzy_scores(req, rows, exact_dates))
    else:
        scores = _filter_children(conn, req, _strict_scores(req, rows))
    return sorted((Match(pk, s) for pk, s in scores.items()), key=_rank)


def _rank(match: Match) -> tuple[float, int]:
    return (-match.score, match.child_pk)


def naive_search(conn: Connection, req: SearchRequest) -> list[Match]:
    """The benchmark's baseline: read every name row and score every one (no index)."""
    rows = list(conn.execute(select(*_COLUMNS)).all())
    dates, exact_dates = _dates(req)
    names = [r[5] for r in rows] if req.family else [r[4] for r in rows]
    similarity = _similarities(fold(req.family or req.given[0]), names)
    if dates:
        allowed = set(dates)
        keep = [r for r in rows if r[8] in allowed]
    else:
        assert req.birth_ge is not None and req.birth_le is not None
        low, high = birth_int(req.birth_ge), birth_int(req.birth_le)
        keep = [r for r in rows if low <= r[8] <= high]
    _ = similarity
    scores = _fuzzy_scores(req, keep, exact_dates) if req.fuzzy else _strict_scores(req, keep)
    return sorted(
        (Match(pk, s) for pk, s in _filter_children(conn, req, scores).items()), key=_rank
    )


def warm_up() -> None:
    """Load rapidfuzz's and numpy's lazy parts now rather than in the first search."""
    _similarities("warm", ["warm", "worm"])
