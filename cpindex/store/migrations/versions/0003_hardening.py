"""Part 2: hash-chained audit, its chain head, rate-limit counters, users' working hours.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_GENESIS = "0" * 64


def upgrade() -> None:
    with op.batch_alter_table("audit_event") as batch:
        batch.add_column(sa.Column("prev_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("row_hash", sa.String(64), nullable=True))
        batch.create_index("ix_audit_event_username_at", ["username", "at"])
        batch.create_index("ix_audit_event_patient_at", ["patient_id", "at"])
        batch.create_index("ix_audit_event_at", ["at"])
    op.create_table(
        "audit_chain",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last_id", sa.Integer, nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
    )
    # Part 1 rows (if any) predate the chain: they are chained now, in id order.
    from cpindex.audit.chain import rechain_legacy_rows

    last_id, last_hash = rechain_legacy_rows(op.get_bind())
    op.execute(
        sa.text("INSERT INTO audit_chain (id, last_id, last_hash) VALUES (1, :i, :h)").bindparams(
            i=last_id, h=last_hash or _GENESIS
        )
    )
    op.create_table(
        "rate_counter",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("user_account.id"), primary_key=True),
        sa.Column("kind", sa.String(10), primary_key=True, autoincrement=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
    )
    with op.batch_alter_table("user_account") as batch:
        batch.add_column(sa.Column("work_start", sa.String(5), nullable=True))
        batch.add_column(sa.Column("work_end", sa.String(5), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("user_account") as batch:
        batch.drop_column("work_end")
        batch.drop_column("work_start")
    op.drop_table("rate_counter")
    op.drop_table("audit_chain")
    with op.batch_alter_table("audit_event") as batch:
        batch.drop_index("ix_audit_event_at")
        batch.drop_index("ix_audit_event_patient_at")
        batch.drop_index("ix_audit_event_username_at")
        batch.drop_column("row_hash")
        batch.drop_column("prev_hash")
