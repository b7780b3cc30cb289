"""The seed is deterministic, realistic in shape, and its NHS-style numbers are valid."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from cpindex.seed.demo import DEMO_ACCOUNTS, FIXED_CHILDREN
from cpindex.seed.generate import SeedMismatch, seed_database
from cpindex.seed.nhs import check_digit, is_valid, synthetic_numbers
from cpindex.store.db import make_engine
from cpindex.store.schema import (
    carer,
    child,
    child_name,
    household,
    involvement,
    metadata,
    user_account,
)

CHILD_TABLES = (
    "organisation",
    "practitioner",
    "household",
    "carer",
    "child",
    "child_name",
    "involvement",
)


def _digest(engine: Engine) -> str:
    digest = hashlib.sha256()
    with engine.connect() as conn:
        for name in CHILD_TABLES:
            table = metadata.tables[name]
            for row in conn.execute(select(table).order_by(*table.primary_key.columns)):
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def _seed(path: Path, children: int, seed: int) -> Engine:
    engine = make_engine(f"sqlite:///{path}", bulk_load=True)
    seed_database(engine, children=children, seed=seed)
    return engine


def test_same_seed_same_data_other_seed_other_data(tmp_path: Path) -> None:
    first = _seed(tmp_path / "a.db", 800, 7)
    second = _seed(tmp_path / "b.db", 800, 7)
    third = _seed(tmp_path / "c.db", 800, 8)
    assert _digest(first) == _digest(second)
    assert _digest(first) != _digest(third)


def test_reseeding_alike_is_a_no_op_and_unlike_is_refused(tmp_path: Path) -> None:
    engine = _seed(tmp_path / "a.db", 300, 3)
    before = _digest(engine)
    result = seed_database(engine, children=300, seed=3)
    assert result.created is False and _digest(engine) == before
    with pytest.raises(SeedMismatch):
        seed_database(engine, children=301, seed=3)
    with pytest.raises(SeedMismatch):
        seed_database(engine, children=300, seed=4)


def test_nhs_numbers_pass_modulus_11(seeded_engine: Engine) -> None:
    with seeded_engine.connect() as conn:
        numbers = conn.execute(select(child.c.nhs_number)).scalars().all()
    assert len(numbers) == len(set(numbers)) > 1000
    assert all(is_valid(n) for n in numbers)
    assert all(n.startswith("99") for n in numbers)


def test_modulus_11_rules() -> None:
    assert check_digit("943476591") == 9  # the NHS's published worked example
    assert is_valid("9434765919") and not is_valid("9434765918")
    assert check_digit("123456788") is None or len(str(check_digit("123456788"))) == 1
    assert not is_valid("12345") and not is_valid("abcdefghij")
    numbers = synthetic_numbers(0)
    first = [next(numbers) for _ in range(5000)]
    assert len(set(first)) == 5000 and all(is_valid(n) for n in first)


def test_shape_of_the_data(seeded_engine: Engine) -> None:
    with seeded_engine.connect() as conn:
        total = conn.scalar(select(func.count()).select_from(child)) or 0
        shielded = conn.scalar(select(func.count()).where(child.c.shielded.is_(True))) or 0
        hyphenated = conn.scalar(select(func.count()).where(child.c.family.like("%-%"))) or 0
        old = conn.scalar(select(func.count()).where(child_name.c.kind == "old")) or 0
        aliases = conn.scalar(select(func.count()).where(child_name.c.kind == "nickname")) or 0
        siblings = conn.execute(
            select(child.c.household_id).group_by(child.c.household_id).having(func.count() > 1)
        ).all()
        households = conn.scalar(select(func.count()).select_from(household)) or 0
        carers = conn.scalar(select(func.count()).select_from(carer)) or 0
        caseloads = (
            conn.execute(
                select(func.count())
                .select_from(involvement)
                .group_by(involvement.c.practitioner_id)
            )
            .scalars()
            .all()
        )
        genders = dict(
            conn.execute(select(child.c.gender, func.count()).group_by(child.c.gender)).all()
        )
        users = conn.execute(select(user_account.c.username)).scalars().all()
    assert total == 3000
    assert 0.001 < shielded / total < 0.02  # about 0.5 %
    assert hyphenated > 20 and old > 20 and aliases > 20
    assert len(siblings) > 300 and households < total and carers > households
    assert max(caseloads) > 5  # practitioners carry caseloads
    assert genders["female"] > 1000 and genders["male"] > 1000
    assert {a.username for a in DEMO_ACCOUNTS} <= set(users)


def test_fixed_children_present_with_details(seeded_engine: Engine) -> None:
    with seeded_engine.connect() as conn:
        for fixed in FIXED_CHILDREN:
            row = conn.execute(
                select(
                    child.c.given,
                    child.c.family,
                    child.c.birth_date,
                    child.c.gender,
                    child.c.shielded,
                    child.c.nhs_number,
                ).where(child.c.index_id == fixed.index_id)
            ).one()
            assert row == (
                " ".join(fixed.given),
                fixed.family,
                fixed.birth_date,
                fixed.gender,
                fixed.shielded,
                fixed.nhs_number,
            )
            assert is_valid(fixed.nhs_number)


def test_ids_continue_after_the_bulk_load(seeded_engine: Engine) -> None:
    """Explicit ids in the seed must not collide with later inserts (PostgreSQL sequences)."""
    with seeded_engine.begin() as conn:
        top = conn.scalar(select(func.max(household.c.id))) or 0
        new_id = conn.execute(
            household.insert().values(line1="1 Test Street", city="Leeds", postcode="LS1 1AA")
        ).inserted_primary_key
        assert new_id is not None and new_id[0] > top
        conn.execute(household.delete().where(household.c.id == new_id[0]))
