"""The audit hook every sign-in, search and record view passes through.

Part 1 appends a plain row; part 2 adds the hash chain, AuditEvent resources and the
misuse report behind this same function, so callers do not change.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import Connection, Engine, insert

from cpindex.store.schema import audit_event

__all__ = ["record_event"]


def record_event(
    target: Engine | Connection,
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
) -> None:
    """Append one audit row (action: sign-in, search, view, unlock, sign-out...).

    Given a Connection, the row joins its transaction (a search writes its audit row in
    the transaction that read the results); given an Engine, it commits on its own.
    """
    statement = insert(audit_event).values(
        at=at,
        request_id=request_id,
        username=username,
        role=role,
        organisation=organisation,
        action=action,
        outcome=outcome,
        patient_id=patient_id,
        detail=json.dumps(detail, sort_keys=True) if detail is not None else None,
    )
    if isinstance(target, Connection):
        target.execute(statement)
        return
    with target.begin() as conn:
        conn.execute(statement)
