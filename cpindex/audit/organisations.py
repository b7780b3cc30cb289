"""The kind of organisation an account works for, as the misuse report reads it.

An A&E nurse gives `emergency-care` for nearly every view; from anyone else it is a
reason worth a question. The kind is recorded on the account (`cpindex user add
--org-kind`) rather than guessed from the organisation's name.
"""

from __future__ import annotations

from sqlalchemy import Connection, update

from cpindex.store.schema import user_account

__all__ = ["EMERGENCY_KINDS", "ORGANISATION_KINDS", "set_organisation_kind"]

ORGANISATION_KINDS = ("emergency-department", "social-care", "health", "school", "gp", "other")
# Services whose staff give emergency-care as their ordinary reason for access.
EMERGENCY_KINDS = frozenset({"emergency-department"})


def set_organisation_kind(conn: Connection, username: str, kind: str) -> None:
    """Record `kind` on an existing account (in the caller's transaction)."""
    if kind not in ORGANISATION_KINDS:
        raise ValueError(f"organisation kind must be one of {', '.join(ORGANISATION_KINDS)}")
    changed = conn.execute(
        update(user_account)
        .where(user_account.c.username == username)
        .values(organisation_kind=kind)
    ).rowcount
    if changed != 1:
        raise LookupError("no such user")
