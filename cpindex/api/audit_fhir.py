"""FHIR R4 AuditEvent resources built from audit rows (kept apart from the record builder).

Mapping: `type` is a RESTful operation, `subtype` our action code, `agent[0]` the user
(username, role, organisation as its location), `entity` the child viewed (a Patient
reference) or the query (base64 of its canonical JSON) with the result count, and
`purposeOfEvent` the reason for access.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "ACTION_SYSTEM",
    "EXT",
    "REASON_SYSTEM",
    "audit_bundle",
    "audit_event_resource",
]

EXT = "https://cpindex.example/fhir/StructureDefinition/"

ACTION_SYSTEM = "https://cpindex.example/fhir/CodeSystem/audit-action"
REASON_SYSTEM = "https://cpindex.example/fhir/CodeSystem/access-reason"
OUTCOME_SYSTEM = "https://cpindex.example/fhir/CodeSystem/audit-outcome"
_USERNAME = "https://cpindex.example/Id/username"
_REST = {
    "system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
    "code": "rest",
    "display": "RESTful Operation",
}
# FHIR AuditEvent.action: C create, R read, U update, D delete, E execute.
_ACTION_CODE = {
    "search": "E",
    "view": "R",
    "offline-view": "R",
    "audit-read": "R",
    "misuse-report": "E",
    "self-declare": "C",
    "self-declare-end": "D",
}
_SUCCESS = ("success",)


def _instant(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def audit_event_resource(
    row: Mapping[str, Any], extensions: Sequence[dict[str, Any]] = ()
) -> dict[str, Any]:
    """One audit row as an AuditEvent (`extensions` carry misuse findings)."""
    detail: dict[str, Any] = json.loads(row["detail"]) if row["detail"] else {}
    outcome = str(row["outcome"])
    agent: dict[str, Any] = {
        "type": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/extra-security-role-type",
                    "code": "humanuser",
                    "display": "human user",
                }
            ]
        },
        "requestor": True,
    }
    if row["username"]:
        agent["who"] = {"identifier": {"system": _USERNAME, "value": row["username"]}}
        agent["altId"] = row["username"]
    if row["role"]:
        agent["role"] = [{"coding": [{"system": ACTION_SYSTEM + "-role", "code": row["role"]}]}]
    if row["organisation"]:
        agent["name"] = row["organisation"]
    if row.get("client_address"):
        agent["network"] = {"address": row["client_address"], "type": "2"}  # 2: IP address
    resource: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": str(row["id"]),
        "type": _REST,
        "subtype": [{"system": ACTION_SYSTEM, "code": row["action"]}],
        "action": _ACTION_CODE.get(str(row["action"]), "E"),
        "recorded": _instant(row["at"]),
        "outcome": "0" if outcome in _SUCCESS else "4",
        "outcomeDesc": outcome,
        "agent": [agent],
        "source": {
            "observer": {"display": "cpindex"},
            "type": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/security-source-type",
                    "code": "3",
                    "display": "Web Server",
                }
            ],
        },
    }
    extension = list(extensions)
    if detail.get("reported_at"):  # an offline view: when the client says it happened
        extension.append({"url": EXT + "reported-at", "valueInstant": detail["reported_at"]})
    if extension:
        resource["extension"] = extension
    reason = detail.get("reason")
    if reason:
        purpose: dict[str, Any] = {"coding": [{"system": REASON_SYSTEM, "code": reason}]}
        if detail.get("reason_text"):
            purpose["text"] = detail["reason_text"]
        resource["purposeOfEvent"] = [purpose]
    entities: list[dict[str, Any]] = []
    if row["patient_id"]:
        entities.append({"what": {"reference": f"Patient/{row['patient_id']}"}})
    if "parameters" in detail or "results" in detail:
        query: dict[str, Any] = {
            "type": {
                "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
                "code": "2",
                "display": "System Object",
            },
            "detail": [],
        }
        if "parameters" in detail:
            canonical = json.dumps(detail["parameters"], sort_keys=True, separators=(",", ":"))
            query["query"] = base64.b64encode(canonical.encode()).decode("ascii")
        if "results" in detail:
            query["detail"].append({"type": "results", "valueString": str(detail["results"])})
        if not query["detail"]:
            del query["detail"]
        entities.append(query)
    if row["request_id"]:
        entities.append({"detail": [{"type": "request-id", "valueString": row["request_id"]}]})
    if entities:
        resource["entity"] = entities
    return resource


def audit_bundle(resources: Sequence[dict[str, Any]], now: dt.datetime) -> dict[str, Any]:
    """A searchset Bundle of AuditEvents."""
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": _instant(now),
        "total": len(resources),
    }
    if resources:
        bundle["entry"] = [
            {
                "fullUrl": f"urn:cpindex:AuditEvent:{r['id']}",
                "search": {"mode": "match"},
                "resource": r,
            }
            for r in resources
        ]
    return bundle
