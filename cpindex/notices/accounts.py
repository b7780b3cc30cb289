"""Which user account receives a practitioner's notices.

A practitioner in the index is a row named on involvements (name, role, organisation,
phone, email), not a user. A notice can go to one only once an administrator links it:
`link_practitioner` joins every practitioner row with the account holder's work email to
the account (the same person appears once per area that lists them). Unlinked
practitioners are refused as recipients: the sender phones them instead.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, delete, func, insert, select

from cpindex.audit import record_event
from cpindex.store.schema import practitioner, practitioner_account, user_account

__all__ = ["link_practitioner"]


def link_practitioner(
    conn: Connection, username: str, email: str, *, by: dict[str, str] | None = None
) -> int:
    """Link the practitioner rows with `email` to `username`; returns how many were linked.

    `by` (cpindex.auth.users.os_user) audits the link as `account-link` in this
    transaction (`cpindex user link`; `conn` then in a serialised transaction)."""
    user_id = conn.execute(
        select(user_account.c.id).where(user_account.c.username == username)
    ).scalar()
    if user_id is None:
        raise ValueError("no such user")
    ids = list(
        conn.execute(
            select(practitioner.c.id).where(func.lower(practitioner.c.email) == email.lower())
        ).scalars()
    )
    if not ids:
        raise ValueError("no practitioner has that email")
    conn.execute(
        delete(practitioner_account).where(practitioner_account.c.practitioner_id.in_(ids))
    )
    conn.execute(
        insert(practitioner_account), [{"practitioner_id": i, "user_id": user_id} for i in ids]
    )
    if by is not None:
        record_event(
            conn, at=dt.datetime.now(dt.UTC), action="account-link", outcome="success",
            username=username, detail={**by, "via": "cli", "practitioners": len(ids)},
        )  # fmt: skip
    return len(ids)
