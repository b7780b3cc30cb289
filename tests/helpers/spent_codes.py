"""Make an account's current one-time code usable again, for tests not about replay.

The index spends each code's time step once (RFC 6238 section 5.2), so a person signs in
again with the next code, 30 s on. The suites sign the same demo accounts in many times a
minute; before each such sign-in they clear the spent step in the store, which is what
the next step would give a person. Replay itself is tested in test_signin_races.py and
test_auth.py without this helper.
"""

from __future__ import annotations

from sqlalchemy import Engine, update

from cpindex.store.db import make_engine
from cpindex.store.schema import user_account

__all__ = ["forget_spent_code", "forget_spent_code_at"]


def forget_spent_code(engine: Engine, username: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(user_account)
            .where(user_account.c.username == username)
            .values(totp_last_step=None)
        )


def forget_spent_code_at(db_url: str, username: str) -> None:
    engine = make_engine(db_url)
    try:
        forget_spent_code(engine, username)
    finally:
        engine.dispose()
