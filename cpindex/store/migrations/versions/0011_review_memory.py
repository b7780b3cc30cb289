"""Review decisions remembered across a source's feeds; the reason a row waits for review.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feed_review") as batch:
        batch.add_column(sa.Column("reason", sa.String(200), nullable=True))
    op.create_table(
        "review_memory",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("source_id", sa.Integer, sa.ForeignKey("source.id"), nullable=False),
        sa.Column("row_key", sa.String(64), nullable=False),
        sa.Column("child_pk", sa.Integer, sa.ForeignKey("child.pk"), nullable=False),
        sa.Column("decision", sa.String(12), nullable=False),
        sa.Column("review_id", sa.Integer, sa.ForeignKey("feed_review.id"), nullable=False),
        sa.Column("decided_by", sa.String(100), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ux_review_memory", "review_memory", ["source_id", "row_key", "child_pk"], unique=True
    )


def downgrade() -> None:
    op.drop_index("ux_review_memory", "review_memory")
    op.drop_table("review_memory")
    with op.batch_alter_table("feed_review") as batch:
        batch.drop_column("reason")
