"""A small council feed for `cpdesk demo`, so the index team's review screen has work.

`cpindex feed demo` registers the demo source (once) and loads this feed through the real
linker: three rows about documented test children under a middle name or another given
name, which the linker is not sure enough to link and sends to review (one of them a
shielded child), and one row it links outright. Loading it again changes nothing (the
same file as the current feed).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, select

from cpindex.feeds.formats import FeedRow, to_csv
from cpindex.feeds.store import FeedReport, add_source, load_feed
from cpindex.seed.demo import fixed_child
from cpindex.store.schema import source

__all__ = ["DEMO_SOURCE", "demo_feed", "load_demo_feed"]

DEMO_SOURCE = "Northgate Council Early Help (demo feed)"
_ORG = "Northgate Council Early Help"


def demo_feed() -> bytes:
    """The demo feed as CSV (fixed: the same bytes every time)."""
    olivia = fixed_child("Smithfield", "Olivia")
    jayden = fixed_child("Marsh-Whitley", "Jayden")
    william = fixed_child("Ashworth", "William")
    noah = fixed_child("Smithfield", "Noah")

    def row(number: int, given: str, family: str, born: dt.date, postcode: str | None,
            nhs: str | None, name: str, role: str, phone: str) -> FeedRow:  # fmt: skip
        email = name.lower().replace(" ", ".") + "@northgate.example.gov.uk"
        return FeedRow(
            number, given, family, born, postcode, nhs, name, role, _ORG, phone, email,
            dt.date(2026, 9, 1), False,
        )  # fmt: skip

    rows = [
        # Her middle name as the given name: the same date of birth and postcode.
        row(2, "Rose", "Smithfield", olivia.birth_date, olivia.postcode, None,
            "Grace Oduya", "Family support worker", "0113 496 0700"),
        # A shielded child under another given name: the team's full view decides.
        row(3, "Jordan", "Marsh-Whitley", jayden.birth_date, None, None,
            "Tom Reeve", "Early help practitioner", "0113 496 0701"),
        # His middle name as the given name, his current postcode.
        row(4, "George", "Ashworth", william.birth_date, william.postcode, None,
            "Grace Oduya", "Family support worker", "0113 496 0700"),
        # Linked outright: an exact, valid NHS number and the rest agreeing.
        row(5, noah.given[0], noah.family, noah.birth_date, noah.postcode, noah.nhs_number,
            "Tom Reeve", "Early help practitioner", "0113 496 0701"),
    ]  # fmt: skip
    return to_csv(rows)


def load_demo_feed(engine: Engine, now: dt.datetime) -> FeedReport:
    """Register the demo source if needed and load the demo feed (idempotent)."""
    with engine.connect() as conn:
        known = conn.execute(select(source.c.id).where(source.c.name == DEMO_SOURCE)).first()
    if known is None:
        add_source(engine, DEMO_SOURCE, now)
    return load_feed(engine, demo_feed(), DEMO_SOURCE, now=now)
