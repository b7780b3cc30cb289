"""Household shielding (child.effectively_shielded) and accounts' organisation kind.

A shielded child's home is shared: every child linked to it by household, address or
carer is marked here once, for existing data, and kept marked by every later write
(cpindex.store.shielding). `user_account.organisation_kind` lets the misuse report tell
an emergency department's emergency-care views from anyone else's; existing accounts
are `other` (reviewed as before) until an operator says otherwise.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (with a constant default SQLite needs no table rebuild): a batch
    # rebuild would drop `child`, which child_name and involvement rows refer to.
    op.add_column(
        "child",
        sa.Column("effectively_shielded", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "user_account",
        sa.Column("organisation_kind", sa.String(30), nullable=False, server_default="other"),
    )
    from cpindex.store.shielding import refresh_all

    refresh_all(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("user_account") as batch:
        batch.drop_column("organisation_kind")
    with op.batch_alter_table("child") as batch:
        batch.drop_column("effectively_shielded")
