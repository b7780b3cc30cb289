"""The index team's review calls: `/Task` Bundles to `cpdesk.review` dataclasses.

`ReviewClient` runs the calls through the app's one `IndexClient` (its pinned TLS session,
token and error mapping: `fetch_json`); the parsers here are strict on what the screen
needs (a Task with its contained feed row, the candidate Patient) and raise
`MalformedResponse` without any value from the answer, like `cpdesk.net.fhir`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import quote

from cpdesk.errors import MalformedResponse
from cpdesk.net.fhir import (
    LEAD_PROFESSIONAL_URL,
    NHS_NUMBER_SYSTEM,
    _contact,
    _date,
    _first_obj,
    _flag,
    _home_address,
    _is_shielded,
    _list,
    _obj,
    _official_name,
    _text,
)
from cpdesk.review import CandidateChild, FeedChild, FeedPractitioner, ReviewCase

__all__ = ["JsonFetcher", "ReviewClient", "parse_case", "parse_decided", "parse_queue"]


class JsonFetcher(Protocol):
    def fetch_json(self, method: str, path: str, operation: str) -> object: ...


class ReviewClient:
    """Blocking: call from worker threads (the review screen's jobs)."""

    def __init__(self, index: JsonFetcher) -> None:
        self._index = index

    def queue(self) -> tuple[tuple[str, ...], int]:
        return parse_queue(self._index.fetch_json("GET", "/Task?status=requested", "review_list"))

    def case(self, item_id: str) -> ReviewCase:
        body = self._index.fetch_json("GET", f"/Task/{quote(item_id, safe='')}", "review_view")
        return parse_case(body)

    def decide(self, item_id: str, link: bool) -> tuple[str, ...]:
        operation = "$link" if link else "$not-this-child"
        path = f"/Task/{quote(item_id, safe='')}/{operation}"
        return parse_decided(self._index.fetch_json("POST", path, "review_decide"))


def _resources(body: object, kind: str) -> list[Mapping[str, Any]]:
    bundle = _obj(body)
    if bundle is None or bundle.get("resourceType") != "Bundle" or bundle.get("type") != kind:
        raise MalformedResponse()
    found = []
    for entry in _list(bundle.get("entry")):
        resource = _obj((_obj(entry) or {}).get("resource"))
        if resource is None:
            raise MalformedResponse()
        found.append(resource)
    return found


def _task_ids(resources: list[Mapping[str, Any]]) -> tuple[str, ...]:
    ids = []
    for r in resources:
        item = _text(r.get("id"))
        if r.get("resourceType") != "Task" or not item:
            raise MalformedResponse()
        ids.append(item)
    return tuple(ids)


def parse_queue(body: object) -> tuple[tuple[str, ...], int]:
    """The pending items' ids, oldest first, and how many wait in all (the index lists
    the oldest few hundred)."""
    ids = _task_ids(_resources(body, "searchset"))
    total = (_obj(body) or {}).get("total")
    if not isinstance(total, int) or isinstance(total, bool) or total < len(ids):
        raise MalformedResponse()
    return ids, total


def parse_decided(body: object) -> tuple[str, ...]:
    """The ids a decision settled (the item, and rows of its feed about the same child)."""
    return _task_ids(_resources(body, "collection"))


def _inputs(task: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in _list(task.get("input")):
        given = _obj(item) or {}
        name = _text((_obj(given.get("type")) or {}).get("text"))
        for key in ("valueString", "valueInteger", "valueDecimal"):
            if key in given:
                values[name] = given[key]
    return values


def _nhs(resource: Mapping[str, Any]) -> str:
    for item in _list(resource.get("identifier")):
        ident = _obj(item) or {}
        if ident.get("system") == NHS_NUMBER_SYSTEM:
            return _text(ident.get("value"))
    return ""


def _contained(task: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    for item in _list(task.get("contained")):
        resource = _obj(item)
        if resource is not None and resource.get("resourceType") == kind:
            return resource
    raise MalformedResponse()


def _feed_child(patient: Mapping[str, Any]) -> FeedChild:
    name = _official_name(patient)
    if name is None:
        raise MalformedResponse()
    address = _first_obj(patient.get("address"))
    return FeedChild(
        given=name[0],
        family=name[1],
        birth_date=_date(patient.get("birthDate")),
        postcode=_text(address.get("postalCode")),
        nhs_number=_nhs(patient),
    )


def _practitioner(role: Mapping[str, Any]) -> FeedPractitioner:
    contact = _contact(role)
    return FeedPractitioner(
        name=_text((_obj(role.get("practitioner")) or {}).get("display")),
        role=_text(_first_obj(role.get("code")).get("text")),
        organisation=_text((_obj(role.get("organization")) or {}).get("display")),
        phone=contact.phone,
        email=contact.email,
        since=_date((_obj(role.get("period")) or {}).get("start")),
        lead=_flag(role, LEAD_PROFESSIONAL_URL),
    )


def _candidate(patient: Mapping[str, Any]) -> CandidateChild:
    index_id = _text(patient.get("id"))
    name = _official_name(patient)
    if patient.get("resourceType") != "Patient" or not index_id or name is None:
        raise MalformedResponse()
    others = []
    for item in _list(patient.get("name")):
        entry = _obj(item) or {}
        if entry.get("use") in ("old", "nickname"):
            given = tuple(g for g in (_text(x) for x in _list(entry.get("given"))) if g)
            others.append((given, _text(entry.get("family"))))
    home = _home_address(patient)
    lines = [_text(x) for x in _list(home.get("line"))] + [_text(home.get("city"))]
    return CandidateChild(
        index_id=index_id,
        given=name[0],
        family=name[1],
        other_names=tuple(others),
        birth_date=_date(patient.get("birthDate")),
        gender=_text(patient.get("gender")),
        postcode=_text(home.get("postalCode")),
        address=", ".join(line for line in lines if line),
        nhs_number=_nhs(patient),
        shielded=_is_shielded(patient),
    )


def parse_case(body: object) -> ReviewCase:
    """`GET /Task/{id}`: the Task (feed row contained) and the candidate Patient."""
    resources = _resources(body, "collection")
    if len(resources) != 2 or resources[0].get("resourceType") != "Task":
        raise MalformedResponse()
    task, patient = resources
    item_id = _text(task.get("id"))
    if not item_id:
        raise MalformedResponse()
    inputs = _inputs(task)
    row = inputs.get("row")
    probability = inputs.get("probability")
    return ReviewCase(
        item_id=item_id,
        source=_text(inputs.get("source")),
        row_number=row if isinstance(row, int) and not isinstance(row, bool) else None,
        probability=float(probability) if isinstance(probability, int | float) else None,
        reason=_text(task.get("description")),
        feed=_feed_child(_contained(task, "Patient")),
        practitioner=_practitioner(_contained(task, "PractitionerRole")),
        candidate=_candidate(patient),
    )
