"""Alembic environment: always given a live connection by cpindex.store.db.upgrade."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from cpindex.store.schema import metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run migrations through cpindex.store.db.upgrade")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
