"""The client's network address on every audit row (issue 12, item 14).

Rows written before this migration keep NULL; the audit hash covers the address only
when it is set (cpindex.audit.chain.content_of), so their hashes, and `audit verify`,
are unchanged.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_event") as batch:
        batch.add_column(sa.Column("client_address", sa.String(45), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_event") as batch:
        batch.drop_column("client_address")
