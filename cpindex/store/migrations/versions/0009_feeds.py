"""Council data feeds: sources, feeds, the review queue; involvements keep their source.

Revision ID: 0009
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "feed",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("source_id", sa.Integer, sa.ForeignKey("source.id"), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("format", sa.String(10), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("linked", sa.Integer, nullable=False),
        sa.Column("review", sa.Integer, nullable=False),
        sa.Column("rejected", sa.Integer, nullable=False),
        sa.Column("current", sa.Boolean, nullable=False),
        sa.Column("report", sa.Text, nullable=False),
    )
    op.create_index("ix_feed_source_id", "feed", ["source_id"])
    op.create_table(
        "feed_review",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("feed_id", sa.Integer, sa.ForeignKey("feed.id"), nullable=False),
        sa.Column("row_number", sa.Integer, nullable=False),
        sa.Column("child_pk", sa.Integer, sa.ForeignKey("child.pk"), nullable=False),
        sa.Column("probability", sa.Float, nullable=False),
        sa.Column("row_json", sa.Text, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("decided_by", sa.String(100), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_feed_review_feed_id", "feed_review", ["feed_id"])
    op.create_index("ix_feed_review_status", "feed_review", ["status"])
    with op.batch_alter_table("practitioner") as batch:
        batch.add_column(sa.Column("source_id", sa.Integer, nullable=True))
        batch.create_foreign_key("fk_practitioner_source", "source", ["source_id"], ["id"])
        batch.create_index("ix_practitioner_source_id", ["source_id"])
    with op.batch_alter_table("involvement") as batch:
        batch.add_column(sa.Column("source_id", sa.Integer, nullable=True))
        batch.add_column(sa.Column("feed_id", sa.Integer, nullable=True))
        batch.create_foreign_key("fk_involvement_source", "source", ["source_id"], ["id"])
        batch.create_foreign_key("fk_involvement_feed", "feed", ["feed_id"], ["id"])
        batch.create_index("ix_involvement_source_id", ["source_id"])


def downgrade() -> None:
    with op.batch_alter_table("involvement") as batch:
        batch.drop_index("ix_involvement_source_id")
        batch.drop_constraint("fk_involvement_feed", type_="foreignkey")
        batch.drop_constraint("fk_involvement_source", type_="foreignkey")
        batch.drop_column("feed_id")
        batch.drop_column("source_id")
    with op.batch_alter_table("practitioner") as batch:
        batch.drop_index("ix_practitioner_source_id")
        batch.drop_constraint("fk_practitioner_source", type_="foreignkey")
        batch.drop_column("source_id")
    op.drop_table("feed_review")
    op.drop_table("feed")
    op.drop_table("source")
