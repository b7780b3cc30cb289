"""A new practitioner account that receives the notices of one of the seed's practitioners
(the e2e tests of notices, through the index alone and through the client)."""

from __future__ import annotations

import uuid

import pyotp

from cpindex.auth.sealing import open_secret_box
from cpindex.auth.users import create_user
from cpindex.notices.accounts import link_practitioner
from cpindex.store.db import make_engine


def linked_account(db_url: str, email: str, password: str) -> tuple[str, str]:
    """(username, TOTP secret) of a new account linked to the practitioner with `email`."""
    name, secret = f"e2e.{uuid.uuid4().hex[:10]}", pyotp.random_base32()
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            box, _ = open_secret_box(conn)
            create_user(conn, name, password, role="practitioner", organisation="Test",
                        totp_secret=secret, box=box)  # fmt: skip
            link_practitioner(conn, name, email)
    finally:
        engine.dispose()
    return name, secret
