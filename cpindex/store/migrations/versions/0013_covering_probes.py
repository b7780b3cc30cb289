"""PostgreSQL: the three date-of-birth probe indexes carry the columns a probe reads
(INCLUDE), so a search's candidates come from the index alone (issue 16, item 4).

SQLite keeps its indexes as they are (it has no INCLUDE).
The same declarations as cpindex.store.schema.SEARCH_INDEXES (which the seed builds), so
a seeded store and a migrated one are alike.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_KEYS = {
    "ix_child_name_dob_family": ["birth_int", "family_fold", "given_fold", "child_pk"],
    "ix_child_name_dob_family_phon": ["birth_int", "family_phon"],
    "ix_child_name_dob_given_phon": ["birth_int", "given_phon"],
}
_INCLUDE = {
    "ix_child_name_dob_family": ["kind", "given", "family", "given_phon", "family_phon"],
    "ix_child_name_dob_family_phon": [
        "child_pk", "kind", "given", "family", "given_fold", "family_fold", "given_phon",
    ],
    "ix_child_name_dob_given_phon": [
        "child_pk", "kind", "given", "family", "given_fold", "family_fold", "family_phon",
    ],
}  # fmt: skip


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, keys in _KEYS.items():
        op.drop_index(name, "child_name")
        op.create_index(name, "child_name", keys, postgresql_include=_INCLUDE[name])


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, keys in _KEYS.items():
        op.drop_index(name, "child_name")
        op.create_index(name, "child_name", keys)
