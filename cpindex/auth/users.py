"""User accounts: create, reset, disable, unlock, list (the `cpindex user` commands).

Every change made for a person (`by`) is audited in the same transaction as the change
itself, with who made it, so the audit never shows a change that did not happen nor
misses one that did: the caller passes a connection inside
`cpindex.store.db.serialised` (the audit chain's head is read-modify-written).
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update

from cpindex.audit import record_event
from cpindex.auth.passwords import hash_password, new_totp_secret, provisioning_uri
from cpindex.auth.sealing import SecretBox
from cpindex.auth.usernames import new_name_problem
from cpindex.seed.demo import DEMO_ACCOUNTS
from cpindex.store.schema import user_account, user_session

__all__ = [
    "ROLES",
    "UnknownUser",
    "UserExists",
    "UserRow",
    "create_demo_accounts",
    "create_user",
    "disable_user",
    "list_users",
    "os_user",
    "reset_user",
    "unlock_user",
]

ROLES = ("practitioner", "index-team", "admin")


class UserExists(Exception):
    pass


class UnknownUser(Exception):
    pass


@dataclass(frozen=True)
class UserRow:
    username: str
    display_name: str
    role: str
    organisation: str
    disabled: bool


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def os_user() -> dict[str, str]:
    """Who runs this command, as the audit records it: the OS account (and sudo's caller)."""
    try:
        import pwd

        name = pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):  # Windows, or a uid with no passwd entry
        name = getpass.getuser()
    who = {"by": name}
    sudo_user = os.environ.get("SUDO_USER")
    if sudo_user and sudo_user != name:
        who["sudo_user"] = sudo_user
    return who


def _audit(conn: Connection, action: str, username: str, by: dict[str, str], **extra: Any) -> None:
    record_event(
        conn, at=_now(), action=f"account-{action}", outcome="success", username=username,
        detail={**by, "via": "cli", **extra},
    )  # fmt: skip


def _seal(box: SecretBox | None, secret: str, username: str) -> str:
    return box.seal(secret, username) if box is not None else secret


def create_user(
    conn: Connection,
    username: str,
    password: str,
    *,
    role: str,
    organisation: str,
    display_name: str | None = None,
    family_name: str | None = None,
    postcode_district: str | None = None,
    totp_secret: str | None = None,
    work_hours: tuple[str | None, str | None] = (None, None),
    box: SecretBox | None = None,
    by: dict[str, str] | None = None,
) -> str:
    """Add a user; returns the TOTP provisioning URI for an authenticator app.

    `family_name`, `postcode_district` and `work_hours` ("HH:MM" local; None means the
    default 07:00-20:00) feed the misuse report. `box` seals the TOTP secret; `by`
    (cpindex.auth.users.os_user) audits the addition in this transaction.
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    problem = new_name_problem(username)
    if problem is not None:
        raise ValueError(problem)
    if not password:
        raise ValueError("the password must not be empty")
    exists = conn.scalar(select(user_account.c.id).where(user_account.c.username == username))
    if exists is not None:
        raise UserExists(username)
    secret = totp_secret or new_totp_secret()
    conn.execute(
        insert(user_account).values(
            username=username,
            display_name=display_name or username,
            role=role,
            organisation=organisation,
            family_name=family_name,
            postcode_district=(postcode_district or "").replace(" ", "").upper() or None,
            work_start=work_hours[0],
            work_end=work_hours[1],
            password_hash=hash_password(password),
            totp_secret=_seal(box, secret, username),
            disabled=False,
            failed_count=0,
            locked_until=None,
            created_at=_now(),
        )
    )
    if by is not None:
        _audit(conn, "add", username, by, role=role, organisation=organisation)
    return provisioning_uri(secret, username)


def create_demo_accounts(conn: Connection, box: SecretBox | None = None) -> None:
    """The documented demo accounts (cpindex.seed.demo.DEMO_ACCOUNTS); skips existing ones."""
    for account in DEMO_ACCOUNTS:
        try:
            create_user(
                conn,
                account.username,
                account.password,
                role=account.role,
                organisation=account.organisation,
                display_name=account.display_name,
                totp_secret=account.totp_secret,
                box=box,
            )
        except UserExists:
            continue


def _require(conn: Connection, username: str) -> int:
    uid = conn.scalar(select(user_account.c.id).where(user_account.c.username == username))
    if uid is None:
        raise UnknownUser(username)
    return int(uid)


def _revoke_all(conn: Connection, uid: int) -> None:
    conn.execute(
        update(user_session)
        .where(user_session.c.user_id == uid, user_session.c.revoked_at.is_(None))
        .values(revoked_at=_now())
    )


def reset_user(
    conn: Connection,
    username: str,
    password: str,
    *,
    by: dict[str, str],
    box: SecretBox | None = None,
) -> str:
    """New password and new TOTP secret; ends the user's sessions. Returns the new URI."""
    if not password:
        raise ValueError("the password must not be empty")
    uid = _require(conn, username)
    secret = new_totp_secret()
    conn.execute(
        update(user_account)
        .where(user_account.c.id == uid)
        .values(
            password_hash=hash_password(password),
            totp_secret=_seal(box, secret, username),
            failed_count=0,
            locked_until=None,
            totp_last_step=None,
        )
    )
    _revoke_all(conn, uid)
    _audit(conn, "reset", username, by)
    return provisioning_uri(secret, username)


def disable_user(conn: Connection, username: str, *, by: dict[str, str]) -> None:
    uid = _require(conn, username)
    conn.execute(update(user_account).where(user_account.c.id == uid).values(disabled=True))
    _revoke_all(conn, uid)
    _audit(conn, "disable", username, by)


def unlock_user(conn: Connection, username: str, *, by: dict[str, str]) -> None:
    """Clear a lock-out and the failure count (the `cpindex user unlock` command)."""
    uid = _require(conn, username)
    conn.execute(
        update(user_account)
        .where(user_account.c.id == uid)
        .values(failed_count=0, locked_until=None)
    )
    _audit(conn, "unlock", username, by)


def list_users(conn: Connection) -> list[UserRow]:
    rows = conn.execute(
        select(
            user_account.c.username,
            user_account.c.display_name,
            user_account.c.role,
            user_account.c.organisation,
            user_account.c.disabled,
        ).order_by(user_account.c.username)
    ).all()
    return [UserRow(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows]
