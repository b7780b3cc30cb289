"""Sign-in hardening: password-check slots, the last spent TOTP step, room for sealed secrets.

`checks_in_flight`/`check_started_at` let a check take its lock-out slot before Argon2
runs; `totp_last_step` refuses a replayed code; `totp_secret` grows to hold an AES-GCM
sealed secret. Existing plain secrets are sealed by `cpindex init` (or `seed`, `serve`,
`user add|reset`) once a key file is there: a migration has no key to seal with.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("user_account") as batch:
        batch.alter_column(
            "totp_secret",
            existing_type=sa.String(64),
            type_=sa.String(200),
            existing_nullable=False,
        )
        batch.add_column(
            sa.Column("checks_in_flight", sa.Integer, nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("check_started_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("totp_last_step", sa.BigInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("user_account") as batch:
        batch.drop_column("totp_last_step")
        batch.drop_column("check_started_at")
        batch.drop_column("checks_in_flight")
        batch.alter_column(
            "totp_secret",
            existing_type=sa.String(200),
            type_=sa.String(64),
            existing_nullable=False,
        )
