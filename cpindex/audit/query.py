"""Reading the audit trail back: a user's history or a child's, newest first."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, select

from cpindex.store.schema import audit_event

__all__ = ["find_events", "find_events_by_id"]


def find_events(
    conn: Connection,
    *,
    username: str | None = None,
    patient_id: str | None = None,
    limit: int = 100,
) -> list[Mapping[str, Any]]:
    """Rows for a user and/or a child (at least one), newest first, at most `limit`."""
    if username is None and patient_id is None:
        raise ValueError("give a username or a patient id")
    query = select(audit_event)
    if username is not None:
        query = query.where(audit_event.c.username == username)
    if patient_id is not None:
        query = query.where(audit_event.c.patient_id == patient_id)
    query = query.order_by(audit_event.c.at.desc(), audit_event.c.id.desc()).limit(limit)
    return [dict(row._mapping) for row in conn.execute(query)]


def find_events_by_id(conn: Connection, ids: list[int]) -> list[Mapping[str, Any]]:
    """Rows by id (the misuse report's evidence)."""
    found: list[Mapping[str, Any]] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        query = select(audit_event).where(audit_event.c.id.in_(chunk))
        found.extend(dict(row._mapping) for row in conn.execute(query))
    return found
