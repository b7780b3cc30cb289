"""The tables, declared once with SQLAlchemy Core.

Core rather than the ORM: the seed bulk-loads millions of rows and the search reads a few
narrow columns straight from covering indexes, neither of which wants identity maps.
The Alembic migrations under `migrations/versions` create exactly these tables; a test
compares the two.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    false,
)

__all__ = [
    "SEARCH_INDEXES",
    "UTCDateTime",
    "audit_chain",
    "audit_event",
    "carer",
    "child",
    "child_name",
    "feed",
    "feed_review",
    "household",
    "involvement",
    "metadata",
    "notice",
    "organisation",
    "practitioner",
    "practitioner_account",
    "rate_counter",
    "review_memory",
    "seed_info",
    "self_declaration",
    "source",
    "user_account",
    "user_session",
]


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes in and out, whatever the backend keeps (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


metadata = MetaData()

organisation = Table(
    "organisation",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(20), nullable=False),  # school | gp-practice | service
    Column("name", String(200), nullable=False),
    Column("phone", String(40), nullable=False),
    Column("email", String(200), nullable=True),
    Column("postcode", String(10), nullable=False),
)

practitioner = Table(
    "practitioner",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("role", String(80), nullable=False),
    Column("organisation", String(200), nullable=False),
    Column("phone", String(40), nullable=False),
    Column("email", String(200), nullable=False),
    # The feed source that sent this practitioner (cpindex.feeds); None for the seed.
    Column("source_id", Integer, ForeignKey("source.id"), nullable=True, index=True),
)

household = Table(
    "household",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("line1", String(200), nullable=False),
    Column("line2", String(200), nullable=True),
    Column("city", String(100), nullable=False),
    Column("postcode", String(10), nullable=False),
)

carer = Table(
    "carer",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("household_id", Integer, ForeignKey("household.id"), nullable=False, index=True),
    Column("given", String(100), nullable=False),
    Column("family", String(100), nullable=False),
    Column("relationship", String(10), nullable=False),  # v3 RoleCode: MTH, FTH, ...
    Column("parental_responsibility", Boolean, nullable=False),
    Column("phone", String(40), nullable=True),
    Column("email", String(200), nullable=True),
    # Only where the carer lives somewhere other than the child.
    Column("line1", String(200), nullable=True),
    Column("city", String(100), nullable=True),
    Column("postcode", String(10), nullable=True),
)

child = Table(
    "child",
    metadata,
    Column("pk", Integer, primary_key=True),
    Column("index_id", String(36), nullable=False, unique=True),
    Column("nhs_number", String(10), nullable=False, unique=True),
    Column("given", String(200), nullable=False),  # space-separated given names
    Column("family", String(100), nullable=False),
    Column("birth_date", Date, nullable=False),
    Column("birth_int", Integer, nullable=False),  # yyyymmdd, for cheap index keys
    Column("gender", String(10), nullable=False),
    Column("household_id", Integer, ForeignKey("household.id"), nullable=False),
    # Postcode without spaces, upper case, copied from the household for search filters.
    Column("postcode_key", String(8), nullable=False),
    Column("school_id", Integer, ForeignKey("organisation.id"), nullable=True),
    Column("gp_id", Integer, ForeignKey("organisation.id"), nullable=True),
    Column("caf", Boolean, nullable=False),
    Column("shielded", Boolean, nullable=False),
    # Shielded, or linked to a shielded child by household, address or carer: served as
    # shielded everywhere. Kept by cpindex.store.shielding on every write (migration 0006).
    Column("effectively_shielded", Boolean, nullable=False, server_default=false()),
    # A sensitive service is held only as a contact route (phone), never by name.
    Column("sensitive_contact", String(40), nullable=True),
)

# One row per name a child is known by: official, previous (old) and alias (nickname).
# Search reads only this table's indexes; keys are computed at write time.
child_name = Table(
    "child_name",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("child_pk", Integer, ForeignKey("child.pk"), nullable=False),
    Column("kind", String(10), nullable=False),  # official | old | nickname
    Column("given", String(200), nullable=False),
    Column("family", String(100), nullable=False),
    Column("given_fold", String(200), nullable=False),  # first given name, folded
    Column("family_fold", String(100), nullable=False),
    Column("given_phon", String(20), nullable=False),
    Column("family_phon", String(20), nullable=False),
    Column("birth_int", Integer, nullable=False),
)

# What a search's probe reads besides an index's key columns (cpindex.search.engine).
_PROBED = ("child_pk", "kind", "given", "family", "given_fold", "family_fold", "given_phon")

# Built after a bulk load (the seed drops and recreates them); the migration creates them too.
SEARCH_INDEXES = (
    # An exact date of birth (and its day/month swap) with a family name or a phonetic key:
    # the probes of most searches. On PostgreSQL each also carries the other columns a
    # probe reads (INCLUDE), so it is answered from the index alone: on a server whose
    # cache is cold (default shared_buffers, after a restart) far fewer pages are read.
    Index(
        "ix_child_name_dob_family",
        child_name.c.birth_int,
        child_name.c.family_fold,
        child_name.c.given_fold,
        child_name.c.child_pk,
        postgresql_include=["kind", "given", "family", "given_phon", "family_phon"],
    ),
    Index(
        "ix_child_name_dob_family_phon",
        child_name.c.birth_int,
        child_name.c.family_phon,
        postgresql_include=list(_PROBED),
    ),
    Index(
        "ix_child_name_dob_given_phon",
        child_name.c.birth_int,
        child_name.c.given_phon,
        postgresql_include=[c for c in (*_PROBED, "family_phon") if c != "given_phon"],
    ),
    # Date-of-birth ranges need an index led by a name key.
    Index("ix_child_name_family_dob", child_name.c.family_fold, child_name.c.birth_int),
    Index("ix_child_name_family_phon_dob", child_name.c.family_phon, child_name.c.birth_int),
    Index("ix_child_name_given_phon_dob", child_name.c.given_phon, child_name.c.birth_int),
    Index(
        "ix_child_name_family_given_dob",
        child_name.c.family_fold,
        child_name.c.given_fold,
        child_name.c.birth_int,
    ),
    Index("ix_child_name_child", child_name.c.child_pk),
)

involvement = Table(
    "involvement",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("child_pk", Integer, ForeignKey("child.pk"), nullable=False, index=True),
    Column("practitioner_id", Integer, ForeignKey("practitioner.id"), nullable=False),
    Column("since", Date, nullable=False),
    Column("lead", Boolean, nullable=False),
    # Where it came from (cpindex.feeds): None for the seed. A newer feed from a source
    # replaces every involvement with that source_id.
    Column("source_id", Integer, ForeignKey("source.id"), nullable=True, index=True),
    Column("feed_id", Integer, ForeignKey("feed.id"), nullable=True),
)

# --- council data feeds (cpindex.feeds) -------------------------------------------------------

# A registered organisation allowed to send feeds (`cpindex source add`).
source = Table(
    "source",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
)

# One row per loaded file; `current` marks the one whose involvements are in the index.
feed = Table(
    "feed",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source_id", Integer, ForeignKey("source.id"), nullable=False, index=True),
    Column("sha256", String(64), nullable=False),
    Column("format", String(10), nullable=False),  # csv | fhir
    Column("received_at", UTCDateTime, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("linked", Integer, nullable=False),
    Column("review", Integer, nullable=False),
    Column("rejected", Integer, nullable=False),
    Column("current", Boolean, nullable=False),
    Column("report", Text, nullable=False),  # JSON: counts and rejected rows (numbers, reasons)
)

# Doubtful links waiting for the index team: the feed row (JSON) and its best candidate.
feed_review = Table(
    "feed_review",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("feed_id", Integer, ForeignKey("feed.id"), nullable=False, index=True),
    Column("row_number", Integer, nullable=False),
    Column("child_pk", Integer, ForeignKey("child.pk"), nullable=False),
    Column("probability", Float, nullable=False),
    Column("row_json", Text, nullable=False),
    Column("status", String(12), nullable=False),  # pending | linked | not-linked | superseded
    Column("decided_by", String(100), nullable=True),
    Column("decided_at", UTCDateTime, nullable=True),
    Column("reason", String(200), nullable=True),  # why the linker asked (migration 0011)
    Index("ix_feed_review_status", "status"),
)

# The index team's decision on a source's row (its child identity, as a key) and a child:
# a later feed of that source sending the same row is decided alike, not asked again
# (cpindex.feeds.memory). Migration 0011.
review_memory = Table(
    "review_memory",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source_id", Integer, ForeignKey("source.id"), nullable=False),
    Column("row_key", String(64), nullable=False),  # SHA-256 of the row's child identity
    Column("child_pk", Integer, ForeignKey("child.pk"), nullable=False),
    Column("decision", String(12), nullable=False),  # linked | not-linked
    Column("review_id", Integer, ForeignKey("feed_review.id"), nullable=False),
    Column("decided_by", String(100), nullable=False),
    Column("decided_at", UTCDateTime, nullable=False),
    Index("ux_review_memory", "source_id", "row_key", "child_pk", unique=True),
)

user_account = Table(
    "user_account",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(100), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    Column("role", String(20), nullable=False),  # practitioner | index-team | admin
    Column("organisation", String(200), nullable=False),
    # emergency-department | social-care | health | school | gp | other (misuse report).
    Column("organisation_kind", String(30), nullable=False, server_default="other"),
    Column("family_name", String(100), nullable=True),  # for the misuse report (part 2)
    Column("postcode_district", String(8), nullable=True),
    Column("password_hash", String(200), nullable=False),
    # "v1:" + AES-GCM sealed (cpindex.auth.sealing); plain base32 only before sealing.
    Column("totp_secret", String(200), nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("failed_count", Integer, nullable=False, default=0),
    Column("locked_until", UTCDateTime, nullable=True),
    # Password checks under way and when the last began (cpindex.auth.sessions: slots).
    Column("checks_in_flight", Integer, nullable=False, default=0, server_default="0"),
    Column("check_started_at", UTCDateTime, nullable=True),
    # The last accepted TOTP time step: it and earlier ones are spent (RFC 6238 §5.2).
    Column("totp_last_step", BigInteger, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    # Local (Europe/London) working hours "HH:MM" for the misuse report; None = 07:00-20:00.
    Column("work_start", String(5), nullable=True),
    Column("work_end", String(5), nullable=True),
)

user_session = Table(
    "user_session",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),  # sha256 hex of the token
    Column("user_id", Integer, ForeignKey("user_account.id"), nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("idle_expires_at", UTCDateTime, nullable=False),
    Column("absolute_expires_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
)

# Append-only and hash-chained (cpindex.audit.chain): ids are consecutive, each row's
# row_hash = SHA-256(prev_hash, its content), and audit_chain holds the head.
audit_event = Table(
    "audit_event",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("request_id", String(64), nullable=True),
    Column("username", String(100), nullable=True),
    Column("role", String(20), nullable=True),
    Column("organisation", String(200), nullable=True),
    Column("action", String(30), nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("patient_id", String(36), nullable=True),
    Column("detail", Text, nullable=True),  # JSON: search parameters, result count, reason
    Column("client_address", String(45), nullable=True),  # IPv4/IPv6 text; migration 0007
    Column("prev_hash", String(64), nullable=True),
    Column("row_hash", String(64), nullable=True),
    Index("ix_audit_event_username_at", "username", "at"),
    Index("ix_audit_event_patient_at", "patient_id", "at"),
    Index("ix_audit_event_at", "at"),
)

# One row (id 1): the last chained audit row. Appends lock it, so two server processes
# never chain two rows to the same predecessor.
audit_chain = Table(
    "audit_chain",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("last_id", Integer, nullable=False),
    Column("last_hash", String(64), nullable=False),
)

# Per-user request counters for the rate limits: shared by every server process.
rate_counter = Table(
    "rate_counter",
    metadata,
    Column("user_id", Integer, ForeignKey("user_account.id"), primary_key=True),
    Column("kind", String(10), primary_key=True, autoincrement=False),
    Column("window_start", UTCDateTime, nullable=False),
    Column("count", Integer, nullable=False),
)

# Which user account a practitioner row is (cpindex.notices.accounts.link_practitioner):
# an index practitioner is only a name on an involvement until linked (migration 0010).
practitioner_account = Table(
    "practitioner_account",
    metadata,
    Column("practitioner_id", Integer, ForeignKey("practitioner.id"), primary_key=True),
    Column("user_id", Integer, ForeignKey("user_account.id"), nullable=False, index=True),
)

# Notices about a child (cpindex.notices), one row per recipient: a user, or the index
# team's queue (recipient_user_id NULL). Migration 0010.
notice = Table(
    "notice",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sender_id", Integer, ForeignKey("user_account.id"), nullable=False),
    Column("recipient_user_id", Integer, ForeignKey("user_account.id"), nullable=True),
    Column("child_pk", Integer, ForeignKey("child.pk"), nullable=False),
    Column("category", String(30), nullable=False),  # attendance | safeguarding-concern ...
    Column("text", String(1000), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("read_at", UTCDateTime, nullable=True),
    Column("done_at", UTCDateTime, nullable=True),
    Column("relayed_from", Integer, ForeignKey("notice.id"), nullable=True),
    Index("ix_notice_recipient", "recipient_user_id", "done_at"),
)

# "I am working with this child" (cpindex.selfdecl): the involvement a signed-in practitioner
# declared themselves, served with the source "self-declared". One active (not ended) per
# user and child. Ending one keeps its rows, marked ended and left out of the record, so
# the positions that number a child's involvements (`{index id}-involvement-{n}`, which
# notices are addressed to) never shift under an open record. Migration 0012.
self_declaration = Table(
    "self_declaration",
    metadata,
    Column("involvement_id", Integer, ForeignKey("involvement.id"), primary_key=True),
    Column("user_id", Integer, ForeignKey("user_account.id"), nullable=False),
    Column("child_pk", Integer, ForeignKey("child.pk"), nullable=False),
    Column("declared_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime, nullable=True),
    Index("ix_self_declaration_user", "user_id"),
)
Index(
    "ux_self_declaration_active",
    self_declaration.c.child_pk,
    self_declaration.c.user_id,
    unique=True,
    sqlite_where=self_declaration.c.ended_at.is_(None),
    postgresql_where=self_declaration.c.ended_at.is_(None),
)

seed_info = Table(
    "seed_info",
    metadata,
    Column("key", String(40), primary_key=True),
    Column("value", String(200), nullable=False),
)
