"""/Task: the index team's queue of doubtful feed links (issue 17, item 6).

Each row a council feed sent that the linker could neither link nor reject waits as a
review item, served as a FHIR R4 Task:

- `GET /Task?status=requested`: the pending items, the oldest `MAX_LISTED`, with `total`
  counting them all; no child data (ids, source, feed, row number, probability, why).
- `GET /Task/{id}`: one item side by side: a collection Bundle of the Task, holding the
  feed row as a contained Patient and PractitionerRole, and the candidate child's Patient
  as the index holds it. A shielded candidate is served as the index team's view of a
  shielded record is (every field, labelled restricted) and audited with
  `served: full`, which the misuse report lists.
- `POST /Task/{id}/$link`, `POST /Task/{id}/$not-this-child`: the decision
  (cpindex.feeds.store.decide_review: audited in the chain, remembered for the source's
  later feeds). A decided or replaced item is 409; "Skip" is the client's own.

The index team only: any other role gets the same 403 from every route, checked before
the id is looked at, and learns nothing. Every list, view, decision and refusal is audited.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from cpindex.api.deps import Audit, AuditWriter, ServicesDep, SignedIn, iso
from cpindex.api.fhir import EXT, NHS_NUMBER, patient_resource
from cpindex.api.openapi import query_parameters
from cpindex.api.outcomes import fhir_response
from cpindex.auth.sessions import SessionInfo
from cpindex.errors import RequestError
from cpindex.feeds.store import (
    Actor,
    NoSuchReview,
    ReviewItem,
    StaleReview,
    decide_review,
    index_ids,
    pending_count,
    pending_reviews,
    review_item,
)
from cpindex.records import load_record

__all__ = ["router", "task"]

router = APIRouter(tags=["review"])

TEAM = "index-team"
MAX_LISTED = 200  # the oldest; `total` counts them all (a national feed can leave thousands)
TASK_CODE = {"system": EXT + "task-code", "code": "link-review", "display": "Link to review"}
_STATUS = {  # feed_review.status -> Task.status
    "pending": "requested",
    "linked": "completed",
    "not-linked": "completed",
    "superseded": "cancelled",
}
_PARAMETERS: dict[str, tuple[dict[str, Any], str]] = {
    "status": ({"type": "string"}, "requested (the default): the items waiting for a decision"),
}


def _team_only(audit: AuditWriter, info: SessionInfo, action: str) -> None:
    if info.user.role != TEAM:
        audit(info, action, "denied")
        raise RequestError(
            403, "forbidden", "ACCESS_DENIED", "Only the index team may review feed links."
        )


def _not_found() -> RequestError:
    return RequestError(404, "not-found", "RESOURCE_NOT_FOUND", "No review item has that id.")


def _item_id(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9):
        raise _not_found()
    return int(raw)


def task(item: ReviewItem, patient_id: str, *, row: bool = False) -> dict[str, Any]:
    """The Task for one review item; with `row`, the feed row as contained resources."""
    inputs: list[dict[str, Any]] = [
        {"type": {"text": "source"}, "valueString": item.source},
        {"type": {"text": "feed"}, "valueInteger": item.feed_id},
        {"type": {"text": "row"}, "valueInteger": item.row.number},
        {"type": {"text": "probability"}, "valueDecimal": round(item.probability, 4)},
    ]
    resource: dict[str, Any] = {
        "resourceType": "Task",
        "id": str(item.id),
        "status": _STATUS.get(item.status, "requested"),
        "businessStatus": {"text": item.status},
        "intent": "order",
        "code": {"coding": [dict(TASK_CODE)], "text": TASK_CODE["display"]},
        "description": item.reason or "The linker was not sure.",
        "for": {"reference": f"Patient/{patient_id}"},
        "input": inputs,
    }
    if item.decided_at is not None:
        resource["lastModified"] = iso(item.decided_at)
        resource["owner"] = {"display": item.decided_by or ""}
    if row:
        resource["contained"] = _feed_row(item)
        resource["focus"] = {"reference": "#feed-row"}
    return resource


def _feed_row(item: ReviewItem) -> list[dict[str, Any]]:
    """The row as the source sent it: the child (Patient) and the practitioner."""
    r = item.row
    child: dict[str, Any] = {
        "resourceType": "Patient",
        "id": "feed-row",
        "name": [{"use": "official", "family": r.family, "given": r.given.split()}],
        "birthDate": r.birth_date.isoformat(),
    }
    if r.nhs_number:
        child["identifier"] = [{"system": NHS_NUMBER, "value": r.nhs_number.replace(" ", "")}]
    if r.postcode:
        child["address"] = [{"postalCode": r.postcode}]
    telecom = [{"system": "phone", "value": r.phone, "use": "work"}]
    if r.email:
        telecom.append({"system": "email", "value": r.email})
    practitioner = {
        "resourceType": "PractitionerRole",
        "id": "feed-practitioner",
        "extension": [{"url": EXT + "lead-professional", "valueBoolean": r.lead}],
        "period": {"start": r.since.isoformat()},
        "practitioner": {"display": r.practitioner_name},
        "organization": {"display": r.organisation},
        "code": [{"text": r.role}],
        "telecom": telecom,
    }
    return [child, practitioner]


@router.get("/Task", openapi_extra=query_parameters(_PARAMETERS))
def queue(request: Request, info: SignedIn, services: ServicesDep, audit: Audit) -> Response:
    """The review items waiting for a decision (index team only)."""
    _team_only(audit, info, "review-list")
    items = list(request.query_params.multi_items())
    if any(k != "status" for k, _v in items) or len(items) > 1:
        audit(info, "review-list", "refused", detail={"error": "INVALID_VALUE"})
        raise RequestError(400, "value", "INVALID_VALUE", "Use status=requested only.")
    if items and items[0][1] != "requested":
        audit(info, "review-list", "refused", detail={"error": "INVALID_VALUE"})
        raise RequestError(400, "value", "INVALID_VALUE", "Use status=requested only.")
    with services.engine.connect() as conn:
        pending = pending_reviews(conn, MAX_LISTED)
        total = pending_count(conn)
        ids = index_ids(conn, [i.child_pk for i in pending])
    audit(info, "review-list", "success", detail={"results": len(pending), "total": total})
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": iso(services.clock.now()),
        "total": total,
    }
    if pending:
        bundle["entry"] = [
            {"fullUrl": f"urn:uuid:review-{i.id}", "resource": task(i, ids[i.child_pk])}
            for i in pending
        ]
    return fhir_response(bundle)


@router.get("/Task/{item_id}")
def view(item_id: str, info: SignedIn, services: ServicesDep, audit: Audit) -> Response:
    """One item: the feed row and the candidate child, side by side (index team only)."""
    _team_only(audit, info, "review-view")
    try:
        review_id = _item_id(item_id)
        with services.engine.connect() as conn:
            item = review_item(conn, review_id)
            if item is None:
                raise _not_found()
            patient_id = index_ids(conn, [item.child_pk])[item.child_pk]
            record = load_record(conn, patient_id)
    except RequestError:
        audit(info, "review-view", "not-found")
        raise
    assert record is not None  # feed_review.child_pk is a foreign key
    detail: dict[str, Any] = {"review": item.id, "reason": "link-review"}
    if record.child.shielded:
        detail["served"] = "full"  # listed by the misuse report (cpindex.audit.misuse)
    audit(info, "review-view", "success", patient_id=patient_id, detail=detail)
    phone = services.settings.index_team_phone
    candidate = patient_resource(record.child, phone, full=True)
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": iso(services.clock.now()),
        "entry": [
            {"fullUrl": f"urn:uuid:review-{item.id}", "resource": task(item, patient_id, row=True)},
            {"fullUrl": f"urn:uuid:{patient_id}", "resource": candidate},
        ],
    }
    return fhir_response(bundle)


def _decide(
    item_id: str, link: bool, info: SessionInfo, services: Any, audit: AuditWriter
) -> Response:
    _team_only(audit, info, "feed-review")
    actor = Actor(info.user.username, info.user.role, info.user.organisation)
    try:
        review_id = _item_id(item_id)
        decided = decide_review(
            services.engine, review_id, link, now=services.clock.now(), actor=actor
        )
    except (RequestError, NoSuchReview):
        audit(info, "feed-review", "not-found")
        raise _not_found() from None
    except StaleReview:
        audit(info, "feed-review", "conflict", detail={"review": review_id})
        raise RequestError(
            409, "conflict", "CONFLICT",
            "This item is not waiting any more: it was decided, or its feed was replaced by "
            "a newer one. Nothing was changed.",
        ) from None  # fmt: skip
    with services.engine.connect() as conn:
        items = [review_item(conn, one) for one in decided]
        ids = index_ids(conn, [i.child_pk for i in items if i is not None])
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": iso(services.clock.now()),
        "entry": [
            {"fullUrl": f"urn:uuid:review-{i.id}", "resource": task(i, ids[i.child_pk])}
            for i in items
            if i is not None
        ],
    }
    return fhir_response(bundle)


@router.post("/Task/{item_id}/$link")
def link(item_id: str, info: SignedIn, services: ServicesDep, audit: Audit) -> Response:
    """Link the row to its candidate child; the same rows of the feed go with it."""
    return _decide(item_id, True, info, services, audit)


@router.post("/Task/{item_id}/$not-this-child")
def not_this_child(item_id: str, info: SignedIn, services: ServicesDep, audit: Audit) -> Response:
    """The row is not about the candidate child: it stays unlinked, remembered as such."""
    return _decide(item_id, False, info, services, audit)
