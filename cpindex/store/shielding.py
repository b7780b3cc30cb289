"""Household shielding: who must be served as shielded because of where they can be found.

Shielding protects a home, and a home is shared. A child is *effectively shielded* when it
is shielded, or when it is linked to a shielded child through a chain of shared places or
people: the same household, the same home address (a second household row at the same
address), the same carer (same name and phone, or same name and email: feeds may list
one person twice) or a carer living at the other's address. Whole linked groups are
marked, so no sibling, half-sibling or step-sibling serves the address, the carers'
contacts, the school or the GP of a shielded child's home.

The flag is held in `child.effectively_shielded`, never computed per request: the seed
and migration 0006 call `refresh_all`, and any writer of children, households or carers
calls `refresh_households` with the households it touched, in the same transaction.
Linking errs on the side of shielding: a chance match of a carer's name and contact
details between two families shields both. Name and phone alone were tried and were too
loose for the synthetic data (a thousand mobile numbers shared by a million carers): at
a million children they linked 52,000 children to 5,000 shielded ones.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, func, select, update

from cpindex.search.keys import fold, postcode_key
from cpindex.store.schema import carer, child, household

__all__ = ["household_links", "refresh_all", "refresh_households"]

_CHUNK = 500


def _address_key(line1: str | None, postcode: str | None) -> tuple[str, ...] | None:
    if not line1 or not postcode:
        return None
    return ("address", fold(line1), postcode_key(postcode))


def _digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())


def household_links(
    home: tuple[str, str], carers: Iterable[tuple[Any, ...]]
) -> set[tuple[str, ...]]:
    """The keys one household can be found by: its address, each carer, carers' homes.

    `home` is (line1, postcode); each carer is (given, family, phone, email, line1,
    postcode).
    """
    keys: set[tuple[str, ...]] = set()
    address = _address_key(*home)
    if address is not None:
        keys.add(address)
    for given, family, phone, email, line1, postcode in carers:
        phone_key = _digits(phone or "")
        email_key = (email or "").strip().lower()
        if phone_key or email_key:
            # One person listed twice: same name and the same contact details.
            keys.add(("carer", fold(given or ""), fold(family or ""), phone_key, email_key))
        elsewhere = _address_key(line1, postcode)
        if elsewhere is not None:
            keys.add(elsewhere)
    return keys


class _Groups:
    """Union-find over household ids."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, item: int) -> int:
        parent = self.parent.setdefault(item, item)
        while parent != item:
            grand = self.parent[parent]
            self.parent[item] = grand
            item, parent = parent, grand
        return item

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _shielded_households(links: dict[int, set[tuple[str, ...]]], shielded: set[int]) -> set[int]:
    """Households in a linked group holding at least one shielded child."""
    groups = _Groups()
    first_with: dict[tuple[str, ...], int] = {}
    for hh, keys in links.items():
        groups.find(hh)
        for key in keys:
            other = first_with.setdefault(key, hh)
            if other != hh:
                groups.union(hh, other)
    marked_roots = {groups.find(hh) for hh in shielded}
    return {hh for hh in links if groups.find(hh) in marked_roots}


def _children_of(conn: Connection, households: set[int]) -> list[Any]:
    columns = (child.c.pk, child.c.household_id, child.c.shielded, child.c.effectively_shielded)
    if len(households) > 20 * _CHUNK:  # most of the store: one scan beats many probes
        return [r for r in conn.execute(select(*columns)) if r[1] in households]
    ordered = sorted(households)
    rows: list[Any] = []
    for start in range(0, len(ordered), _CHUNK):
        chunk = ordered[start : start + _CHUNK]
        rows += conn.execute(select(*columns).where(child.c.household_id.in_(chunk))).all()
    return rows


def _write(conn: Connection, households: set[int], marked: set[int]) -> int:
    """Set the flag for every child of `households`; returns how many children it marks."""
    changes: dict[bool, list[int]] = {True: [], False: []}
    count = 0
    for pk, hh, own, held in _children_of(conn, households):
        wanted = bool(own) or hh in marked
        count += wanted
        if held is None or bool(held) != wanted:
            changes[wanted].append(pk)
    for value, pks in changes.items():
        for start in range(0, len(pks), _CHUNK):
            conn.execute(
                update(child)
                .where(child.c.pk.in_(pks[start : start + _CHUNK]))
                .values(effectively_shielded=value)
            )
    return count


def _load(conn: Connection, where_hh: list[int] | None) -> tuple[dict[int, set[Any]], set[int]]:
    """Links and shielded households for the given households (all when None)."""
    homes = select(household.c.id, household.c.line1, household.c.postcode)
    people = select(
        carer.c.household_id, carer.c.given, carer.c.family, carer.c.phone, carer.c.email,
        carer.c.line1, carer.c.postcode,
    )  # fmt: skip
    kids = select(child.c.household_id).where(child.c.shielded.is_(True))
    if where_hh is not None:
        homes = homes.where(household.c.id.in_(where_hh))
        people = people.where(carer.c.household_id.in_(where_hh))
        kids = kids.where(child.c.household_id.in_(where_hh))
    carers: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in conn.execute(people):
        carers[row[0]].append(tuple(row[1:]))
    links = {
        hh: household_links((line1, postcode), carers.get(hh, ()))
        for hh, line1, postcode in conn.execute(homes)
    }
    return links, {row[0] for row in conn.execute(kids)}


def refresh_all(conn: Connection) -> int:
    """Recompute the flag for every child (seed, migration); returns how many it marks."""
    links, shielded = _load(conn, None)
    marked = _shielded_households(links, shielded)
    return _write(conn, set(links), marked)


def _neighbours(conn: Connection, keys: set[tuple[str, ...]]) -> set[int]:
    """Households that may share one of `keys` (narrowed by postcode and phone/email)."""
    postcodes = sorted({k[2] for k in keys if k[0] == "address"})
    phones = sorted({k[3] for k in keys if k[0] == "carer" and k[3]})
    emails = sorted({k[4] for k in keys if k[0] == "carer" and k[4]})
    found: set[int] = set()
    # Postcodes are stored as written ("LS6 2QB", "ls62qb"): compare them as keys.
    for start in range(0, len(postcodes), _CHUNK):
        chunk = postcodes[start : start + _CHUNK]
        for column, owner in ((household.c.postcode, household.c.id),
                              (carer.c.postcode, carer.c.household_id)):  # fmt: skip
            key = func.upper(func.replace(column, " ", ""))
            found.update(r[0] for r in conn.execute(select(owner).where(key.in_(chunk))))
    if phones or emails:
        # Phones are stored as written; no index could match them without spaces anyway.
        wanted_phones, wanted_emails = set(phones), set(emails)
        for hh, phone, email in conn.execute(
            select(carer.c.household_id, carer.c.phone, carer.c.email)
        ):
            if (phone and _digits(phone) in wanted_phones) or (
                email and email.strip().lower() in wanted_emails
            ):
                found.add(hh)
    return found


def refresh_households(conn: Connection, household_ids: Iterable[int]) -> int:
    """Recompute the flag around households just written (and everything linked to them).

    Walks links outwards until no new household joins, then marks each linked group that
    holds a shielded child. Returns how many children of the walked households are marked.
    """
    seen: set[int] = set()
    links: dict[int, set[Any]] = {}
    shielded: set[int] = set()
    frontier = set(household_ids)
    while frontier:
        batch = sorted(frontier)
        seen |= frontier
        for start in range(0, len(batch), _CHUNK):
            more_links, more_shielded = _load(conn, batch[start : start + _CHUNK])
            links.update(more_links)
            shielded |= more_shielded
        keys = {k for hh in frontier for k in links.get(hh, ())}
        frontier = _neighbours(conn, keys) - seen
    marked = _shielded_households(links, shielded)
    return _write(conn, set(links), marked)
