"""Demo accounts and fixed test children planted in every seeded database.

Tests, screenshots and `cpdesk demo` rely on these exact values; change them only with the
docs (docs/index.md) and the tests that use them.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from dataclasses import dataclass, field

__all__ = [
    "DEMO_ACCOUNTS",
    "DEMO_PASSWORD",
    "FIXED_CHILDREN",
    "INDEX_TEAM_PHONE",
    "DemoAccount",
    "FixedCarer",
    "FixedChild",
    "FixedInvolvement",
    "demo_account",
    "fixed_child",
]

DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 (documented demo password)
INDEX_TEAM_PHONE = "0300 000 0000"


def _demo_secret(username: str) -> str:
    """A fixed base32 TOTP secret per demo account (demo only: anyone can compute it)."""
    digest = hashlib.sha256(f"cpindex-demo-totp:{username}".encode()).digest()[:20]
    return base64.b32encode(digest).decode("ascii")


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    role: str
    organisation: str
    display_name: str
    totp_secret: str = field(repr=False)
    organisation_kind: str = "other"  # for the misuse report (cpindex.audit.organisations)


DEMO_ACCOUNTS: tuple[DemoAccount, ...] = tuple(
    DemoAccount(user, DEMO_PASSWORD, role, org, name, _demo_secret(user), kind)
    for user, role, org, name, kind in (
        ("nurse.demo", "practitioner", "Northgate General Hospital A&E", "Sam Okafor",
         "emergency-department"),
        ("social.demo", "practitioner", "Northgate Council Children's Services", "Priya Shah",
         "social-care"),
        ("indexteam.demo", "index-team", "National Index Team", "Alex Morgan", "other"),
        ("admin.demo", "admin", "National Index Team", "Jo Reid", "other"),
    )
)  # fmt: skip


def demo_account(username: str) -> DemoAccount:
    for account in DEMO_ACCOUNTS:
        if account.username == username:
            return account
    raise KeyError(username)


@dataclass(frozen=True)
class FixedCarer:
    given: str
    family: str
    relationship: str  # v3 RoleCode
    parental_responsibility: bool
    phone: str | None
    email: str | None
    line1: str | None = None  # where the carer lives elsewhere
    city: str | None = None
    postcode: str | None = None


@dataclass(frozen=True)
class FixedInvolvement:
    name: str
    role: str
    organisation: str
    phone: str
    email: str
    since: dt.date
    lead: bool


@dataclass(frozen=True)
class FixedChild:
    """A documented test child. `postcode` is held even for shielded children (never served)."""

    index_id: str
    nhs_number: str
    given: tuple[str, ...]
    family: str
    birth_date: dt.date
    gender: str
    postcode: str
    shielded: bool
    line1: str = ""
    city: str = ""
    previous_family: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()  # given names the child is also known by
    carers: tuple[FixedCarer, ...] = ()
    school: tuple[str, str] | None = None  # (name, phone)
    gp: tuple[str, str] | None = None
    involvements: tuple[FixedInvolvement, ...] = ()
    caf: bool = False
    sensitive_contact: str | None = None
    household: str = ""  # children with the same household share carers and address


_SMITHFIELD_CARERS = (
    FixedCarer(
        "Claire", "Smithfield", "MTH", True, "07700 900123", "claire.smithfield@example.org"
    ),
    FixedCarer(
        "Daniel",
        "Smithfield",
        "FTH",
        True,
        "07700 900456",
        "d.smithfield@example.com",
        line1="22 Cardigan Road",
        city="Leeds",
        postcode="LS6 3AG",
    ),
)

_MARSH_CARERS = (FixedCarer("Karen", "Marsh", "MTH", True, "07700 900789", "k.marsh@example.org"),)
_MARSH_SCHOOL = ("Easton Church of England Academy", "0117 496 0111")
_MARSH_GP = ("Stapleton Road Surgery", "0117 496 0222")

FIXED_CHILDREN: tuple[FixedChild, ...] = (
    FixedChild(
        index_id="0f5c2a9e-6b1d-4c3e-9a7f-1d2e3f4a5b60",
        nhs_number="9990000018",
        given=("Olivia", "Rose"),
        family="Smithfield",
        birth_date=dt.date(2011, 3, 14),
        gender="female",
        postcode="LS6 2QB",
        shielded=False,
        line1="14 Headingley Lane",
        city="Leeds",
        carers=_SMITHFIELD_CARERS,
        school=("Headingley Park High School", "0113 496 0101"),
        gp=("Hyde Park Surgery", "0113 496 0202"),
        involvements=(
            FixedInvolvement(
                "Hannah Lowe",
                "Social worker",
                "Leeds City Council Children's Social Work",
                "0113 496 0303",
                "hannah.lowe@example.gov.uk",
                dt.date(2025, 9, 1),
                True,
            ),
            FixedInvolvement(
                "Martin Dobbs",
                "School nurse",
                "Leeds Community Healthcare",
                "0113 496 0404",
                "martin.dobbs@example.nhs.uk",
                dt.date(2024, 1, 15),
                False,
            ),
            FixedInvolvement(
                "Aisha Rahman",
                "Connexions adviser",
                "Leeds Connexions",
                "0113 496 0505",
                "aisha.rahman@example.org",
                dt.date(2026, 2, 3),
                False,
            ),
        ),
        caf=True,
        household="smithfield",
    ),
    FixedChild(
        index_id="4b8e1c2d-3f4a-4b5c-8d6e-7f8091a2b3c4",
        nhs_number="9990000026",
        given=("Noah",),
        family="Smithfield",
        birth_date=dt.date(2014, 6, 2),
        gender="male",
        postcode="LS6 2QB",
        shielded=False,
        line1="14 Headingley Lane",
        city="Leeds",
        carers=_SMITHFIELD_CARERS,
        gp=("Hyde Park Surgery", "0113 496 0202"),
        household="smithfield",
    ),
    FixedChild(
        index_id="9a1b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d",
        nhs_number="9990000034",
        given=("Jayden",),
        family="Marsh-Whitley",
        birth_date=dt.date(2012, 7, 9),
        gender="male",
        postcode="BS5 9QX",
        shielded=True,
        line1="3 Hidden Row",
        city="Bristol",
        previous_family=("Whitley",),
        carers=_MARSH_CARERS,
        school=_MARSH_SCHOOL,
        gp=_MARSH_GP,
        involvements=(
            FixedInvolvement(
                "Gareth Price",
                "Social worker",
                "Bristol City Council Children's Services",
                "0117 496 0333",
                "gareth.price@example.gov.uk",
                dt.date(2024, 5, 20),
                True,
            ),
        ),
        sensitive_contact="0117 496 0999",
        household="marsh",
    ),
    # Jayden's half-sister: not shielded herself, but she shares his home and his mother,
    # so she is served exactly as he is (household shielding).
    FixedChild(
        index_id="5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b",
        nhs_number="9990000050",
        given=("Mia",),
        family="Marsh",
        birth_date=dt.date(2016, 2, 21),
        gender="female",
        postcode="BS5 9QX",
        shielded=False,
        line1="3 Hidden Row",
        city="Bristol",
        aliases=("Millie",),
        carers=_MARSH_CARERS,
        school=_MARSH_SCHOOL,
        gp=_MARSH_GP,
        household="marsh",
    ),
    FixedChild(
        index_id="c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f",
        nhs_number="9990000042",
        given=("William", "George"),
        family="Ashworth",
        birth_date=dt.date(2013, 4, 7),
        gender="male",
        postcode="M14 5RL",
        shielded=False,
        line1="51 Wilmslow Road",
        city="Manchester",
        previous_family=("Pickering",),
        aliases=("Billy",),
        carers=(
            FixedCarer(
                "Susan", "Ashworth", "GRMTH", True, "07700 900321", "s.ashworth@example.com"
            ),
            FixedCarer("Tom", "Pickering", "FTH", False, "07700 900654", None),
        ),
        school=("Rusholme Primary Academy", "0161 496 0123"),
        gp=("Fallowfield Medical Centre", "0161 496 0456"),
        household="ashworth",
    ),
)


def fixed_child(family: str, given: str) -> FixedChild:
    for child in FIXED_CHILDREN:
        if child.family == family and child.given[0] == given:
            return child
    raise KeyError(f"{given} {family}")
