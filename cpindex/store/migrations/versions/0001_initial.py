"""Initial schema: children, names, carers, organisations, involvements, users, sessions.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "organisation",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("phone", sa.String(40), nullable=False),
        sa.Column("email", sa.String(200), nullable=True),
        sa.Column("postcode", sa.String(10), nullable=False),
    )
    op.create_table(
        "practitioner",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(80), nullable=False),
        sa.Column("organisation", sa.String(200), nullable=False),
        sa.Column("phone", sa.String(40), nullable=False),
        sa.Column("email", sa.String(200), nullable=False),
    )
    op.create_table(
        "household",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("line1", sa.String(200), nullable=False),
        sa.Column("line2", sa.String(200), nullable=True),
        sa.Column("city", sa.String(100), nullable=False),
        sa.Column("postcode", sa.String(10), nullable=False),
    )
    op.create_table(
        "carer",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("household_id", sa.Integer, sa.ForeignKey("household.id"), nullable=False),
        sa.Column("given", sa.String(100), nullable=False),
        sa.Column("family", sa.String(100), nullable=False),
        sa.Column("relationship", sa.String(10), nullable=False),
        sa.Column("parental_responsibility", sa.Boolean, nullable=False),
        sa.Column("phone", sa.String(40), nullable=True),
        sa.Column("email", sa.String(200), nullable=True),
        sa.Column("line1", sa.String(200), nullable=True),
        sa.Column("city", sa.String(100), nullable=True),
        sa.Column("postcode", sa.String(10), nullable=True),
    )
    op.create_index("ix_carer_household_id", "carer", ["household_id"])
    op.create_table(
        "child",
        sa.Column("pk", sa.Integer, primary_key=True),
        sa.Column("index_id", sa.String(36), nullable=False, unique=True),
        sa.Column("nhs_number", sa.String(10), nullable=False, unique=True),
        sa.Column("given", sa.String(200), nullable=False),
        sa.Column("family", sa.String(100), nullable=False),
        sa.Column("birth_date", sa.Date, nullable=False),
        sa.Column("birth_int", sa.Integer, nullable=False),
        sa.Column("gender", sa.String(10), nullable=False),
        sa.Column("household_id", sa.Integer, sa.ForeignKey("household.id"), nullable=False),
        sa.Column("postcode_key", sa.String(8), nullable=False),
        sa.Column("school_id", sa.Integer, sa.ForeignKey("organisation.id"), nullable=True),
        sa.Column("gp_id", sa.Integer, sa.ForeignKey("organisation.id"), nullable=True),
        sa.Column("caf", sa.Boolean, nullable=False),
        sa.Column("shielded", sa.Boolean, nullable=False),
        sa.Column("sensitive_contact", sa.String(40), nullable=True),
    )
    op.create_table(
        "child_name",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("child_pk", sa.Integer, sa.ForeignKey("child.pk"), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("given", sa.String(200), nullable=False),
        sa.Column("family", sa.String(100), nullable=False),
        sa.Column("given_fold", sa.String(200), nullable=False),
        sa.Column("family_fold", sa.String(100), nullable=False),
        sa.Column("given_phon", sa.String(20), nullable=False),
        sa.Column("family_phon", sa.String(20), nullable=False),
        sa.Column("birth_int", sa.Integer, nullable=False),
    )
    op.create_index(
        "ix_child_name_dob_family",
        "child_name",
        ["birth_int", "family_fold", "given_fold", "child_pk"],
    )
    op.create_index("ix_child_name_dob_family_phon", "child_name", ["birth_int", "family_phon"])
    op.create_index("ix_child_name_dob_given_phon", "child_name", ["birth_int", "given_phon"])
    op.create_index("ix_child_name_family_dob", "child_name", ["family_fold", "birth_int"])
    op.create_index("ix_child_name_family_phon_dob", "child_name", ["family_phon", "birth_int"])
    op.create_index("ix_child_name_child", "child_name", ["child_pk"])
    op.create_table(
        "involvement",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("child_pk", sa.Integer, sa.ForeignKey("child.pk"), nullable=False),
        sa.Column("practitioner_id", sa.Integer, sa.ForeignKey("practitioner.id"), nullable=False),
        sa.Column("since", sa.Date, nullable=False),
        sa.Column("lead", sa.Boolean, nullable=False),
    )
    op.create_index("ix_involvement_child_pk", "involvement", ["child_pk"])
    op.create_table(
        "user_account",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(100), nullable=False, unique=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("organisation", sa.String(200), nullable=False),
        sa.Column("family_name", sa.String(100), nullable=True),
        sa.Column("postcode_district", sa.String(8), nullable=True),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("totp_secret", sa.String(64), nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("failed_count", sa.Integer, nullable=False),
        sa.Column("locked_until", _TS, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_table(
        "user_session",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("user_account.id"), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("idle_expires_at", _TS, nullable=False),
        sa.Column("absolute_expires_at", _TS, nullable=False),
        sa.Column("revoked_at", _TS, nullable=True),
    )
    op.create_index("ix_user_session_user_id", "user_session", ["user_id"])
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", _TS, nullable=False),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("username", sa.String(100), nullable=True),
        sa.Column("role", sa.String(20), nullable=True),
        sa.Column("organisation", sa.String(200), nullable=True),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("patient_id", sa.String(36), nullable=True),
        sa.Column("detail", sa.Text, nullable=True),
    )
    op.create_table(
        "seed_info",
        sa.Column("key", sa.String(40), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "seed_info",
        "audit_event",
        "user_session",
        "user_account",
        "involvement",
        "child_name",
        "child",
        "carer",
        "household",
        "practitioner",
        "organisation",
    ):
        op.drop_table(table)
