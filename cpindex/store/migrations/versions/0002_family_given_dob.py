"""Index for date-of-birth ranges with family and first given name.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_child_name_family_given_dob",
        "child_name",
        ["family_fold", "given_fold", "birth_int"],
    )


def downgrade() -> None:
    op.drop_index("ix_child_name_family_given_dob", table_name="child_name")
