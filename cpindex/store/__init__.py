"""The index's store: SQLAlchemy Core tables, engines, and Alembic migrations."""

from cpindex.store.db import default_database_url, make_engine, upgrade

__all__ = ["default_database_url", "make_engine", "upgrade"]
