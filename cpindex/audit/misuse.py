"""The misuse report: accesses worth a question, each with the rule that flagged it.

ContactPoint was discredited by snooping (staff looking up relatives, neighbours and
famous children). The rules, each a constant below so the report can be tuned:

- same-family-name: the user opened a child sharing the user's family name (any of the
  child's names, folded);
- same-postcode-district: the user opened a child living at the user's home postcode, or
  in the user's home district where the account holds only the district. A district is
  thousands of homes: for staff who live where they work it flags about one local view in
  every district their service covers, so record the full home postcode where known;
- unusual-volume: a day's views above max(VOLUME_FLOOR, VOLUME_FACTOR x the user's usual
  daily count: the median over days with views in the previous VOLUME_HISTORY_DAYS);
- fishing: in a day, at least FISHING_SEARCHES searches that found children but were not
  followed by any view within FOLLOW_UP, together returning FISHING_RESULTS or more;
- out-of-hours: searches or views outside the user's working hours (local time,
  Europe/London; DEFAULT_HOURS unless the account says otherwise), one finding a day;
- shielded-child: every view of a shielded child;
- shielded-full-record: every view in which the index team was served a shielded
  child's full record (issue 18: the team may, with a reason, and every such view is
  listed here besides shielded-child), link reviews with a shielded candidate included;
- shielded-self-declaration: every attempt to self-declare an involvement with a child
  served shielded (refused: cpindex.api.practitioner_role), and every self-declaration
  still in place on a child shielded since it was made, however long ago;
- emergency-or-other: every view given the reason other, and every view given
  emergency-care by a user whose organisation is not an emergency service (the kind
  recorded on the account: cpindex.audit.organisations). An A&E nurse gives
  emergency-care for nearly every view; flagging those buried the real findings.

Working hours may run past midnight (a night shift, 19:00-08:00).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import statistics
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from cpindex.audit.organisations import EMERGENCY_KINDS
from cpindex.search.keys import fold
from cpindex.selfdecl.store import standing_on_shielded
from cpindex.store.schema import audit_event, child, child_name, user_account

__all__ = ["DEFAULT_HOURS", "RULES", "Finding", "find_misuse"]

LOCAL = ZoneInfo("Europe/London")
DEFAULT_HOURS = ("07:00", "20:00")
VOLUME_FLOOR = 20
VOLUME_FACTOR = 3.0
VOLUME_HISTORY_DAYS = 28
FISHING_SEARCHES = 10
FISHING_RESULTS = 30
FOLLOW_UP = dt.timedelta(minutes=30)
RULES = {
    "same-family-name": "opened a child sharing the user's family name",
    "same-postcode-district": "opened a child living at the user's home postcode (or district)",
    "unusual-volume": "opened far more records than usual in a day",
    "fishing": "many searches returning children, none followed by a view",
    "out-of-hours": "searched or viewed outside working hours",
    "shielded-child": "opened a shielded child's record",
    "shielded-full-record": "the index team opened a shielded child's full record",
    "emergency-or-other": "gave the reason other, or emergency-care outside an emergency service",
    "shielded-self-declaration": "said they work with a shielded child (or tried to)",
}


@dataclass(frozen=True)
class Finding:
    """One access worth a question; `explanation` holds counts, never child data."""

    rule: str
    event_id: int
    at: dt.datetime
    username: str
    patient_id: str | None
    explanation: str

    def columns(self) -> list[str]:
        at = self.at.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        return [at, self.rule, self.username, self.patient_id or "-", str(self.event_id),
                self.explanation]  # fmt: skip


@dataclass(frozen=True)
class _User:
    family: str
    district: str
    start: dt.time
    end: dt.time
    emergency: bool

    def at_work(self, local: dt.time) -> bool:
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # a shift past midnight


def _time(raw: str | None, default: str) -> dt.time:
    try:
        return dt.time.fromisoformat(raw or default)
    except ValueError:
        return dt.time.fromisoformat(default)


def _near_home(home: str, postcode_key: str) -> bool:
    """The child's postcode is the user's home: the full postcode, or the district when
    that is all the account holds (both upper case without spaces)."""
    if _FULL_POSTCODE.match(home):
        return home == postcode_key
    return home == _district(postcode_key)


_FULL_POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][0-9A-Z]?[0-9][A-Z]{2}$")


def _district(postcode_key: str) -> str:
    """The outward code of a postcode held without spaces (LS62QB -> LS6)."""
    return postcode_key[:-3] if len(postcode_key) > 4 else postcode_key


def _users(conn: Connection) -> dict[str, _User]:
    rows = conn.execute(
        select(
            user_account.c.username,
            user_account.c.family_name,
            user_account.c.postcode_district,
            user_account.c.work_start,
            user_account.c.work_end,
            user_account.c.organisation_kind,
        )
    )
    return {
        r[0]: _User(
            fold(r[1] or ""),
            (r[2] or "").replace(" ", "").upper(),
            _time(r[3], DEFAULT_HOURS[0]),
            _time(r[4], DEFAULT_HOURS[1]),
            r[5] in EMERGENCY_KINDS,
        )
        for r in rows
    }


def _children(conn: Connection, index_ids: set[str]) -> dict[str, tuple[set[str], str, bool]]:
    """index id -> (folded family names, postcode key, shielded) for the children viewed."""
    found: dict[str, tuple[set[str], str, bool]] = {}
    ids = sorted(index_ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = conn.execute(
            select(
                child.c.index_id,
                child.c.postcode_key,
                child.c.effectively_shielded,
                child_name.c.family_fold,
            )
            .join(child_name, child_name.c.child_pk == child.c.pk)
            .where(child.c.index_id.in_(chunk))
        )
        for index_id, postcode, shielded, family in rows:
            names, _, _ = found.setdefault(index_id, (set(), postcode, bool(shielded)))
            names.add(family)
    return found


# A record re-read from a client's encrypted cache while offline counts as a view.
VIEW_ACTIONS = ("view", "offline-view")
# The index team's link review (cpindex.api.review): listed only when a shielded
# candidate was served in full, never counted as a view.
REVIEW_VIEW = "review-view"


def _events(conn: Connection, since: dt.datetime) -> list[Mapping[str, Any]]:
    query = (
        select(audit_event)
        .where(audit_event.c.at >= since)
        .where(audit_event.c.action.in_(("search", REVIEW_VIEW, *VIEW_ACTIONS)))
        .where(audit_event.c.outcome == "success")
        .where(audit_event.c.username.is_not(None))
        .order_by(audit_event.c.id)
    )
    return [dict(r._mapping) for r in conn.execute(query)]


def find_misuse(conn: Connection, since: dt.datetime) -> list[Finding]:
    """Findings for accesses from `since` on, oldest first."""
    history_start = since - dt.timedelta(days=VOLUME_HISTORY_DAYS)
    events = _events(conn, history_start)
    users = _users(conn)
    children = _children(conn, {e["patient_id"] for e in events if e["patient_id"]})
    findings: list[Finding] = []
    views_per_day: dict[str, dict[dt.date, list[Mapping[str, Any]]]] = defaultdict(dict)
    searches_per_day: dict[tuple[str, dt.date], list[Mapping[str, Any]]] = defaultdict(list)
    view_times: dict[str, list[dt.datetime]] = defaultdict(list)
    late: dict[tuple[str, dt.date], list[Mapping[str, Any]]] = defaultdict(list)
    for event in events:
        if event["action"] == REVIEW_VIEW:
            served = json.loads(event["detail"] or "{}").get("served")
            if event["at"] >= since and served == "full":
                findings.append(
                    Finding("shielded-full-record", event["id"], event["at"], event["username"],
                            event["patient_id"], RULES["shielded-full-record"])
                )  # fmt: skip
            continue
        user = users.get(event["username"])
        local = event["at"].astimezone(LOCAL)
        day = local.date()
        if event["action"] in VIEW_ACTIONS:
            views_per_day[event["username"]].setdefault(day, []).append(event)
            view_times[event["username"]].append(event["at"])
        if event["at"] < since:
            continue
        if event["action"] == "search":
            searches_per_day[(event["username"], day)].append(event)
        if user is not None and not user.at_work(local.time().replace(tzinfo=None)):
            late[(event["username"], day)].append(event)
        if event["action"] in VIEW_ACTIONS:
            findings.extend(_view_findings(event, user, children.get(event["patient_id"] or "")))
    findings.extend(_self_declarations(conn, since))
    findings.extend(_volume(views_per_day, since))
    findings.extend(_fishing(searches_per_day, view_times))
    for (username, _day), rows in late.items():
        first = rows[0]
        text = f"{len(rows)} accesses outside working hours that day"
        findings.append(Finding("out-of-hours", first["id"], first["at"], username, None, text))
    findings.sort(key=lambda f: (f.at, f.event_id, f.rule))
    return findings


def _view_findings(
    event: Mapping[str, Any], user: _User | None, found: tuple[set[str], str, bool] | None
) -> list[Finding]:
    out = []

    def flag(rule: str) -> None:
        out.append(
            Finding(rule, event["id"], event["at"], event["username"], event["patient_id"],
                    RULES[rule])
        )  # fmt: skip

    detail = json.loads(event["detail"]) if event["detail"] else {}
    reason = detail.get("reason")
    if reason == "other" or (reason == "emergency-care" and (user is None or not user.emergency)):
        flag("emergency-or-other")
    if detail.get("served") == "full":
        flag("shielded-full-record")
    if found is None:
        return out
    names, postcode, shielded = found
    if shielded:
        flag("shielded-child")
    if user is not None and user.family and user.family in names:
        flag("same-family-name")
    if user is not None and user.district and _near_home(user.district, postcode):
        flag("same-postcode-district")
    return out


def _self_declare_rows(conn: Connection, *where: Any) -> list[dict[str, Any]]:
    query = select(audit_event).where(audit_event.c.action == "self-declare", *where)
    return [dict(r._mapping) for r in conn.execute(query.order_by(audit_event.c.id))]


def _self_declarations(conn: Connection, since: dt.datetime) -> list[Finding]:
    """Self-declarations on shielded children: attempts since `since` (refused, or made
    before the child was shielded), and declarations still standing, whenever made."""
    rows = _self_declare_rows(
        conn, audit_event.c.at >= since, audit_event.c.username.is_not(None),
        audit_event.c.patient_id.is_not(None),
    )  # fmt: skip
    children = _children(conn, {r["patient_id"] for r in rows})
    rule = "shielded-self-declaration"
    flagged: dict[int, Finding] = {}
    for row in rows:
        detail = json.loads(row["detail"] or "{}")
        if detail.get("shielded") or children.get(row["patient_id"], (set(), "", False))[2]:
            text = RULES[rule] + (" (refused)" if row["outcome"] != "success" else "")
            flagged[row["id"]] = Finding(
                rule, row["id"], row["at"], row["username"], row["patient_id"], text
            )
    for standing in standing_on_shielded(conn):
        made = _self_declare_rows(
            conn, audit_event.c.patient_id == standing.patient_id,
            audit_event.c.username == standing.username, audit_event.c.outcome == "success",
        )  # fmt: skip
        if made and made[-1]["id"] not in flagged:
            event = made[-1]
            flagged[event["id"]] = Finding(
                rule, event["id"], event["at"], standing.username, standing.patient_id,
                "a self-declaration still in place on a child now shielded",
            )  # fmt: skip
    return list(flagged.values())


def _volume(
    views_per_day: dict[str, dict[dt.date, list[Mapping[str, Any]]]], since: dt.datetime
) -> list[Finding]:
    out = []
    first_day = since.astimezone(LOCAL).date()
    for username, days in views_per_day.items():
        for day, rows in days.items():
            if day < first_day:
                continue
            earlier = [
                len(r)
                for d, r in days.items()
                if day - dt.timedelta(days=VOLUME_HISTORY_DAYS) <= d < day
            ]
            usual = statistics.median(earlier) if earlier else 0
            if len(rows) > max(VOLUME_FLOOR, VOLUME_FACTOR * usual):
                last = rows[-1]
                text = f"{len(rows)} records opened that day; usually {usual:g}"
                out.append(Finding("unusual-volume", last["id"], last["at"], username, None, text))
    return out


def _fishing(
    searches_per_day: dict[tuple[str, dt.date], list[Mapping[str, Any]]],
    view_times: dict[str, list[dt.datetime]],
) -> list[Finding]:
    out = []
    for (username, _day), rows in searches_per_day.items():
        views = view_times.get(username, [])
        lonely = []
        for row in rows:
            results = int(json.loads(row["detail"] or "{}").get("results", 0))
            followed = any(row["at"] <= v <= row["at"] + FOLLOW_UP for v in views)
            if results > 0 and not followed:
                lonely.append(results)
        if len(lonely) >= FISHING_SEARCHES and sum(lonely) >= FISHING_RESULTS:
            last = rows[-1]
            text = f"{len(lonely)} searches returned {sum(lonely)} children; no record opened"
            out.append(Finding("fishing", last["id"], last["at"], username, None, text))
    return out
