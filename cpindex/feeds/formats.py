"""Reading a feed file (CSV or a FHIR Bundle) into checked rows and named rejects.

A row that breaks a rule is rejected with its reason and the rest still load; a file that
cannot be read as a feed at all (wrong header, not a Bundle, over the size limit) raises
FeedRejected and nothing is loaded. Rejection texts name the row and the field, never the
field's value, so a report or log carries no child data.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cpindex.seed.nhs import is_valid

__all__ = [
    "CSV_COLUMNS",
    "DEFAULT_MAX_BYTES",
    "FHIR_EXT",
    "NHS_SYSTEM",
    "FeedRejected",
    "FeedRow",
    "ParsedFeed",
    "Rejected",
    "parse_feed",
    "to_csv",
    "to_fhir",
]

# The documented CSV header (docs/feeds.md); order is free, every column must be there.
CSV_COLUMNS = (
    "child_given",
    "child_family",
    "child_birth_date",
    "child_postcode",
    "child_nhs_number",
    "practitioner_name",
    "practitioner_role",
    "practitioner_organisation",
    "practitioner_phone",
    "practitioner_email",
    "since",
    "lead_professional",
)
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
FHIR_EXT = "https://cpindex.example/fhir/StructureDefinition/"
NHS_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"

_REQUIRED = (
    "child_given",
    "child_family",
    "child_birth_date",
    "practitioner_name",
    "practitioner_role",
    "practitioner_organisation",
    "practitioner_phone",
    "since",
)
_MAX_LENGTH = {"child_given": 200, "child_family": 100, "practitioner_email": 200}
_POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$")
_PHONE = re.compile(r"^\+?[0-9 ()-]{6,30}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_FORMULA = ("=", "+", "@")
_YES = {"yes", "y", "true", "1"}
_NO = {"no", "n", "false", "0", ""}


class FeedRejected(Exception):
    """The whole feed is refused; the message says why (no child data in it)."""


@dataclass(frozen=True)
class FeedRow:
    """One checked feed row: a child as the source knows them and who works with them."""

    number: int  # CSV: line in the file; FHIR: entry number (from 1)
    given: str
    family: str
    birth_date: dt.date
    postcode: str | None
    nhs_number: str | None
    practitioner_name: str
    role: str
    organisation: str
    phone: str
    email: str
    since: dt.date
    lead: bool

    def as_json(self) -> dict[str, Any]:
        """The row as stored in the review queue (dates as ISO text)."""
        return {
            "number": self.number,
            "given": self.given,
            "family": self.family,
            "birth_date": self.birth_date.isoformat(),
            "postcode": self.postcode,
            "nhs_number": self.nhs_number,
            "practitioner_name": self.practitioner_name,
            "role": self.role,
            "organisation": self.organisation,
            "phone": self.phone,
            "email": self.email,
            "since": self.since.isoformat(),
            "lead": self.lead,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FeedRow:
        values = dict(data)
        values["birth_date"] = dt.date.fromisoformat(values["birth_date"])
        values["since"] = dt.date.fromisoformat(values["since"])
        return cls(**values)


@dataclass(frozen=True)
class Rejected:
    number: int
    reason: str


@dataclass(frozen=True)
class ParsedFeed:
    format: str  # csv | fhir
    rows: tuple[FeedRow, ...]
    rejected: tuple[Rejected, ...]


def parse_feed(data: bytes, *, today: dt.date, max_bytes: int = DEFAULT_MAX_BYTES) -> ParsedFeed:
    """Check a whole feed file; JSON (a FHIR Bundle) when it starts with `{`, else CSV."""
    if len(data) > max_bytes:
        raise FeedRejected(f"the file is larger than the limit of {max_bytes:,} bytes")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    # Undecodable bytes survive as surrogates, so only the rows holding them are rejected.
    text = data.decode("utf-8", errors="surrogateescape")
    if text.lstrip().startswith("{"):
        raw_rows = list(_fhir_rows(text))
        kind = "fhir"
    else:
        raw_rows = list(_csv_rows(text))
        kind = "csv"
    rows: list[FeedRow] = []
    rejected: list[Rejected] = []
    seen: dict[tuple[object, ...], int] = {}
    for number, raw in raw_rows:
        if isinstance(raw, str):
            rejected.append(Rejected(number, raw))
            continue
        result = _check(number, raw, today)
        if isinstance(result, str):
            rejected.append(Rejected(number, result))
            continue
        key = _identity(result)
        if key in seen:
            rejected.append(Rejected(number, f"duplicate of row {seen[key]}"))
            continue
        seen[key] = number
        rows.append(result)
    return ParsedFeed(kind, tuple(rows), tuple(rejected))


def _identity(row: FeedRow) -> tuple[object, ...]:
    return (
        row.given.casefold(),
        row.family.casefold(),
        row.birth_date,
        row.nhs_number,
        row.practitioner_name.casefold(),
        row.role.casefold(),
        row.organisation.casefold(),
    )


# --- CSV -------------------------------------------------------------------------------------


def _csv_rows(text: str) -> Iterable[tuple[int, dict[str, str] | str]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error:
        raise FeedRejected("the header line cannot be read as CSV") from None
    if header is None:
        raise FeedRejected("the file is empty")
    names = [h.strip().lower() for h in header]
    missing = [c for c in CSV_COLUMNS if c not in names]
    unknown = [n for n in names if n not in CSV_COLUMNS]
    if missing or unknown or len(set(names)) != len(names):
        parts = []
        if missing:
            parts.append("missing " + ", ".join(missing))
        if unknown:
            parts.append(f"{len(unknown)} unknown column(s)")
        if len(set(names)) != len(names):
            parts.append("a column named twice")
        raise FeedRejected("wrong header: " + "; ".join(parts) + " (see docs/feeds.md)")
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error:
            yield reader.line_num, "the line cannot be read as CSV"
            continue
        if not any(f.strip() for f in fields):
            continue
        if len(fields) != len(names):
            yield reader.line_num, f"{len(fields)} fields where the header has {len(names)}"
            continue
        yield reader.line_num, dict(zip(names, fields, strict=True))


# --- FHIR ------------------------------------------------------------------------------------


def _fhir_rows(text: str) -> Iterable[tuple[int, dict[str, str] | str]]:
    try:
        bundle = json.loads(text)
    except ValueError:
        raise FeedRejected("the file is neither CSV nor valid JSON") from None
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise FeedRejected("the JSON is not a FHIR Bundle")
    entries = bundle.get("entry")
    if not isinstance(entries, list):
        raise FeedRejected("the Bundle has no entry list")
    patients: dict[str, dict[str, Any]] = {}
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") == "Patient":
            if isinstance(entry.get("fullUrl"), str):
                patients[entry["fullUrl"]] = resource
            if isinstance(resource.get("id"), str):
                patients[f"Patient/{resource['id']}"] = resource
    for number, entry in enumerate(entries, start=1):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            yield number, "the entry has no resource"
            continue
        kind = resource.get("resourceType")
        if kind == "Patient":
            continue
        if kind != "PractitionerRole":
            yield number, "only PractitionerRole and Patient entries are read"
            continue
        try:
            yield number, _from_practitioner_role(resource, patients)
        except (KeyError, TypeError, IndexError, AttributeError, ValueError):
            yield number, "the PractitionerRole or its Patient lacks a required element"


def _extension(resource: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    for ext in resource.get("extension", []):
        if ext.get("url") == FHIR_EXT + name:
            return dict(ext)
    return None


def _from_practitioner_role(
    role: Mapping[str, Any], patients: Mapping[str, Mapping[str, Any]]
) -> dict[str, str] | str:
    subject = _extension(role, "subject")
    if subject is None:
        return "the PractitionerRole has no subject extension"
    patient = patients.get(subject["valueReference"]["reference"])
    if patient is None:
        return "the subject Patient is not in the Bundle"
    names = patient["name"]
    name = next((n for n in names if n.get("use") == "official"), names[0])
    nhs = next(
        (i["value"] for i in patient.get("identifier", []) if i.get("system") == NHS_SYSTEM), ""
    )
    addresses = patient.get("address", [])
    telecom = role.get("telecom", [])
    lead = _extension(role, "lead-professional")
    return {
        "child_given": " ".join(name["given"]),
        "child_family": name["family"],
        "child_birth_date": patient["birthDate"],
        "child_postcode": addresses[0].get("postalCode", "") if addresses else "",
        "child_nhs_number": nhs,
        "practitioner_name": role["practitioner"]["display"],
        "practitioner_role": role["code"][0]["text"],
        "practitioner_organisation": role["organization"]["display"],
        "practitioner_phone": next((t["value"] for t in telecom if t["system"] == "phone"), ""),
        "practitioner_email": next((t["value"] for t in telecom if t["system"] == "email"), ""),
        "since": role["period"]["start"],
        "lead_professional": "yes" if lead is not None and lead["valueBoolean"] else "no",
    }


# --- rules every row passes, whatever its format ---------------------------------------------


def _text_problem(column: str, value: Any) -> str | None:
    if not isinstance(value, str):
        return f"{column} is not text"
    if any("\udc80" <= ch <= "\udcff" for ch in value):
        return f"{column} is not valid UTF-8"
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in value):
        return f"control character in {column}"
    stripped = value.strip()
    if stripped.startswith(_FORMULA) and not (
        column == "practitioner_phone" and _PHONE.match(stripped)
    ):
        return f"{column} starts with a formula character (= + @)"
    if len(stripped) > _MAX_LENGTH.get(column, 200):
        return f"{column} is too long"
    return None


def _date(value: str) -> dt.date | None:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _check(number: int, raw: Mapping[str, Any], today: dt.date) -> FeedRow | str:
    """A FeedRow, or the reason the row is rejected."""
    for column in CSV_COLUMNS:
        problem = _text_problem(column, raw.get(column, ""))
        if problem:
            return problem
    v = {c: " ".join(str(raw.get(c, "")).split()) for c in CSV_COLUMNS}
    for column in _REQUIRED:
        if not v[column]:
            return f"{column} is missing"
    birth = _date(v["child_birth_date"])
    if birth is None or birth > today:
        return "child_birth_date is not a real past date as YYYY-MM-DD"
    since = _date(v["since"])
    if since is None or since > today:
        return "since is not a real past date as YYYY-MM-DD"
    if since < birth - dt.timedelta(days=280):
        return "since is before the child's date of birth"
    nhs = v["child_nhs_number"].replace(" ", "") or None
    if nhs is not None and not is_valid(nhs):
        return "child_nhs_number is not ten digits passing the modulus-11 check"
    postcode = v["child_postcode"].upper() or None
    if postcode is not None and not _POSTCODE.match(postcode):
        return "child_postcode is not a UK postcode"
    if not _PHONE.match(v["practitioner_phone"]):
        return "practitioner_phone is not a phone number"
    if v["practitioner_email"] and not _EMAIL.match(v["practitioner_email"]):
        return "practitioner_email is not an email address"
    lead = v["lead_professional"].lower()
    if lead not in _YES | _NO:
        return "lead_professional is not yes or no"
    return FeedRow(
        number=number,
        given=v["child_given"],
        family=v["child_family"],
        birth_date=birth,
        postcode=postcode,
        nhs_number=nhs,
        practitioner_name=v["practitioner_name"],
        role=v["practitioner_role"],
        organisation=v["practitioner_organisation"],
        phone=v["practitioner_phone"],
        email=v["practitioner_email"],
        since=since,
        lead=lead in _YES,
    )


# --- writing (synthetic feeds for tests and benchmarks, examples for sources) ---------------


def to_csv(rows: Iterable[FeedRow]) -> bytes:
    """Rows as a feed CSV with the documented header."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow(
            [
                r.given,
                r.family,
                r.birth_date.isoformat(),
                r.postcode or "",
                r.nhs_number or "",
                r.practitioner_name,
                r.role,
                r.organisation,
                r.phone,
                r.email,
                r.since.isoformat(),
                "yes" if r.lead else "no",
            ]
        )
    return out.getvalue().encode("utf-8")


def to_fhir(rows: Iterable[FeedRow]) -> bytes:
    """Rows as a FHIR collection Bundle: a Patient and a PractitionerRole per row."""
    entries: list[dict[str, Any]] = []
    for r in rows:
        patient_url = f"urn:uuid:00000000-0000-4000-8000-{r.number:012d}"
        patient: dict[str, Any] = {
            "resourceType": "Patient",
            "name": [{"use": "official", "given": r.given.split(), "family": r.family}],
            "birthDate": r.birth_date.isoformat(),
        }
        if r.nhs_number:
            patient["identifier"] = [{"system": NHS_SYSTEM, "value": r.nhs_number}]
        if r.postcode:
            patient["address"] = [{"postalCode": r.postcode}]
        telecom = [{"system": "phone", "value": r.phone}]
        if r.email:
            telecom.append({"system": "email", "value": r.email})
        entries.append({"fullUrl": patient_url, "resource": patient})
        entries.append(
            {
                "resource": {
                    "resourceType": "PractitionerRole",
                    "extension": [
                        {"url": FHIR_EXT + "subject", "valueReference": {"reference": patient_url}},
                        {"url": FHIR_EXT + "lead-professional", "valueBoolean": r.lead},
                    ],
                    "period": {"start": r.since.isoformat()},
                    "practitioner": {"display": r.practitioner_name},
                    "organization": {"display": r.organisation},
                    "code": [{"text": r.role}],
                    "telecom": telecom,
                }
            }
        )
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    return json.dumps(bundle, indent=1).encode("utf-8")
