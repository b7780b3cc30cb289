"""FHIR R4 resources built from store rows. Shielding is applied here and only here.

A shielded child's resources carry identifier, name, birth date, gender and the index
team's contact; nothing else is ever put into the response, so no client can leak it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from cpindex.records import CarerRow, ChildRow, InvolvementRow, OrganisationRow, RecordRow

__all__ = [
    "SELF_DECLARED",
    "everything_bundle",
    "patient_resource",
    "practitioner_role",
    "searchset_bundle",
]

NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"
EXT = "https://cpindex.example/fhir/StructureDefinition/"
ROLE_CODES = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
RESTRICTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
    "code": "R",
    "display": "restricted",
}
RELATIONSHIPS = {
    "MTH": "Mother",
    "FTH": "Father",
    "GRMTH": "Grandmother",
    "GRFTH": "Grandfather",
    "STPMTH": "Stepmother",
    "STPFTH": "Stepfather",
    "FSTPAR": "Foster parent",
    "GUARD": "Guardian",
}
_NAME_USE = {"official": "official", "old": "old", "nickname": "nickname"}
SOURCE_URL = EXT + "involvement-source"
SELF_DECLARED = "self-declared"


def _names(child: ChildRow) -> list[dict[str, Any]]:
    return [
        {"use": _NAME_USE[n.kind], "family": n.family, "given": list(n.given)} for n in child.names
    ]


def _phone(value: str, use: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"system": "phone", "value": value}
    if use:
        entry["use"] = use
    return entry


def _address(line1: str, line2: str | None, city: str | None, postcode: str) -> dict[str, Any]:
    lines = [line1] + ([line2] if line2 else [])
    address: dict[str, Any] = {"use": "home", "line": lines, "postalCode": postcode}
    if city:
        address["city"] = city
    return address


def patient_resource(
    child: ChildRow, index_team_phone: str, *, full: bool = False
) -> dict[str, Any]:
    """A Patient; for a shielded child, the restricted form only, unless `full` (the index
    team's audited view: every field, still labelled restricted)."""
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": child.index_id,
        "meta": {"security": []},
        "identifier": [{"system": NHS_NUMBER, "value": child.nhs_number}],
        "name": _names(child),
        "gender": child.gender,
        "birthDate": child.birth_date.isoformat(),
    }
    if child.shielded and full:
        patient["meta"] = {"security": [dict(RESTRICTED)]}
    elif child.shielded:
        # Official name only: a previous name or alias could point to the old address.
        patient["name"] = [n for n in patient["name"] if n["use"] == "official"][:1]
        patient["meta"] = {"security": [dict(RESTRICTED)]}
        patient["extension"] = [
            {
                "url": EXT + "index-team-contact",
                "valueString": f"Contact the index team on {index_team_phone}",
            }
        ]
        return patient
    patient["address"] = [_address(child.line1, child.line2, child.city, child.postcode)]
    return patient


def searchset_bundle(
    entries: list[tuple[ChildRow, float]], index_team_phone: str, now: dt.datetime
) -> dict[str, Any]:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": _instant(now),
        "total": len(entries),
    }
    if entries:
        bundle["entry"] = [
            {
                "fullUrl": f"urn:uuid:{c.index_id}",
                "search": {"score": score},
                "resource": patient_resource(c, index_team_phone),
            }
            for c, score in entries
        ]
    return bundle


def _related_person(patient_id: str, number: int, carer: CarerRow) -> dict[str, Any]:
    telecom = []
    if carer.phone:
        telecom.append(_phone(carer.phone, "mobile"))
    if carer.email:
        telecom.append({"system": "email", "value": carer.email})
    person: dict[str, Any] = {
        "resourceType": "RelatedPerson",
        "id": f"{patient_id}-carer-{number}",
        "extension": [
            {
                "url": EXT + "parental-responsibility",
                "valueBoolean": carer.parental_responsibility,
            }
        ],
        "patient": {"reference": f"Patient/{patient_id}"},
        "relationship": [
            {
                "coding": [
                    {
                        "system": ROLE_CODES,
                        "code": carer.relationship,
                        "display": RELATIONSHIPS.get(carer.relationship, carer.relationship),
                    }
                ],
                "text": RELATIONSHIPS.get(carer.relationship, carer.relationship),
            }
        ],
        "name": [{"family": carer.family, "given": [carer.given]}],
    }
    if telecom:
        person["telecom"] = telecom
    if carer.line1 and carer.postcode:
        person["address"] = [_address(carer.line1, None, carer.city, carer.postcode)]
    return person


def _organisation(patient_id: str, org: OrganisationRow) -> dict[str, Any]:
    telecom = [_phone(org.phone, "work")]
    if org.email:
        telecom.append({"system": "email", "value": org.email})
    label = "School" if org.kind == "school" else "GP practice"
    return {
        "resourceType": "Organization",
        "id": f"{patient_id}-{org.kind}",
        "type": [{"coding": [{"code": org.kind, "display": label}], "text": label}],
        "name": org.name,
        "telecom": telecom,
    }


def _entry(resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource}


def _source(inv: InvolvementRow, viewer: int | None) -> dict[str, Any] | None:
    """Where an involvement came from: self-declared (and by the viewer or not), a feed's
    source, or nothing for the index's own (seeded) rows."""
    if inv.declared_by is not None:
        coding = {"system": SOURCE_URL, "code": SELF_DECLARED, "display": "Self-declared"}
        own = {"url": EXT + "declared-by-viewer", "valueBoolean": inv.declared_by == viewer}
        return {"url": SOURCE_URL, "valueCoding": coding, "extension": [own]}
    if inv.source is not None:
        coding = {"system": SOURCE_URL, "code": "feed", "display": inv.source}
        return {"url": SOURCE_URL, "valueCoding": coding}
    return None


def practitioner_role(
    pid: str, number: int, inv: InvolvementRow, viewer: int | None = None
) -> dict[str, Any]:
    """The child's `number`-th involvement; `viewer` (a user id) learns which is theirs."""
    extensions = [{"url": EXT + "lead-professional", "valueBoolean": inv.lead}]
    source = _source(inv, viewer)
    if source is not None:
        extensions.append(source)
    telecom = [_phone(inv.phone, "work")]
    if inv.email:
        telecom.append({"system": "email", "value": inv.email})
    return {
        "resourceType": "PractitionerRole",
        "id": f"{pid}-involvement-{number}",
        "extension": extensions,
        "period": {"start": inv.since.isoformat()},
        "practitioner": {"display": inv.name},
        "organization": {"display": inv.organisation},
        "code": [{"text": inv.role}],
        "telecom": telecom,
    }


def everything_bundle(
    record: RecordRow,
    index_team_phone: str,
    now: dt.datetime,
    *,
    full: bool = False,
    viewer: int | None = None,
) -> dict[str, Any]:
    """The record as a collection Bundle; a shielded child's holds the restricted Patient
    alone unless `full`, which only the index team's role is given (cpindex.api.patient).
    `viewer`, the signed-in user's id, marks their own self-declared involvement."""
    pid = record.child.index_id
    resources = [patient_resource(record.child, index_team_phone, full=full)]
    if not record.child.shielded or full:
        resources += [_related_person(pid, i, c) for i, c in enumerate(record.carers, start=1)]
        resources += [
            _organisation(pid, org) for org in (record.school, record.gp) if org is not None
        ]
        resources += [
            practitioner_role(pid, inv.number or i, inv, viewer)
            for i, inv in enumerate(record.involvements, start=1)
        ]
        if record.sensitive_contact:
            resources.append(
                {
                    "resourceType": "PractitionerRole",
                    "id": f"{pid}-sensitive-service",
                    "extension": [{"url": EXT + "lead-professional", "valueBoolean": False}],
                    "code": [{"text": "Sensitive service"}],
                    "telecom": [_phone(record.sensitive_contact, "work")],
                }
            )
        if record.caf:
            resources.append(
                {
                    "resourceType": "Flag",
                    "id": f"{pid}-caf",
                    "status": "active",
                    "code": {"text": "Common Assessment Framework assessment"},
                    "subject": {"reference": f"Patient/{pid}"},
                }
            )
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": _instant(now),
        "entry": [_entry(r) for r in resources],
    }


def _instant(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
