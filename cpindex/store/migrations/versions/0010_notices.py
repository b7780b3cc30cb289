"""Notices about a child (issue 18): the notice table and the practitioner-account link.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "practitioner_account",
        sa.Column(
            "practitioner_id", sa.Integer, sa.ForeignKey("practitioner.id"), primary_key=True
        ),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("user_account.id"), nullable=False),
    )
    op.create_index("ix_practitioner_account_user_id", "practitioner_account", ["user_id"])
    op.create_table(
        "notice",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sender_id", sa.Integer, sa.ForeignKey("user_account.id"), nullable=False),
        sa.Column("recipient_user_id", sa.Integer, sa.ForeignKey("user_account.id"), nullable=True),
        sa.Column("child_pk", sa.Integer, sa.ForeignKey("child.pk"), nullable=False),
        sa.Column("category", sa.String(30), nullable=False),
        sa.Column("text", sa.String(1000), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("read_at", _TS, nullable=True),
        sa.Column("done_at", _TS, nullable=True),
        sa.Column("relayed_from", sa.Integer, sa.ForeignKey("notice.id"), nullable=True),
    )
    op.create_index("ix_notice_recipient", "notice", ["recipient_user_id", "done_at"])


def downgrade() -> None:
    op.drop_index("ix_notice_recipient", "notice")
    op.drop_table("notice")
    op.drop_index("ix_practitioner_account_user_id", "practitioner_account")
    op.drop_table("practitioner_account")
