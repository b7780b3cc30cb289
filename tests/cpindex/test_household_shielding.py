"""The stored household flag (`child.effectively_shielded`) is right after every write:
the seed, migration 0006 on existing data, and `refresh_households` after a change."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine, func, select, text, update

from cpindex.seed.demo import fixed_child
from cpindex.store.db import make_engine, upgrade
from cpindex.store.schema import child
from cpindex.store.shielding import refresh_all, refresh_households

# Households: 1 the shielded child's home; 2 a second row for the same address (spelt
# differently); 3 shares the mother (same name and phone); 4 has a carer living at home 1;
# 6 shares a carer with 3 (a step further); 5 is unrelated.
_HOMES = [
    (1, "3 Hidden Row", "BS5 9QX"),
    (2, "3 hidden row", "bs59qx"),
    (3, "8 Other Street", "BS7 1AB"),
    (4, "1 Far Lane", "LS6 2QB"),
    (5, "9 Elsewhere Road", "M14 5RL"),
    (6, "2 Next Close", "BS3 4CD"),
]
_CARERS = [
    (1, 1, "Karen", "Marsh", "07700 900789", None, None),
    (2, 3, "Karen", "Marsh", "07700900789", None, None),
    (3, 3, "Paul", "Kerr", "07700 900111", None, None),
    (4, 4, "Lee", "Marsh", None, None, ("3 Hidden Row", "BS5 9QX")),
    (5, 5, "Ann", "Other", "07700 900222", "ann@example.org", None),
    (6, 6, "Paul", "Kerr", None, None, None),
    (7, 6, "Paul", "Kerr", "07700 900111", None, None),
]
# child pk -> (household, shielded)
_CHILDREN = {1: (1, True), 2: (1, False), 3: (2, False), 4: (3, False), 5: (4, False),
             6: (5, False), 7: (6, False)}  # fmt: skip
_LINKED = {1, 2, 3, 4, 5, 7}


def _insert(conn: Connection, children: dict[int, tuple[int, bool]]) -> None:
    for hh, line1, postcode in _HOMES:
        conn.execute(
            text("INSERT INTO household (id, line1, city, postcode) VALUES (:i, :l, 'X', :p)"),
            {"i": hh, "l": line1, "p": postcode},
        )
    for cid, hh, given, family, phone, email, away in _CARERS:
        conn.execute(
            text(
                "INSERT INTO carer (id, household_id, given, family, relationship, "
                "parental_responsibility, phone, email, line1, city, postcode) "
                "VALUES (:i, :h, :g, :f, 'MTH', :t, :ph, :e, :l, :c, :p)"
            ),
            {"i": cid, "h": hh, "g": given, "f": family, "t": True, "ph": phone, "e": email,
             "l": away[0] if away else None, "c": "X" if away else None,
             "p": away[1] if away else None},
        )  # fmt: skip
    for pk, (hh, shielded) in children.items():
        conn.execute(
            text(
                "INSERT INTO child (pk, index_id, nhs_number, given, family, birth_date, "
                "birth_int, gender, household_id, postcode_key, caf, shielded) VALUES "
                "(:pk, :id, :nhs, 'A', 'B', '2015-01-01', 20150101, 'female', :hh, 'X', "
                ":f, :s)"
            ),
            {"pk": pk, "id": f"id-{pk}", "nhs": f"{pk:010d}", "hh": hh, "f": False,
             "s": shielded},
        )  # fmt: skip
        conn.execute(  # rows referring to the child: an upgrade must keep them valid
            text(
                "INSERT INTO child_name (child_pk, kind, given, family, given_fold, "
                "family_fold, given_phon, family_phon, birth_int) VALUES "
                "(:pk, 'official', 'A', 'B', 'a', 'b', 'A', 'B', 20150101)"
            ),
            {"pk": pk},
        )


def _flags(conn: Connection) -> dict[int, bool]:
    rows = conn.execute(select(child.c.pk, child.c.effectively_shielded)).all()
    return {pk: bool(flag) for pk, flag in rows}


def test_the_migration_marks_existing_households(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'before.db'}")
    upgrade(engine, "0004")
    with engine.begin() as conn:
        _insert(conn, _CHILDREN)
    upgrade(engine)
    with engine.connect() as conn:
        assert {pk for pk, flag in _flags(conn).items() if flag} == _LINKED
    engine.dispose()


def test_a_write_refreshes_the_households_it_touches(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'writes.db'}")
    upgrade(engine)
    with engine.begin() as conn:
        _insert(conn, {pk: (hh, False) for pk, (hh, _) in _CHILDREN.items()})
        refresh_all(conn)
        assert not any(_flags(conn).values())
        # A feed marks child 1 shielded: its whole linked group follows.
        conn.execute(update(child).where(child.c.pk == 1).values(shielded=True))
        refresh_households(conn, [1])
        assert {pk for pk, flag in _flags(conn).items() if flag} == _LINKED
        # A new child joins household 6 (linked through a carer): marked on write.
        conn.execute(
            text(
                "INSERT INTO child (pk, index_id, nhs_number, given, family, birth_date, "
                "birth_int, gender, household_id, postcode_key, caf, shielded) VALUES "
                "(8, 'id-8', '0000000008', 'A', 'B', '2016-01-01', 20160101, 'male', 6, "
                "'X', :f, :f)"
            ),
            {"f": False},
        )
        refresh_households(conn, [6])
        assert _flags(conn)[8] is True
        # Shielding lifted: the group is served normally again.
        conn.execute(update(child).where(child.c.pk == 1).values(shielded=False))
        refresh_households(conn, [1])
        assert not any(_flags(conn).values())
    engine.dispose()


def test_the_seeded_flag_is_what_a_recomputation_gives(seeded_engine: Engine) -> None:
    with seeded_engine.connect() as conn:
        before = _flags(conn)
        refresh_all(conn)
        after = _flags(conn)
        conn.rollback()  # leave the shared store as it was
        mia = conn.scalar(
            select(child.c.effectively_shielded).where(
                child.c.index_id == fixed_child("Marsh", "Mia").index_id
            )
        )
        own = conn.scalar(select(func.count()).where(child.c.shielded.is_(True)))
    assert after == before
    assert mia is True  # not shielded herself: her half-brother is
    assert sum(before.values()) > (own or 0) > 0
