"""/Communication: notices about a child, as FHIR R4 Communication resources (issue 18).

- `POST /Communication`: send a notice from a record (the sender must have opened it).
  Recipients are PractitionerRole ids from the record (default: the lead professional),
  each resolved to its linked account (cpindex.notices.accounts). For a child served
  shielded the sender names no one: the notice goes to the index team's queue.
- `GET /Communication?recipient=me|index-team&status=in-progress|completed`: the inbox
  (`received:missing=true`: unread only; `_summary=count`: the total alone, unaudited).
- `GET /Communication/{id}`: one notice (marks it read for its recipient).
- `POST /Communication/{id}/$done`: mark done.
- `POST /Communication/{id}/$relay` (index team): pass a queued notice to the child's
  practitioners; `POST /Communication/{id}/$answer` (index team): reply to its sender.

A notice holds the child's id, never more of the record; every send, read, relay and
state change is audited in the chain (the text only as its SHA-256).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any

from fastapi import APIRouter
from sqlalchemy import Connection, func, select
from sqlalchemy.sql import ColumnElement
from starlette.requests import Request
from starlette.responses import Response

from cpindex.api.deps import Audit, AuditWriter, JsonBody, ServicesDep, SignedIn, iso
from cpindex.api.fhir import EXT
from cpindex.api.openapi import query_parameters
from cpindex.api.outcomes import fhir_response
from cpindex.auth.limits import take
from cpindex.auth.sessions import SessionInfo
from cpindex.errors import RequestError
from cpindex.notices.rules import CATEGORIES, check_category, check_text
from cpindex.notices.store import (
    Notice,
    find_child,
    has_opened,
    insert_notices,
    load_notices,
    mark,
    resolve_recipients,
)
from cpindex.store.db import serialised
from cpindex.store.schema import notice

__all__ = ["router"]

router = APIRouter(tags=["notices"])

TEAM = "index-team"
_INDEX_ID = re.compile(r"[A-Za-z0-9-]{1,36}")
TEAM_REFERENCE = "Organization/index-team"
STATUSES = {"in-progress": False, "completed": True}  # status -> done


def _invalid(message: str) -> RequestError:
    return RequestError(400, "value", "INVALID_VALUE", message)


def _not_found() -> RequestError:
    return RequestError(404, "not-found", "RESOURCE_NOT_FOUND", "No notice of yours has that id.")


def _team_only() -> RequestError:
    return RequestError(403, "forbidden", "ACCESS_DENIED", "Only the index team may do that.")


def communication(item: Notice) -> dict[str, Any]:
    """The FHIR Communication for one notice row."""
    resource: dict[str, Any] = {
        "resourceType": "Communication",
        "id": str(item.id),
        "status": "completed" if item.done_at else "in-progress",
        "category": [
            {
                "coding": [
                    {
                        "system": EXT + "notice-category",
                        "code": item.category,
                        "display": CATEGORIES[item.category],
                    }
                ],
                "text": CATEGORIES[item.category],
            }
        ],
        "subject": {"reference": f"Patient/{item.patient_id}"},
        "sent": iso(item.created_at),
        "recipient": [
            {"reference": TEAM_REFERENCE, "display": "Index team"}
            if item.recipient_user_id is None
            else {"display": item.recipient or ""}
        ],
        "sender": {"display": item.sender},
        "payload": [{"contentString": item.text}],
    }
    if item.read_at:
        resource["received"] = iso(item.read_at)
    if item.relayed_from is not None:
        resource["extension"] = [
            {"url": EXT + "relayed-from", "valueString": f"Communication/{item.relayed_from}"}
        ]
        if item.asked_by:  # who asked, so the practitioner can get in touch
            resource["extension"].append({"url": EXT + "asked-by", "valueString": item.asked_by})
    return resource


def _send(
    conn: Connection,
    audit: AuditWriter,
    info: SessionInfo,
    action: str,
    limit: int,
    **values: Any,
) -> list[int]:
    """Spend one notice from the per-user limit, insert the rows and audit them: one
    transaction, so a refused flood stores nothing."""
    now = audit.services.clock.now()
    patient_id = values.pop("patient_id")
    wait = take(conn, info.user.user_id, "notice", limit, now)
    if wait is not None:  # audited by the caller, after this transaction rolls back
        raise RequestError(
            429, "throttled", "TOO_MANY_REQUESTS",
            f"Too many notices this minute: wait {wait} seconds and try again.",
            headers={"Retry-After": str(wait)},
        )  # fmt: skip
    ids = insert_notices(conn, sender_id=info.user.user_id, now=now, **values)
    detail = {
        "notices": ids,
        "category": values["category"],
        "queue": values["recipients"] == [None],
        "relayed_from": values.get("relayed_from"),
        "text_sha256": hashlib.sha256(values["text"].encode()).hexdigest(),
    }
    audit(info, action, "success", conn=conn, patient_id=patient_id, detail=detail)
    return ids


def _references(body: dict[str, Any], name: str = "recipient") -> list[str]:
    given = body.get(name, [])
    if not isinstance(given, list) or len(given) > 20:
        raise _invalid(f"Give '{name}' as a list of references.")
    refs = [r.get("reference") if isinstance(r, dict) else None for r in given]
    if not all(isinstance(r, str) and len(r) <= 120 for r in refs):
        raise _invalid(f"Give '{name}' as a list of references.")
    return [str(r) for r in refs]


def _parse(body: dict[str, Any]) -> tuple[str, str, str, list[str]]:
    """(patient id, category, text, recipient references) from a Communication body."""
    if body.get("resourceType") != "Communication":
        raise _invalid("Send a Communication resource.")
    subject = body.get("subject")
    reference = subject.get("reference") if isinstance(subject, dict) else None
    if not isinstance(reference, str) or not reference.startswith("Patient/"):
        raise _invalid("Give the child as subject.reference 'Patient/{id}'.")
    categories = body.get("category")
    try:
        code = categories[0]["coding"][0]["code"]  # type: ignore[index]
    except (TypeError, KeyError, IndexError):
        code = None
    payload = body.get("payload")
    try:
        text = payload[0]["contentString"]  # type: ignore[index]
    except (TypeError, KeyError, IndexError):
        text = None
    return reference[8:72], check_category(code), check_text(text), _references(body)


@router.post("/Communication", status_code=201)
def send(info: SignedIn, services: ServicesDep, audit: Audit, body: JsonBody) -> Response:
    """Send a notice about a child; 201 with a Bundle of the Communications stored."""
    patient_id = None
    try:
        patient_id, category, text, references = _parse(body)
        with serialised(services.engine) as conn:
            found = find_child(conn, patient_id)
            if found is None:
                raise RequestError(404, "not-found", "RESOURCE_NOT_FOUND", "No child has that id.")
            since = services.clock.now() - dt.timedelta(hours=services.settings.absolute_hours)
            if not has_opened(conn, info.user.username, patient_id, since):
                raise RequestError(
                    403, "forbidden", "ACCESS_DENIED",
                    "Open the child's record (with a reason) before sending a notice about it.",
                )  # fmt: skip
            pk, shielded = found
            if shielded:
                if references and references != [TEAM_REFERENCE]:
                    raise _invalid(
                        "Notices about this child go to the index team: name no recipient."
                    )
                recipients: list[int | None] = [None]
            else:
                if TEAM_REFERENCE in references:
                    raise _invalid("Name the child's practitioners, not the index team.")
                recipients = list(resolve_recipients(conn, patient_id, pk, references))
            ids = _send(
                conn, audit, info, "notice-send", services.settings.notice_limit,
                patient_id=patient_id, recipients=recipients, child_pk=pk,
                category=category, text=text,
            )  # fmt: skip
    except RequestError as error:
        _refused(audit, info, "notice-send", _known(patient_id), error)
        raise
    return _bundle(services, notice.c.id.in_(ids), "collection", status=201)


def _refused(
    audit: AuditWriter, info: SessionInfo, action: str, patient_id: str | None,
    error: RequestError,
) -> None:  # fmt: skip
    outcome = "rate-limited" if error.status == 429 else "refused"
    audit(info, action, outcome, patient_id=patient_id, detail={"error": error.pds_code})


def _known(patient_id: str | None) -> str | None:
    return patient_id if patient_id and _INDEX_ID.fullmatch(patient_id) else None


def _bundle(services: Any, where: ColumnElement[bool], kind: str, status: int = 200) -> Response:
    with services.engine.connect() as conn:
        items = load_notices(conn, where)
    entries = [{"fullUrl": f"urn:uuid:notice-{n.id}", "resource": communication(n)} for n in items]
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": kind,
        "timestamp": iso(services.clock.now()),
    }
    if kind == "searchset":
        bundle["total"] = len(entries)
    if entries:
        bundle["entry"] = entries
    return fhir_response(bundle, status)


def _mine(info: SessionInfo) -> ColumnElement[bool]:
    """The rows `info` receives: its own, and the queue for the index team."""
    where = notice.c.recipient_user_id == info.user.user_id
    if info.user.role == TEAM:
        where = where | notice.c.recipient_user_id.is_(None)
    return where


_INBOX_PARAMETERS: dict[str, tuple[dict[str, Any], str]] = {
    "recipient": ({"type": "string"}, "me (default), or index-team for the team's queue"),
    "status": ({"type": "string"}, "in-progress (not done) or completed"),
    "received:missing": ({"type": "string"}, "true: only notices not read yet"),
    "_summary": ({"type": "string"}, "count: the total only, no notices (not audited)"),
}


@router.get("/Communication", openapi_extra=query_parameters(_INBOX_PARAMETERS))
def inbox(request: Request, info: SignedIn, services: ServicesDep, audit: Audit) -> Response:
    """The signed-in user's notices (`recipient=me`), or the index team's queue.

    `_summary=count` answers the total alone, unaudited: the client polls it every minute
    to show its unread count, and a number of one's own notices names no child and holds
    no text (every list, read and action that does is audited)."""
    params = dict(request.query_params.multi_items())
    if len(params) != len(request.query_params.multi_items()) or set(params) - set(
        _INBOX_PARAMETERS
    ):
        raise _invalid("Use recipient=me (or index-team) and status, each once.")
    recipient = params.get("recipient", "me")
    if recipient == "me":
        where = notice.c.recipient_user_id == info.user.user_id
    elif recipient == TEAM:
        if info.user.role != TEAM:
            raise _team_only()
        where = notice.c.recipient_user_id.is_(None)
    else:
        raise _invalid("Use recipient=me (or index-team).")
    status = params.get("status")
    if status is not None:
        if status not in STATUSES:
            raise _invalid("Use status=in-progress or status=completed.")
        where = where & (
            notice.c.done_at.is_not(None) if STATUSES[status] else notice.c.done_at.is_(None)
        )
    unread = params.get("received:missing")
    if unread not in (None, "true", "false"):
        raise _invalid("Use received:missing=true (unread) or false (read).")
    if unread is not None:
        where = where & (
            notice.c.read_at.is_(None) if unread == "true" else notice.c.read_at.is_not(None)
        )
    summary = params.get("_summary")
    if summary is not None:
        if summary != "count":
            raise _invalid("Use _summary=count, or leave it out.")
        return _count(services, where)
    audit(info, "notice-list", "success", detail={"recipient": recipient, "status": status})
    return _bundle(services, where, "searchset")


def _count(services: Any, where: ColumnElement[bool]) -> Response:
    with services.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(notice).where(where)).scalar_one()
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": iso(services.clock.now()),
        "total": int(total),
    }
    return fhir_response(bundle)


def _one(conn: Connection, info: SessionInfo, raw_id: str, *, own: bool) -> Notice:
    """The notice `raw_id` if `info` receives it (or, unless `own`, sent it); else 404."""
    if not (raw_id.isascii() and raw_id.isdigit() and len(raw_id) <= 9):
        raise _not_found()
    where = _mine(info)
    if not own:
        where = where | (notice.c.sender_id == info.user.user_id)
    items = load_notices(conn, (notice.c.id == int(raw_id)) & where)
    if not items:
        raise _not_found()
    return items[0]


@router.get("/Communication/{notice_id}")
def read(notice_id: str, info: SignedIn, services: ServicesDep, audit: Audit) -> Response:
    """One notice; opening it as its recipient marks it read (audited)."""
    try:
        _one_exists(services, info, notice_id, own=False)
    except RequestError:
        audit(info, "notice-read", "not-found")
        raise
    with serialised(services.engine) as conn:
        item = _one(conn, info, notice_id, own=False)
        if item.sender_id != info.user.user_id or item.recipient_user_id == info.user.user_id:
            mark(conn, item.id, now=services.clock.now(), done=False)
        audit(info, "notice-read", "success", conn=conn, patient_id=item.patient_id,
              detail={"notice": item.id})  # fmt: skip
        item = load_notices(conn, notice.c.id == item.id)[0]
    return fhir_response(communication(item))


@router.post("/Communication/{notice_id}/$done")
def done(notice_id: str, info: SignedIn, services: ServicesDep, audit: Audit) -> Response:
    """Mark a received notice done (the index team: a queued one)."""
    try:
        _one_exists(services, info, notice_id, own=True)
    except RequestError:
        audit(info, "notice-done", "not-found")
        raise
    with serialised(services.engine) as conn:
        item = _one(conn, info, notice_id, own=True)
        mark(conn, item.id, now=services.clock.now(), done=True)
        audit(info, "notice-done", "success", conn=conn, patient_id=item.patient_id,
              detail={"notice": item.id})  # fmt: skip
        item = load_notices(conn, notice.c.id == item.id)[0]
    return fhir_response(communication(item))


def _one_exists(services: Any, info: SessionInfo, notice_id: str, *, own: bool) -> None:
    with services.engine.connect() as conn:
        _one(conn, info, notice_id, own=own)


def _queued(conn: Connection, info: SessionInfo, notice_id: str) -> Notice:
    if info.user.role != TEAM:
        raise _team_only()
    item = _one(conn, info, notice_id, own=True)
    if item.recipient_user_id is not None:
        raise _invalid("Only a notice in the index team's queue can be relayed or answered.")
    return item


def _pass_on(
    kind: str, notice_id: str, info: SessionInfo, services: Any, audit: AuditWriter,
    body: dict[str, Any],
) -> Response:  # fmt: skip
    """Relay a queued notice to the child's practitioners, or answer its sender."""
    action = f"notice-{kind}"
    patient_id = None
    try:
        with serialised(services.engine) as conn:
            item = _queued(conn, info, notice_id)
            patient_id = item.patient_id
            found = find_child(conn, item.patient_id)
            assert found is not None  # notice.child_pk is a foreign key
            recipients: list[int | None]
            if kind == "relay":
                refs = _references(body)
                recipients = list(resolve_recipients(conn, item.patient_id, found[0], refs))
                text = item.text
            else:
                recipients = [item.sender_id]
                text = check_text(body.get("text"))
            ids = _send(
                conn, audit, info, action, services.settings.notice_limit,
                patient_id=item.patient_id, recipients=recipients, child_pk=found[0],
                category=item.category, text=text, relayed_from=item.id,
            )  # fmt: skip
            mark(conn, item.id, now=services.clock.now(), done=True)
    except RequestError as error:
        _refused(audit, info, action, patient_id, error)
        raise
    return _bundle(services, notice.c.id.in_(ids), "collection", status=201)


@router.post("/Communication/{notice_id}/$relay", status_code=201)
def relay(
    notice_id: str, info: SignedIn, services: ServicesDep, audit: Audit, body: JsonBody
) -> Response:
    """Index team: pass a queued notice on (recipient: PractitionerRole ids; default lead)."""
    return _pass_on("relay", notice_id, info, services, audit, body)


@router.post("/Communication/{notice_id}/$answer", status_code=201)
def answer(
    notice_id: str, info: SignedIn, services: ServicesDep, audit: Audit, body: JsonBody
) -> Response:
    """Index team: reply to a queued notice's sender (body: {"text": ...}). The team writes
    the answer; it must say nothing that locates a shielded child."""
    return _pass_on("answer", notice_id, info, services, audit, body)
