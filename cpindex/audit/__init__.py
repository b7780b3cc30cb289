"""The audit hook every sign-in, search, view, unlock and sign-out passes through.

Rows are append-only and hash-chained (cpindex.audit.chain); the AuditEvent endpoint reads
them back (cpindex.audit.query) and the misuse report looks for snooping in them
(cpindex.audit.misuse).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import Connection, Engine

from cpindex.audit.chain import append_row
from cpindex.store.db import serialised

__all__ = ["record_event", "row_values"]


def row_values(
    *,
    at: dt.datetime,
    action: str,
    outcome: str,
    request_id: str | None = None,
    username: str | None = None,
    role: str | None = None,
    organisation: str | None = None,
    patient_id: str | None = None,
    detail: dict[str, Any] | None = None,
    client_address: str | None = None,
) -> dict[str, Any]:
    """One audit row's fields, as the chain hashes them (detail as canonical JSON)."""
    return {
        "at": at,
        "request_id": request_id,
        "username": username,
        "role": role,
        "organisation": organisation,
        "action": action,
        "outcome": outcome,
        "patient_id": patient_id,
        "detail": json.dumps(detail, sort_keys=True) if detail is not None else None,
        "client_address": client_address,
    }


def record_event(target: Engine | Connection, **fields: Any) -> int:
    """Append one chained audit row (action: sign-in, search, view, unlock, sign-out...).

    `fields` are `row_values`'s. Given an Engine, the row is written in its own serialised
    transaction. Given a Connection, it must already be in one
    (`cpindex.store.db.serialised`), so the row commits with whatever else that
    transaction changes (a lock-out and its audit row). A server's requests go through
    its group writer instead (cpindex.audit.group).
    """
    values = row_values(**fields)
    if isinstance(target, Connection):
        return append_row(target, values)
    with serialised(target) as conn:
        return append_row(conn, values)
