"""FHIR R4 `Communication` (docs/api.md, "Notices") to and from `cpdesk.notices.Notice`.

Strict on what the inbox relies on (id, a known category, the child's reference), tolerant
of the rest; like `fhir.py`, no value from an answer ever reaches an error message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cpdesk.errors import MalformedResponse
from cpdesk.net.fhir import parse_instant
from cpdesk.notices import Category, Notice

__all__ = [
    "INDEX_TEAM_REFERENCE",
    "communication",
    "parse_communication",
    "parse_count",
    "parse_notices",
    "stored_count",
]

INDEX_TEAM_REFERENCE = "Organization/index-team"
_CATEGORY_SYSTEM = "https://cpindex.example/fhir/CodeSystem/notice-category"
_RELAYED_URL = "https://cpindex.example/fhir/StructureDefinition/relayed-from"
_ASKED_BY_URL = "https://cpindex.example/fhir/StructureDefinition/asked-by"
_CATEGORIES = {c.value: c for c in Category}


def _obj(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> Sequence[Any]:
    return value if isinstance(value, list) else ()


def _first(value: object) -> Mapping[str, Any]:
    items = _list(value)
    return _obj(items[0]) if items else {}


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def communication(
    patient_id: str, category: Category, text: str, recipients: Sequence[str] = ()
) -> dict[str, Any]:
    """The body of `POST /Communication` (no recipients: the lead professional, or the
    index team's queue for a shielded child)."""
    body: dict[str, Any] = {
        "resourceType": "Communication",
        "status": "in-progress",
        "subject": {"reference": f"Patient/{patient_id}"},
        "category": [{"coding": [{"system": _CATEGORY_SYSTEM, "code": category.value}]}],
        "payload": [{"contentString": text}],
    }
    if recipients:
        body["recipient"] = [{"reference": r} for r in recipients]
    return body


def parse_communication(body: object) -> Notice:
    resource = _obj(body)
    if resource.get("resourceType") != "Communication":
        raise MalformedResponse()
    notice_id = _text(resource.get("id"))
    category = _first(resource.get("category"))
    code = _text(_first(category.get("coding")).get("code"))
    reference = _text(_obj(resource.get("subject")).get("reference"))
    if not notice_id or code not in _CATEGORIES or not reference.startswith("Patient/"):
        raise MalformedResponse()
    recipient = _first(resource.get("recipient"))
    payload = _first(resource.get("payload"))
    extensions = {_text(_obj(e).get("url")): _obj(e) for e in _list(resource.get("extension"))}
    relayed = _RELAYED_URL in extensions
    return Notice(
        id=notice_id,
        category=_CATEGORIES[code],
        patient_id=reference.removeprefix("Patient/"),
        sent=parse_instant(resource.get("sent")),
        sender=_text(_obj(resource.get("sender")).get("display")),
        recipient=_text(recipient.get("display")),
        text=_text(payload.get("contentString")),
        read=resource.get("received") is not None,
        done=resource.get("status") == "completed",
        queued=recipient.get("reference") == INDEX_TEAM_REFERENCE,
        relayed=relayed,
        asked_by=_text(extensions.get(_ASKED_BY_URL, {}).get("valueString")),
    )


def parse_notices(body: object) -> tuple[Notice, ...]:
    """A searchset Bundle of Communications, newest first as the index sends them."""
    bundle = _obj(body)
    if bundle.get("resourceType") != "Bundle":
        raise MalformedResponse()
    return tuple(parse_communication(_obj(e).get("resource")) for e in _list(bundle.get("entry")))


def parse_count(body: object) -> int:
    """`total` of a `_summary=count` Bundle."""
    bundle = _obj(body)
    total = bundle.get("total")
    if bundle.get("resourceType") != "Bundle" or not isinstance(total, int) or total < 0:
        raise MalformedResponse()
    if isinstance(total, bool):
        raise MalformedResponse()
    return total


def stored_count(body: object) -> int:
    """How many Communications a send, relay or answer stored (one per recipient)."""
    return len(parse_notices(body))
