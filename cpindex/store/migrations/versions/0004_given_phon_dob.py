"""Index for date-of-birth ranges searched by a given name's phonetic key (no family name).

Without it such a search walks the birth-date index over the whole range; PostgreSQL's
planner then prefers scanning the table at scale.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_child_name_given_phon_dob", "child_name", ["given_phon", "birth_int"])


def downgrade() -> None:
    op.drop_index("ix_child_name_given_phon_dob", table_name="child_name")
