"""FHIR R4 JSON (as docs/api.md shapes it) to and from the dataclasses of `cpdesk.records`.

Tolerant of missing optional fields, strict on required ones: a Patient without
resourceType, id, a name or a full birthDate, or a Bundle of the wrong type, raises
`MalformedResponse`. Errors here never carry data from the answer: no value is ever put
in a message, and no parsing exception is chained (they are raised outside `except`).
A shielded child keeps only identifier, name, birth date, gender and the index team's
contact, even if a faulty server sent more.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from cpdesk.errors import MalformedResponse

if TYPE_CHECKING:
    from cpdesk.involvements import SelfDeclaration
from cpdesk.records import (
    Carer,
    ChildRecord,
    ChildSummary,
    Contact,
    Involvement,
    Organisation,
    SearchQuery,
    SearchResult,
)

AUDIT_ACTION_SYSTEM = "https://cpindex.example/fhir/CodeSystem/audit-action"

__all__ = [
    "CAF_TEXT",
    "CONFIDENTIALITY_SYSTEM",
    "DECLARED_BY_VIEWER_URL",
    "INDEX_TEAM_CONTACT_URL",
    "INVOLVEMENT_SOURCE_URL",
    "LEAD_PROFESSIONAL_URL",
    "NHS_NUMBER_SYSTEM",
    "PARENTAL_RESPONSIBILITY_URL",
    "Outcome",
    "declaration_body",
    "encode_reason_text",
    "involvement_source",
    "offline_view_event",
    "parse_bundle_bytes",
    "parse_everything",
    "parse_instant",
    "parse_involvement",
    "parse_outcome",
    "parse_searchset",
    "search_params",
]

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
CONFIDENTIALITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
PARENTAL_RESPONSIBILITY_URL = (
    "https://cpindex.example/fhir/StructureDefinition/parental-responsibility"
)
LEAD_PROFESSIONAL_URL = "https://cpindex.example/fhir/StructureDefinition/lead-professional"
PATIENT_URL = "https://cpindex.example/fhir/StructureDefinition/patient"
INVOLVEMENT_SOURCE_URL = "https://cpindex.example/fhir/StructureDefinition/involvement-source"
DECLARED_BY_VIEWER_URL = "https://cpindex.example/fhir/StructureDefinition/declared-by-viewer"
INDEX_TEAM_CONTACT_URL = "https://cpindex.example/fhir/StructureDefinition/index-team-contact"
CAF_TEXT = "Common Assessment Framework assessment"
_MAX_DIAGNOSTICS = 300

# v3-RoleCode display names, used when the server sends a code without text.
_RELATIONSHIPS = {
    "MTH": "Mother",
    "FTH": "Father",
    "PRN": "Parent",
    "GRMTH": "Grandmother",
    "GRFTH": "Grandfather",
    "STPMTH": "Stepmother",
    "STPFTH": "Stepfather",
    "FSTPAR": "Foster parent",
    "AUNT": "Aunt",
    "UNCLE": "Uncle",
    "SIS": "Sister",
    "BRO": "Brother",
    "GUARD": "Guardian",
}


@dataclass(frozen=True)
class Outcome:
    """The parts of an OperationOutcome a client may show: about the request, not a child."""

    issue_code: str = ""
    pds_code: str = ""
    diagnostics: str = ""
    severity: str = ""


# -- small typed accessors ---------------------------------------------------------------


def _malformed() -> MalformedResponse:
    return MalformedResponse()


def _obj(value: object) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None


def _list(value: object) -> Sequence[Any]:
    """A JSON array, or empty for anything else (missing optional lists)."""
    return value if isinstance(value, list) else ()


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _first_obj(value: object) -> Mapping[str, Any]:
    for item in _list(value):
        found = _obj(item)
        if found is not None:
            return found
    return {}


def _date(value: object) -> dt.date | None:
    """A FHIR date or the date part of a dateTime; None when absent or unreadable."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def parse_instant(value: object) -> dt.datetime | None:
    """An ISO 8601 instant as an aware UTC datetime (naive means UTC); None if unreadable."""
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def _extension(resource: Mapping[str, Any], url: str) -> Mapping[str, Any] | None:
    for item in _list(resource.get("extension")):
        ext = _obj(item)
        if ext is not None and ext.get("url") == url:
            return ext
    return None


def _flag(resource: Mapping[str, Any], url: str) -> bool:
    ext = _extension(resource, url)
    return ext is not None and ext.get("valueBoolean") is True


def _contact(resource: Mapping[str, Any]) -> Contact:
    phone = email = ""
    for item in _list(resource.get("telecom")):
        point = _obj(item) or {}
        system, value = point.get("system"), _text(point.get("value"))
        if system == "phone" and value and not phone:
            phone = value
        elif system == "email" and value and not email:
            email = value
    return Contact(phone=phone, email=email)


def _address_lines(address: Mapping[str, Any]) -> tuple[str, ...]:
    lines = [_text(line) for line in _list(address.get("line"))]
    lines += [_text(address.get(key)) for key in ("city", "district", "postalCode")]
    return tuple(line for line in lines if line)


def _home_address(resource: Mapping[str, Any]) -> Mapping[str, Any]:
    addresses = [a for a in (_obj(x) for x in _list(resource.get("address"))) if a is not None]
    for address in addresses:
        if address.get("use") == "home":
            return address
    return addresses[0] if addresses else {}


# -- Patient -----------------------------------------------------------------------------


def _is_shielded(patient: Mapping[str, Any]) -> bool:
    meta = _obj(patient.get("meta")) or {}
    for item in _list(meta.get("security")):
        coding = _obj(item) or {}
        if coding.get("code") == "R" and coding.get("system") in (None, CONFIDENTIALITY_SYSTEM):
            return True
    return False


def _official_name(patient: Mapping[str, Any]) -> tuple[tuple[str, ...], str] | None:
    names = [n for n in (_obj(x) for x in _list(patient.get("name"))) if n is not None]
    if not names:
        return None
    ranked = sorted(names, key=lambda n: {"official": 0, "usual": 1}.get(n.get("use", ""), 2))
    name = ranked[0]
    given = tuple(g for g in (_text(x) for x in _list(name.get("given"))) if g)
    family = _text(name.get("family"))
    if not given and not family:
        return None
    return given, family


def _summary(patient: Mapping[str, Any], score: float) -> ChildSummary:
    """A Patient as a ChildSummary; raises MalformedResponse when a required part is missing."""
    if patient.get("resourceType") != "Patient":
        raise _malformed()
    index_id = _text(patient.get("id"))
    name = _official_name(patient)
    birthdate = _date(patient.get("birthDate"))
    if not index_id or name is None or birthdate is None or len(patient["birthDate"]) != 10:
        raise _malformed()
    nhs_number = ""
    for item in _list(patient.get("identifier")):
        ident = _obj(item) or {}
        if ident.get("system") == NHS_NUMBER_SYSTEM:
            nhs_number = _text(ident.get("value"))
            break
    shielded = _is_shielded(patient)
    return ChildSummary(
        index_id=index_id,
        nhs_number=nhs_number,
        given=name[0],
        family=name[1],
        birthdate=birthdate,
        gender=_text(patient.get("gender")),
        postcode="" if shielded else _text(_home_address(patient).get("postalCode")),
        score=score,
        shielded=shielded,
    )


def _score(entry: Mapping[str, Any]) -> float:
    raw = (_obj(entry.get("search")) or {}).get("score")
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return 1.0
    return min(max(float(raw), 0.0), 1.0)


def parse_searchset(body: object) -> SearchResult:
    """A `searchset` Bundle as ranked rows (best first, as the server ranked them)."""
    bundle = _obj(body)
    if bundle is None or bundle.get("resourceType") != "Bundle":
        raise _malformed()
    if bundle.get("type") != "searchset":
        raise _malformed()
    rows: list[ChildSummary] = []
    for item in _list(bundle.get("entry")):
        entry = _obj(item)
        resource = _obj(entry.get("resource")) if entry is not None else None
        if entry is None or resource is None:
            raise _malformed()
        rows.append(_summary(resource, _score(entry)))
    rows.sort(key=lambda row: row.score, reverse=True)
    return SearchResult(children=tuple(rows))


# -- $everything -------------------------------------------------------------------------


def _carer(resource: Mapping[str, Any]) -> Carer:
    name = _first_obj(resource.get("name"))
    full = (
        _text(name.get("text"))
        or " ".join(
            [
                *(g for g in (_text(x) for x in _list(name.get("given"))) if g),
                _text(name.get("family")),
            ]
        ).strip()
    )
    if not full:
        raise _malformed()
    relationship = _first_obj(resource.get("relationship"))
    coding = _first_obj(relationship.get("coding"))
    code = _text(coding.get("code"))
    label = (
        _text(relationship.get("text"))
        or _text(coding.get("display"))
        or _RELATIONSHIPS.get(code, code)
    )
    address = _first_obj(resource.get("address"))
    return Carer(
        name=full,
        relationship=label,
        parental_responsibility=_flag(resource, PARENTAL_RESPONSIBILITY_URL),
        contact=_contact(resource),
        address=", ".join(_address_lines(address)),
    )


def _organisation(resource: Mapping[str, Any]) -> Organisation | None:
    kind = _text(_first_obj(_first_obj(resource.get("type")).get("coding")).get("code"))
    if kind not in ("school", "gp-practice"):
        return None  # an organisation this version does not show
    name = _text(resource.get("name"))
    if not name:
        raise _malformed()
    return Organisation(name=name, kind=kind, contact=_contact(resource))


def parse_involvement(body: object) -> Involvement:
    """One PractitionerRole (the answer to a self-declaration) as an Involvement."""
    resource = _obj(body)
    if resource is None or resource.get("resourceType") != "PractitionerRole":
        raise _malformed()
    return _involvement(resource)


def _involvement(resource: Mapping[str, Any]) -> Involvement:
    role = _text(_first_obj(resource.get("code")).get("text"))
    practitioner = _text((_obj(resource.get("practitioner")) or {}).get("display"))
    if not role and not practitioner:
        raise _malformed()
    period = _obj(resource.get("period")) or {}
    return Involvement(
        practitioner=practitioner,
        role=role,
        organisation=_text((_obj(resource.get("organization")) or {}).get("display")),
        contact=_contact(resource),
        since=_date(period.get("start")),
        lead_professional=_flag(resource, LEAD_PROFESSIONAL_URL),
        role_id=_text(resource.get("id")),
        **involvement_source(resource),
    )


def involvement_source(resource: Mapping[str, Any]) -> dict[str, Any]:
    """`source` ("Self-declared", a feed's source name, or "") and `mine` (the signed-in
    user declared it) from the PractitionerRole's involvement-source extension."""
    for ext in _list(resource.get("extension")):
        ext = _obj(ext) or {}
        if ext.get("url") != INVOLVEMENT_SOURCE_URL:
            continue
        coding = _obj(ext.get("valueCoding")) or {}
        mine = any(
            (_obj(e) or {}).get("url") == DECLARED_BY_VIEWER_URL
            and (_obj(e) or {}).get("valueBoolean") is True
            for e in _list(ext.get("extension"))
        )
        self_declared = coding.get("code") == "self-declared"
        return {
            "source": "Self-declared" if self_declared else _text(coding.get("display")),
            "mine": self_declared and mine,
        }
    return {}


def _is_caf(resource: Mapping[str, Any]) -> bool:
    code = _obj(resource.get("code")) or {}
    if _text(code.get("text")) == CAF_TEXT:
        return True
    return any(
        _text((_obj(c) or {}).get("code")).upper() == "CAF" for c in _list(code.get("coding"))
    )


def parse_everything(body: object, index_id: str, *, team: bool = False) -> ChildRecord:
    """A `$everything` collection as one ChildRecord; the Patient must be the one asked for.

    `team`: the signed-in user is on the index team, whom the index serves a shielded
    child's full record (marked `team_view`); for anyone else a shielded child keeps the
    banner's fields only, whatever the answer holds."""
    bundle = _obj(body)
    if bundle is None or bundle.get("resourceType") != "Bundle":
        raise _malformed()
    if bundle.get("type") not in ("collection", "searchset"):
        raise _malformed()
    resources: list[Mapping[str, Any]] = []
    for item in _list(bundle.get("entry")):
        resource = _obj((_obj(item) or {}).get("resource"))
        if resource is None or not _text(resource.get("resourceType")):
            raise _malformed()
        resources.append(resource)
    patients = [r for r in resources if r.get("resourceType") == "Patient"]
    if len(patients) != 1:
        raise _malformed()
    patient = patients[0]
    summary = _summary(patient, 1.0)
    if summary.index_id != index_id:
        raise _malformed()  # never show a different child from the one chosen
    if summary.shielded and not team:
        contact = _text((_extension(patient, INDEX_TEAM_CONTACT_URL) or {}).get("valueString"))
        return ChildRecord(summary=summary, index_team_contact=contact)
    carers: list[Carer] = []
    involvements: list[Involvement] = []
    school = gp = None
    caf = False
    for resource in resources:
        kind = resource.get("resourceType")
        if kind == "RelatedPerson":
            carers.append(_carer(resource))
        elif kind == "Organization":
            org = _organisation(resource)
            if org is not None and org.kind == "school" and school is None:
                school = org
            elif org is not None and org.kind == "gp-practice" and gp is None:
                gp = org
        elif kind == "PractitionerRole":
            involvements.append(_involvement(resource))
        elif kind == "Flag":
            caf = caf or _is_caf(resource)
    return ChildRecord(
        summary=summary,
        address=_address_lines(_home_address(patient)),
        carers=tuple(carers),
        school=school,
        gp=gp,
        involvements=tuple(involvements),
        caf=caf,
        team_view=summary.shielded,
    )


# -- OperationOutcome and requests -------------------------------------------------------


def parse_bundle_bytes(content: bytes, index_id: str) -> ChildRecord:
    """A `$everything` Bundle kept as bytes (the offline cache) read back as a ChildRecord."""
    try:
        body = json.loads(content)
    except ValueError:
        raise _malformed() from None
    return parse_everything(body, index_id)


def declaration_body(index_id: str, declaration: SelfDeclaration) -> dict[str, Any]:
    """The PractitionerRole `POST /PractitionerRole` takes ("I am working with this child")."""
    telecom = [{"system": "phone", "value": declaration.phone.strip()}]
    if declaration.email.strip():
        telecom.append({"system": "email", "value": declaration.email.strip()})
    return {
        "resourceType": "PractitionerRole",
        "extension": [
            {"url": PATIENT_URL, "valueReference": {"reference": f"Patient/{index_id}"}},
            {"url": LEAD_PROFESSIONAL_URL, "valueBoolean": declaration.lead},
        ],
        "period": {"start": declaration.since.isoformat()},
        "code": [{"text": declaration.role.strip()}],
        "telecom": telecom,
    }


def offline_view_event(index_id: str, viewed_at: dt.datetime) -> dict[str, Any]:
    """The AuditEvent `POST /AuditEvent` takes: a cached record re-read while offline."""
    return {
        "resourceType": "AuditEvent",
        "subtype": [{"system": AUDIT_ACTION_SYSTEM, "code": "offline-view"}],
        "recorded": viewed_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "entity": [{"what": {"reference": f"Patient/{index_id}"}}],
    }


def parse_outcome(body: object) -> Outcome | None:
    """The first issue of an OperationOutcome, or None if the body is not one."""
    outcome = _obj(body)
    if outcome is None or outcome.get("resourceType") != "OperationOutcome":
        return None
    issue = _first_obj(outcome.get("issue"))
    coding = _first_obj((_obj(issue.get("details")) or {}).get("coding"))
    diagnostics = " ".join(_text(issue.get("diagnostics")).split())
    if len(diagnostics) > _MAX_DIAGNOSTICS:
        diagnostics = diagnostics[: _MAX_DIAGNOSTICS - 1].rstrip() + "…"
    return Outcome(
        issue_code=_text(issue.get("code")),
        pds_code=_text(coding.get("code")),
        diagnostics=diagnostics,
        severity=_text(issue.get("severity")),
    )


def search_params(query: SearchQuery) -> list[tuple[str, str]]:
    """The query string of `GET /Patient` (empty fields left out)."""
    params: list[tuple[str, str]] = []
    if query.family.strip():
        params.append(("family", query.family.strip()))
    params += [("given", g.strip()) for g in query.given if g.strip()]
    if query.birthdate is not None:
        params.append(("birthdate", f"eq{query.birthdate.isoformat()}"))
    else:
        if query.birthdate_from is not None:
            params.append(("birthdate", f"ge{query.birthdate_from.isoformat()}"))
        if query.birthdate_to is not None:
            params.append(("birthdate", f"le{query.birthdate_to.isoformat()}"))
    if query.gender.strip():
        params.append(("gender", query.gender.strip().lower()))
    if query.postcode.strip():
        params.append(("address-postalcode", query.postcode.strip()))
    if query.fuzzy:
        params.append(("_fuzzy-match", "true"))
    params.append(("_max-results", str(query.max_results)))
    return params


def encode_reason_text(text: str) -> str:
    """Percent-encoded UTF-8 for the X-Access-Reason-Text header (HTTP headers are Latin-1)."""
    return quote(text, safe="")
