"""The deterministic synthetic-data generator behind `cpindex seed`.

Everything comes from one `random.Random(seed)`, so a seed always yields the same rows.
Rows are built in batches of households and written with executemany (COPY on
PostgreSQL); the search indexes are dropped first and built once at the end, which is what
makes a million children fit in a few minutes.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, text

from cpindex.search.keys import birth_int, fold, phonetic, postcode_key
from cpindex.search.nicknames import NICKNAMES
from cpindex.seed import namedata
from cpindex.seed.demo import DEMO_ACCOUNTS, FIXED_CHILDREN, FixedChild
from cpindex.seed.nhs import synthetic_numbers
from cpindex.store.db import bulk_insert, reset_sequences, upgrade
from cpindex.store.schema import (
    SEARCH_INDEXES,
    carer,
    child,
    child_name,
    household,
    involvement,
    organisation,
    practitioner,
    seed_info,
)
from cpindex.store.shielding import refresh_all

__all__ = ["GENERATOR_VERSION", "REFERENCE_DATE", "SeedMismatch", "SeedResult", "seed_database"]

# Ages are counted from a fixed day, not today, so a seed gives the same data every year.
REFERENCE_DATE = dt.date(2026, 9, 1)
_BATCH_CHILDREN = 20_000

_DIALLING = {
    "Leeds": "0113 496",
    "Manchester": "0161 496",
    "Birmingham": "0121 496",
    "Liverpool": "0151 496",
    "Newcastle upon Tyne": "0191 498",
    "Bristol": "0117 496",
    "Sheffield": "0114 496",
    "Nottingham": "0115 496",
    "Cardiff": "029 2018",
    "London": "020 7946",
    "Plymouth": "01632 960",
    "Norwich": "01632 961",
    "York": "01904 496",
    "Leicester": "0116 496",
}
_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
_ROLES = (
    # role, organisation pattern, minimum age, maximum age, share of children in that age
    ("Health visitor", "{town} Community Health Services", 0, 4, 0.30),
    ("School nurse", "{town} School Nursing Service", 5, 16, 0.08),
    ("Social worker", "{town} Council Children's Social Work", 0, 17, 0.05),
    ("Family support worker", "{town} Early Help Service", 0, 12, 0.04),
    ("Connexions adviser", "{town} Connexions", 13, 17, 0.10),
    ("Youth offending officer", "{town} Youth Justice Service", 10, 17, 0.02),
)
_PRACTITIONER_CASELOAD = 25
# Real surnames have a long tail (the commonest 200 cover about a third of people); without
# it a million children share too few surnames and every search matches crowds.
_LONG_TAIL_SHARE = 0.45
# Bumped whenever the same seed would give different data (benchmarks key caches on it).
# 3: Jayden's half-sister Mia (household shielding), demo accounts' organisation kinds.
GENERATOR_VERSION = 3


class SeedMismatch(Exception):
    """The database already holds a different seed; seeding again would mix two worlds."""


@dataclass(frozen=True)
class SeedResult:
    children: int
    seed: int
    created: bool
    seconds: float


def _weighted(pairs: tuple[tuple[str, int], ...]) -> tuple[list[str], list[int]]:
    names = [n for n, _ in pairs]
    return names, list(itertools.accumulate(w for _, w in pairs))


@dataclass
class _District:
    town: str
    outward: str
    schools_primary: list[int] = field(default_factory=list)
    schools_secondary: list[int] = field(default_factory=list)
    gps: list[int] = field(default_factory=list)
    practitioners: dict[str, list[int]] = field(default_factory=dict)


@dataclass
class _Batch:
    households: list[dict[str, Any]] = field(default_factory=list)
    carers: list[dict[str, Any]] = field(default_factory=list)
    children: list[dict[str, Any]] = field(default_factory=list)
    names: list[dict[str, Any]] = field(default_factory=list)
    involvements: list[dict[str, Any]] = field(default_factory=list)

    def write(self, conn: Connection) -> None:
        for table, rows in (
            (household, self.households),
            (carer, self.carers),
            (child, self.children),
            (child_name, self.names),
            (involvement, self.involvements),
        ):
            bulk_insert(conn, table, rows)


class _Generator:
    """Holds the random source and id counters; produces rows."""

    def __init__(self, seed: int, children: int) -> None:
        self.rng = random.Random(seed)  # noqa: S311 (deterministic synthetic data)
        self.total = children
        self.girls = _weighted(namedata.GIRLS)
        self.boys = _weighted(namedata.BOYS)
        self.women = _weighted(namedata.ADULT_FEMALE)
        self.men = _weighted(namedata.ADULT_MALE)
        self.surnames = _weighted(namedata.SURNAMES)
        self.long_tail = namedata.long_tail_surnames()
        self.nhs = synthetic_numbers(self.rng.randrange(9_000_000))
        self.ids = {k: itertools.count(1) for k in ("hh", "carer", "child", "name", "inv")}
        self.districts: list[_District] = []
        self.organisations: list[dict[str, Any]] = []
        self.practitioners: list[dict[str, Any]] = []
        self.caseload: dict[int, int] = {}
        self.start_ordinal = REFERENCE_DATE.replace(year=REFERENCE_DATE.year - 18).toordinal()
        self.end_ordinal = REFERENCE_DATE.toordinal() - 1

    # --- small helpers -----------------------------------------------------------------

    def pick(self, weighted: tuple[list[str], list[int]]) -> str:
        return self.rng.choices(weighted[0], cum_weights=weighted[1])[0]

    def single_surname(self) -> str:
        """A common surname, or one from the long tail of place-name surnames."""
        if self.rng.random() < _LONG_TAIL_SHARE:
            return self.long_tail[self.rng.randrange(len(self.long_tail))]
        return self.pick(self.surnames)

    def surname(self) -> str:
        if self.rng.random() < 0.04:
            first, second = self.single_surname(), self.single_surname()
            if first != second:
                return f"{first}-{second}"
        return self.single_surname()

    def phone(self, town: str) -> str:
        return f"{_DIALLING[town]} {self.rng.randrange(1000):04d}"

    def mobile(self) -> str:
        return f"07700 900{self.rng.randrange(1000):03d}"

    def postcode(self, outward: str) -> str:
        letters = _INWARD_LETTERS
        rng = self.rng
        return f"{outward} {rng.randrange(10)}{rng.choice(letters)}{rng.choice(letters)}"

    def email(self, given: str, family: str) -> str:
        domain = ("example.org", "example.com", "example.net")[self.rng.randrange(3)]
        return f"{fold(given)}.{fold(family)}{self.rng.randrange(100)}@{domain}"

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    # --- the world: organisations and practitioners ------------------------------------

    def build_world(self) -> None:
        org_ids = itertools.count(1)
        prac_ids = itertools.count(1)
        outwards = [(town, out) for _, town, outs in namedata.AREAS for out in outs]
        per_district = max(1, self.total // len(outwards))
        streets = namedata.STREETS
        for town, outward in outwards:
            district = _District(town, outward)
            for kind, count, target in (
                ("school", 3, district.schools_primary),
                ("school", 1, district.schools_secondary),
                ("gp-practice", 2, district.gps),
            ):
                for _ in range(count):
                    root = self.rng.choice(streets).split()[0]
                    if target is district.schools_primary:
                        name = f"{root} {self.rng.choice(('Primary School', 'Infant and Junior School', 'Primary Academy'))}"  # noqa: E501
                    elif target is district.schools_secondary:
                        name = f"{town.split()[0]} {root} {self.rng.choice(('Academy', 'High School', 'Community College'))}"  # noqa: E501
                    else:
                        name = f"{root} {self.rng.choice(('Medical Practice', 'Surgery', 'Health Centre', 'Family Practice'))}"  # noqa: E501
                    oid = next(org_ids)
                    self.organisations.append(
                        {
                            "id": oid,
                            "kind": kind,
                            "name": name,
                            "phone": self.phone(town),
                            "email": f"office.{oid}@example.org",
                            "postcode": self.postcode(outward),
                        }
                    )
                    target.append(oid)
            for role, org_pattern, low, high, share in _ROLES:
                age_share = (high - low + 1) / 18
                expected = per_district * age_share * share
                count = max(1, round(expected / _PRACTITIONER_CASELOAD))
                pool: list[int] = []
                for _ in range(count):
                    woman = self.rng.random() < 0.7
                    given = self.pick(self.women if woman else self.men)
                    family = self.pick(self.surnames)
                    pid = next(prac_ids)
                    self.practitioners.append(
                        {
                            "id": pid,
                            "name": f"{given} {family}",
                            "role": role,
                            "organisation": org_pattern.format(town=town),
                            "phone": self.phone(town),
                            "email": f"{fold(given)}.{fold(family)}@example.gov.uk",
                        }
                    )
                    pool.append(pid)
                district.practitioners[role] = pool
            self.districts.append(district)

    # --- fixed children -----------------------------------------------------------------

    def fixed_rows(self) -> _Batch:
        """The documented test children, with their own organisations and practitioners."""
        batch = _Batch()
        households: dict[str, int] = {}
        org_ids = itertools.count(len(self.organisations) + 1)
        prac_ids = itertools.count(len(self.practitioners) + 1)
        orgs: dict[tuple[str, str], int] = {}
        for fc in FIXED_CHILDREN:
            hh = households.get(fc.household)
            if hh is None:
                hh = next(self.ids["hh"])
                households[fc.household] = hh
                batch.households.append(
                    {
                        "id": hh,
                        "line1": fc.line1,
                        "line2": None,
                        "city": fc.city,
                        "postcode": fc.postcode,
                    }
                )
                for c in fc.carers:
                    batch.carers.append(
                        {
                            "id": next(self.ids["carer"]),
                            "household_id": hh,
                            "given": c.given,
                            "family": c.family,
                            "relationship": c.relationship,
                            "parental_responsibility": c.parental_responsibility,
                            "phone": c.phone,
                            "email": c.email,
                            "line1": c.line1,
                            "city": c.city,
                            "postcode": c.postcode,
                        }
                    )
            org_for: dict[str, int | None] = {}
            for kind, entry in (("school", fc.school), ("gp-practice", fc.gp)):
                if entry is None:
                    org_for[kind] = None
                    continue
                key = (kind, entry[0])
                if key not in orgs:
                    orgs[key] = next(org_ids)
                    self.organisations.append(
                        {
                            "id": orgs[key],
                            "kind": kind,
                            "name": entry[0],
                            "phone": entry[1],
                            "email": None,
                            "postcode": fc.postcode,
                        }
                    )
                org_for[kind] = orgs[key]
            pk = next(self.ids["child"])
            batch.children.append(
                self.child_row(
                    pk,
                    fc.index_id,
                    fc.nhs_number,
                    fc.given,
                    fc.family,
                    fc.birth_date,
                    fc.gender,
                    hh,
                    fc.postcode,
                    org_for["school"],
                    org_for["gp-practice"],
                    fc.caf,
                    fc.shielded,
                    fc.sensitive_contact,
                )
            )
            self.name_rows(batch, pk, fc.given, fc.family, fc.birth_date, fc)
            for inv in fc.involvements:
                pid = next(prac_ids)
                self.practitioners.append(
                    {
                        "id": pid,
                        "name": inv.name,
                        "role": inv.role,
                        "organisation": inv.organisation,
                        "phone": inv.phone,
                        "email": inv.email,
                    }
                )
                batch.involvements.append(
                    {
                        "id": next(self.ids["inv"]),
                        "child_pk": pk,
                        "practitioner_id": pid,
                        "since": inv.since,
                        "lead": inv.lead,
                    }
                )
        return batch

    def child_row(
        self,
        pk: int,
        index_id: str,
        nhs_number: str,
        given: tuple[str, ...],
        family: str,
        birth: dt.date,
        gender: str,
        hh: int,
        postcode: str,
        school: int | None,
        gp: int | None,
        caf: bool,
        shielded: bool,
        sensitive: str | None,
    ) -> dict[str, Any]:
        return {
            "pk": pk,
            "index_id": index_id,
            "nhs_number": nhs_number,
            "given": " ".join(given),
            "family": family,
            "birth_date": birth,
            "birth_int": birth_int(birth),
            "gender": gender,
            "household_id": hh,
            "postcode_key": postcode_key(postcode),
            "school_id": school,
            "gp_id": gp,
            "caf": caf,
            "shielded": shielded,
            "sensitive_contact": sensitive,
        }

    def name_rows(
        self,
        batch: _Batch,
        pk: int,
        given: tuple[str, ...],
        family: str,
        birth: dt.date,
        fixed: FixedChild | None = None,
        previous: tuple[str, ...] = (),
        aliases: tuple[str, ...] = (),
    ) -> None:
        if fixed is not None:
            previous, aliases = fixed.previous_family, fixed.aliases
        bint = birth_int(birth)
        entries = [("official", given, family)]
        entries += [("old", given, old) for old in previous]
        entries += [("nickname", (alias,), family) for alias in aliases]
        for kind, g, f in entries:
            batch.names.append(
                {
                    "id": next(self.ids["name"]),
                    "child_pk": pk,
                    "kind": kind,
                    "given": " ".join(g),
                    "family": f,
                    "given_fold": fold(g[0]),
                    "family_fold": fold(f),
                    "given_phon": phonetic(g[0]),
                    "family_phon": phonetic(f),
                    "birth_int": bint,
                }
            )

    # --- generated households ----------------------------------------------------------

    def batches(self, count: int) -> Iterator[_Batch]:
        made = 0
        batch = _Batch()
        while made < count:
            made += self.household(batch, count - made)
            if len(batch.children) >= _BATCH_CHILDREN:
                yield batch
                batch = _Batch()
        if batch.children:
            yield batch

    def household(self, batch: _Batch, room: int) -> int:
        rng = self.rng
        district = self.districts[rng.randrange(len(self.districts))]
        postcode = self.postcode(district.outward)
        hh = next(self.ids["hh"])
        batch.households.append(
            {
                "id": hh,
                "line1": f"{rng.randint(1, 180)} {rng.choice(namedata.STREETS)}",
                "line2": None,
                "city": district.town,
                "postcode": postcode,
            }
        )
        surname = self.surname()
        birth_surname = surname  # the children's name before any change of carer
        shape = rng.random()
        carers: list[tuple[str, str, str, bool, bool]] = []  # given, family, rel, pr, away
        if shape < 0.55:
            father_family = surname if rng.random() < 0.8 else self.surname()
            carers = [
                (self.pick(self.women), surname, "MTH", True, False),
                (self.pick(self.men), father_family, "FTH", True, False),
            ]
        elif shape < 0.80:
            carers = [(self.pick(self.women), surname, "MTH", True, False)]
            if rng.random() < 0.4:
                carers.append((self.pick(self.men), self.surname(), "FTH", True, True))
        elif shape < 0.86:
            carers = [(self.pick(self.men), surname, "FTH", True, False)]
        elif shape < 0.91:
            birth_surname = self.surname()
            carers = [(self.pick(self.women), surname, "GRMTH", True, False)]
        elif shape < 0.95:
            birth_surname = self.surname()
            carers = [
                (self.pick(self.women), surname, "MTH", True, False),
                (self.pick(self.men), surname, "STPFTH", False, False),
            ]
        elif shape < 0.98:
            birth_surname = self.surname()
            carers = [(self.pick(self.women), surname, "FSTPAR", False, False)]
            if rng.random() < 0.6:
                carers.append((self.pick(self.men), surname, "FSTPAR", False, False))
        else:
            carers = [
                (self.pick(self.men), surname, "FTH", True, False),
                (self.pick(self.women), surname, "STPMTH", False, False),
            ]
        for given, family, rel, pr, away in carers:
            elsewhere = away or rng.random() < 0.03
            other = self.districts[rng.randrange(len(self.districts))]
            batch.carers.append(
                {
                    "id": next(self.ids["carer"]),
                    "household_id": hh,
                    "given": given,
                    "family": family,
                    "relationship": rel,
                    "parental_responsibility": pr,
                    "phone": self.mobile() if rng.random() < 0.95 else None,
                    "email": self.email(given, family) if rng.random() < 0.7 else None,
                    "line1": f"{rng.randint(1, 180)} {rng.choice(namedata.STREETS)}"
                    if elsewhere
                    else None,
                    "city": other.town if elsewhere else None,
                    "postcode": self.postcode(other.outward) if elsewhere else None,
                }
            )
        size = min(room, rng.choices((1, 2, 3, 4, 5), cum_weights=(40, 78, 93, 98, 100))[0])
        changed_carer = birth_surname != surname
        for _ in range(size):
            self.one_child(batch, district, hh, postcode, surname, birth_surname, changed_carer)
        return size

    def one_child(
        self,
        batch: _Batch,
        district: _District,
        hh: int,
        postcode: str,
        surname: str,
        birth_surname: str,
        changed_carer: bool,
    ) -> None:
        rng = self.rng
        roll = rng.random()
        gender = "female" if roll < 0.49 else "male" if roll < 0.99 else "unknown"
        if roll >= 0.995:
            gender = "other"
        names = self.girls if gender == "female" else self.boys
        if gender in ("unknown", "other"):
            names = self.girls if rng.random() < 0.5 else self.boys
        given: tuple[str, ...] = (self.pick(names),)
        if rng.random() < 0.35:
            middle = self.pick(names)
            if middle != given[0]:
                given = (given[0], middle)
        birth = dt.date.fromordinal(rng.randint(self.start_ordinal, self.end_ordinal))
        age = (REFERENCE_DATE - birth).days // 365
        family = surname
        previous: tuple[str, ...] = ()
        if changed_carer:
            if rng.random() < 0.5:
                family, previous = surname, (birth_surname,)
            else:
                family = birth_surname
        aliases: tuple[str, ...] = ()
        nicks = NICKNAMES.get(given[0])
        if nicks and rng.random() < 0.15:
            aliases = (rng.choice(nicks),)
        school = None
        if age >= 4:
            pool = district.schools_primary if age < 11 else district.schools_secondary
            school = pool[rng.randrange(len(pool))]
        gp = district.gps[rng.randrange(len(district.gps))] if rng.random() < 0.98 else None
        caf = rng.random() < 0.06
        shielded = rng.random() < 0.005
        sensitive = f"0300 555 {rng.randrange(10000):04d}" if rng.random() < 0.02 else None
        pk = next(self.ids["child"])
        batch.children.append(
            self.child_row(
                pk,
                self.uuid(),
                next(self.nhs),
                given,
                family,
                birth,
                gender,
                hh,
                postcode,
                school,
                gp,
                caf,
                shielded,
                sensitive,
            )
        )
        self.name_rows(batch, pk, given, family, birth, previous=previous, aliases=aliases)
        chosen: list[tuple[str, int]] = []
        for role, _org, low, high, share in _ROLES:
            if low <= age <= high and rng.random() < share * (2 if caf else 1):
                pool_ids = district.practitioners[role]
                chosen.append((role, pool_ids[rng.randrange(len(pool_ids))]))
        if chosen:
            lead_index = -1
            if caf or len(chosen) > 1:
                roles = [r for r, _ in chosen]
                lead_index = roles.index("Social worker") if "Social worker" in roles else 0
            for i, (_role, pid) in enumerate(chosen):
                since = dt.date.fromordinal(rng.randint(birth.toordinal(), self.end_ordinal))
                batch.involvements.append(
                    {
                        "id": next(self.ids["inv"]),
                        "child_pk": pk,
                        "practitioner_id": pid,
                        "since": since,
                        "lead": i == lead_index,
                    }
                )


def seed_database(
    engine: Engine,
    *,
    children: int,
    seed: int,
    progress: Callable[[int], None] | None = None,
) -> SeedResult:
    """Create or upgrade the schema and load `children` synthetic children for `seed`.

    Running it again with the same arguments is a fast no-op; other arguments on a seeded
    database raise SeedMismatch rather than mixing two data sets.
    """
    from cpindex.audit.organisations import set_organisation_kind
    from cpindex.auth.users import create_demo_accounts

    started = time.monotonic()
    if children < len(FIXED_CHILDREN):
        raise ValueError(f"--children must be at least {len(FIXED_CHILDREN)}")
    upgrade(engine)
    with engine.connect() as conn:
        existing = dict(conn.execute(select(seed_info.c.key, seed_info.c.value)).all())
        held = conn.scalar(select(func.count()).select_from(child)) or 0
    if existing:
        if existing.get("children") == str(children) and existing.get("seed") == str(seed):
            return SeedResult(children, seed, False, time.monotonic() - started)
        raise SeedMismatch(
            f"database already seeded with --children {existing.get('children')} "
            f"--seed {existing.get('seed')}; use a new database"
        )
    if held:
        raise SeedMismatch("database already holds children; use a new database")
    gen = _Generator(seed, children)
    gen.build_world()
    with engine.begin() as conn:
        for index in SEARCH_INDEXES:
            index.drop(conn, checkfirst=True)
    fixed = gen.fixed_rows()
    with engine.begin() as conn:
        conn.execute(insert(organisation), gen.organisations)
        conn.execute(insert(practitioner), gen.practitioners)
        fixed.write(conn)
    done = len(FIXED_CHILDREN)
    for batch in gen.batches(children - done):
        with engine.begin() as conn:
            batch.write(conn)
        done += len(batch.children)
        if progress is not None:
            progress(done)
    with engine.begin() as conn:
        for index in SEARCH_INDEXES:
            index.create(conn)
        reset_sequences(
            conn,
            ("organisation.id", "practitioner.id", "household.id", "carer.id", "child.pk",
             "child_name.id", "involvement.id"),
        )  # fmt: skip
        refresh_all(conn)  # household shielding, before anything can be served
        conn.execute(text("ANALYZE"))
        create_demo_accounts(conn)
        for account in DEMO_ACCOUNTS:
            set_organisation_kind(conn, account.username, account.organisation_kind)
        conn.execute(
            insert(seed_info),
            [
                {"key": "children", "value": str(children)},
                {"key": "seed", "value": str(seed)},
                {"key": "reference_date", "value": REFERENCE_DATE.isoformat()},
                {"key": "generator_version", "value": str(GENERATOR_VERSION)},
            ],
        )
    return SeedResult(children, seed, True, time.monotonic() - started)
