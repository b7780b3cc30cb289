"""Self-declared involvements ("I am working with this child", issue 17 item 8).

A table of its own beside `involvement`, so the (large) involvement table is not rebuilt.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "self_declaration",
        sa.Column("involvement_id", sa.Integer, sa.ForeignKey("involvement.id"), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("user_account.id"), nullable=False),
        sa.Column("child_pk", sa.Integer, sa.ForeignKey("child.pk"), nullable=False),
        sa.Column("declared_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
    )
    active = sa.text("ended_at IS NULL")
    op.create_index(
        "ux_self_declaration_active", "self_declaration", ["child_pk", "user_id"], unique=True,
        sqlite_where=active, postgresql_where=active,
    )  # fmt: skip
    op.create_index("ix_self_declaration_user", "self_declaration", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_self_declaration_user", "self_declaration")
    op.drop_index("ux_self_declaration_active", "self_declaration")
    op.drop_table("self_declaration")
