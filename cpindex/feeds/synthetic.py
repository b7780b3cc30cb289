"""Synthetic feeds made from a seeded index, with planted errors and the truth kept aside.

Used to train the model (`cpindex feed train`), by benchmarks/linkage.py and by the tests.
Every error kind a council system makes is planted on purpose: typos, nicknames,
hyphenated surnames split or joined, day/month swaps, a moved postcode, missing NHS
numbers, twins, and children who are not in the index at all. All data is synthetic.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy import Connection, func, insert, select

from cpindex.feeds.formats import FeedRow
from cpindex.search.keys import fold, phonetic, postcode_key
from cpindex.search.nicknames import NICKNAMES
from cpindex.seed.nhs import synthetic_numbers
from cpindex.store.schema import child, child_name, household

__all__ = ["ERROR_KINDS", "SyntheticFeed", "make_feed", "plant_twins"]

ERROR_KINDS = (
    "exact",
    "typo",
    "nickname",
    "hyphen",
    "swap",
    "moved",
    "twin",
    "absent",
)
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_ROLES = (
    ("Social worker", "Council Children's Social Work"),
    ("Health visitor", "Community Health Services"),
    ("School nurse", "School Nursing Service"),
    ("Family support worker", "Early Help Service"),
)


@dataclass(frozen=True)
class SyntheticFeed:
    rows: tuple[FeedRow, ...]
    truth: dict[int, int | None]  # row number -> child pk (None: not in the index)
    kinds: dict[int, str]  # row number -> the error planted
    twin_pairs: dict[int, int]  # a twin's pk -> its twin's pk


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(3)
    if kind == 0:  # transposition
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 1:  # deletion
        return word[:i] + word[i + 1 :]
    letter = rng.choice(_LETTERS)
    return word[:i] + letter + word[i + 1 :]


def plant_twins(conn: Connection, count: int, rng: random.Random) -> dict[int, int]:
    """Add a twin for `count` children: same household, surname and date of birth.

    Returns each pair both ways (pk -> twin's pk). The twin gets a different given name
    of the same sex and a fresh synthetic NHS number.
    """
    top = conn.execute(select(func.max(child.c.pk))).scalar_one()
    used = set(conn.execute(select(child.c.nhs_number)).scalars())
    numbers = (n for n in synthetic_numbers(rng.randrange(9_000_000)) if n not in used)
    candidates = conn.execute(
        select(child).where(child.c.pk <= top).order_by(child.c.pk).limit(count * 40)
    ).all()
    picked = rng.sample(candidates, min(count, len(candidates)))
    givens = [r.given.split()[0] for r in candidates]
    pairs: dict[int, int] = {}
    for offset, original in enumerate(picked, start=1):
        given = original.given.split()[0]
        other = rng.choice([g for g in givens if g[0] != given[0]])
        pk = top + offset
        values = dict(original._mapping)
        values.update(
            pk=pk,
            index_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            nhs_number=next(numbers),
            given=other,
        )
        conn.execute(insert(child).values(**values))
        conn.execute(
            insert(child_name).values(
                child_pk=pk,
                kind="official",
                given=other,
                family=original.family,
                given_fold=fold(other),
                family_fold=fold(original.family),
                given_phon=phonetic(other),
                family_phon=phonetic(original.family),
                birth_int=original.birth_int,
            )
        )
        pairs[pk] = original.pk
        pairs[original.pk] = pk
    return pairs


def make_feed(
    conn: Connection,
    size: int,
    seed: int,
    *,
    twin_pairs: dict[int, int] | None = None,
    nhs_share: float = 0.6,
    error_share: float = 0.35,
) -> SyntheticFeed:
    """A feed of `size` rows from the index behind `conn`, errors planted at `error_share`."""
    rng = random.Random(seed)  # noqa: S311 (synthetic data, not secrets)
    twin_pairs = twin_pairs or {}
    pks = conn.execute(select(child.c.pk).order_by(child.c.pk)).scalars().all()
    absent_share = 0.03
    chosen = rng.sample(pks, min(len(pks), int(size * (1 - absent_share))))
    twins = [pk for pk in chosen if pk in twin_pairs]
    if twin_pairs:
        # Every planted pair is sent in full: the hardest case for a linker.
        extra = [pk for pair in twin_pairs.items() for pk in pair if pk not in chosen]
        chosen = list(dict.fromkeys([*extra, *chosen]))[: len(chosen)]
        twins = [pk for pk in chosen if pk in twin_pairs]
    records = {
        r.pk: r
        for chunk in _chunks(chosen, 500)
        for r in conn.execute(
            select(
                child.c.pk,
                child.c.given,
                child.c.family,
                child.c.birth_date,
                child.c.nhs_number,
                household.c.postcode,
            )
            .join(household, household.c.id == child.c.household_id)
            .where(child.c.pk.in_(chunk))
        )
    }
    postcodes = [r.postcode for r in records.values()]
    rows: list[FeedRow] = []
    truth: dict[int, int | None] = {}
    kinds: dict[int, str] = {}
    twin_set = set(twins)
    for number, pk in enumerate(chosen, start=2):
        rec = records[pk]
        row = _row(rng, number, rec.given, rec.family, rec.birth_date, rec.postcode)
        row = replace(row, nhs_number=rec.nhs_number if rng.random() < nhs_share else None)
        kind = "exact"
        if pk in twin_set:
            kind = "twin"
            row = replace(row, nhs_number=None)
        elif rng.random() < error_share:
            kind, row = _plant(rng, row, postcodes)
        rows.append(row)
        truth[number], kinds[number] = pk, kind
    for number in range(len(chosen) + 2, size + 2):
        given = rng.choice([r.given for r in records.values()]).split()[0]
        family = _typo(rng, rng.choice([r.family for r in records.values()])).title()
        birth = dt.date(2009, 1, 1) + dt.timedelta(days=rng.randrange(17 * 365))
        rows.append(_row(rng, number, given, family, birth, rng.choice(postcodes)))
        truth[number], kinds[number] = None, "absent"
    return SyntheticFeed(tuple(rows), truth, kinds, dict(twin_pairs))


def _chunks(items: Sequence[int], size: int) -> list[Sequence[int]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _row(
    rng: random.Random, number: int, given: str, family: str, birth: dt.date, postcode: str
) -> FeedRow:
    role, service = _ROLES[rng.randrange(len(_ROLES))]
    worker = f"Worker {rng.randrange(100000):05d}"
    return FeedRow(
        number=number,
        given=given,
        family=family,
        birth_date=birth,
        postcode=postcode,
        nhs_number=None,
        practitioner_name=worker,
        role=role,
        organisation=f"Synthetic {service}",
        phone=f"0113 496 {rng.randrange(10000):04d}",
        email=f"{fold(worker)}@example.org",
        since=min(birth + dt.timedelta(days=rng.randrange(2000)), dt.date(2026, 8, 31)),
        lead=rng.random() < 0.3,
    )


def _plant(rng: random.Random, row: FeedRow, postcodes: list[str]) -> tuple[str, FeedRow]:
    """One planted error; falls back to a typo where the chosen kind does not apply."""
    kind = rng.choice(("typo", "nickname", "hyphen", "swap", "moved"))
    first, *rest = row.given.split()
    if kind == "nickname" and first in NICKNAMES:
        return kind, replace(row, given=rng.choice(NICKNAMES[first]))
    if kind == "hyphen" and "-" in row.family:
        parts = row.family.split("-")
        choice = rng.randrange(3)
        family = (parts[0], " ".join(parts), "".join(parts))[choice]
        return kind, replace(row, family=family)
    if kind == "swap":
        d = row.birth_date
        if d.day <= 12 and d.day != d.month:
            return kind, replace(row, birth_date=d.replace(day=d.month, month=d.day))
    if kind == "moved":
        moved = rng.choice(postcodes)
        if postcode_key(moved) != postcode_key(row.postcode or ""):
            return kind, replace(row, postcode=moved)
    if rng.random() < 0.5:
        return "typo", replace(row, given=" ".join([_typo(rng, first).title(), *rest]))
    return "typo", replace(row, family=_typo(rng, row.family).title())
