"""Account changes audited with who made them, TOTP secrets sealed at rest, private
files, and usernames that cannot look like someone else's."""

from __future__ import annotations

import io
import json
import os
import pwd
import stat
import sys
from pathlib import Path

import pyotp
import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import Engine, select, update

from cpindex.auth.sealing import SecretBox, open_secret_box
from cpindex.auth.sessions import SessionStore
from cpindex.cli import main
from cpindex.clock import ManualClock
from cpindex.seed.demo import DEMO_PASSWORD, demo_account
from cpindex.store.db import default_database_url, make_engine
from cpindex.store.schema import audit_event, user_account
from tests.cpindex.conftest import TestClient, build_services, sign_in
from tests.helpers.spent_codes import forget_spent_code

ME = pwd.getpwuid(os.geteuid()).pw_name


def _cli(monkeypatch: pytest.MonkeyPatch, *args: str, stdin: str = "") -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return main(list(args))


def _add(monkeypatch: pytest.MonkeyPatch, db: str, name: str, *extra: str) -> int:
    return _cli(
        monkeypatch, "user", "add", name, "--role", "practitioner", "--org", "Org",
        "--password-stdin", "--db", db, *extra, stdin="a long password\n",
    )  # fmt: skip


def _audit_rows(db: str) -> list[tuple[str, str, dict[str, str]]]:
    engine = make_engine(db)
    with engine.connect() as conn:
        rows = conn.execute(
            select(audit_event.c.action, audit_event.c.username, audit_event.c.detail).order_by(
                audit_event.c.id
            )
        ).all()
    engine.dispose()
    return [(r[0], r[1], json.loads(r[2] or "{}")) for r in rows]


def test_every_account_change_is_audited_with_the_os_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    monkeypatch.delenv("SUDO_USER", raising=False)
    assert _add(monkeypatch, db, "kim.l") == 0
    assert _cli(monkeypatch, "user", "unlock", "kim.l", "--db", db) == 0
    assert _cli(monkeypatch, "user", "disable", "kim.l", "--db", db) == 0
    assert _cli(monkeypatch, "user", "reset", "kim.l", "--password-stdin", "--db", db,
                stdin="new long password\n") == 0  # fmt: skip
    assert _add(monkeypatch, db, "kim.l") == 1  # exists: nothing changed, nothing audited
    rows = _audit_rows(db)
    assert [(action, name) for action, name, _ in rows] == [
        ("account-add", "kim.l"),
        ("account-unlock", "kim.l"),
        ("account-disable", "kim.l"),
        ("account-reset", "kim.l"),
    ]
    assert all(detail["by"] == ME and detail["via"] == "cli" for _, _, detail in rows)
    assert rows[0][2]["role"] == "practitioner"
    assert _cli(monkeypatch, "audit", "verify", "--db", db) == 0


def test_a_change_whose_audit_row_fails_is_not_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = f"sqlite:///{tmp_path / 'b.db'}"
    assert _add(monkeypatch, db, "ali.r") == 0

    def broken(*_args: object, **_kw: object) -> int:
        raise RuntimeError("audit store full")

    monkeypatch.setattr("cpindex.auth.users.record_event", broken)
    assert _add(monkeypatch, db, "ben.s") == 1
    assert _cli(monkeypatch, "user", "disable", "ali.r", "--db", db) == 1
    engine = make_engine(db)
    with engine.connect() as conn:
        users = conn.execute(select(user_account.c.username, user_account.c.disabled)).all()
    engine.dispose()
    assert [tuple(u) for u in users] == [("ali.r", False)]


@pytest.mark.parametrize(
    "name",
    ["nurse\u200b.demo", "nurse.demo\u202e", "ｎｕｒｓｅ.demo", "nurse demo", "nurse\x07", "ﬁona"],
)
def test_look_alike_usernames_are_refused_by_user_add(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    assert _add(monkeypatch, db, name) == 1
    assert "username" in capsys.readouterr().err
    engine = make_engine(db)
    with engine.connect() as conn:
        assert conn.scalar(select(user_account.c.id)) is None
    engine.dispose()


@pytest.mark.parametrize("suffix", ["\u200b", "\u202e", "\u2066", "\ufeff", "\x01", "\n"])
def test_a_look_alike_username_at_sign_in_is_the_ordinary_failure_audited_escaped(
    api_engine: tuple[TestClient, ManualClock, Engine], suffix: str
) -> None:
    client, clock, engine = api_engine
    forget_spent_code(engine, "nurse.demo")
    code = pyotp.TOTP(demo_account("nurse.demo").totp_secret).at(clock.now())
    sent = "nurse.demo" + suffix
    response = client.post(
        "/auth/session", json={"username": sent, "password": DEMO_PASSWORD, "otp": code}
    )
    unknown = client.post(
        "/auth/session", json={"username": "no.one", "password": DEMO_PASSWORD, "otp": code}
    )
    assert response.status_code == 401 and response.json() == unknown.json()
    with engine.connect() as conn:
        logged = conn.execute(
            select(audit_event.c.username, audit_event.c.outcome)
            .where(audit_event.c.action == "sign-in")
            .order_by(audit_event.c.id.desc())
            .limit(2)
        ).all()
    escaped = f"nurse.demo\\u{ord(suffix):04x}"
    assert (escaped, "failure") in [tuple(row) for row in logged]
    assert not any(suffix in (row[0] or "") for row in logged)


@pytest.fixture
def api_engine(seeded_engine: Engine) -> tuple[TestClient, ManualClock, Engine]:
    from cpindex.api import create_app
    from tests.cpindex.conftest import RAISED

    clock = ManualClock()
    return (
        TestClient(create_app(build_services(seeded_engine, RAISED, clock))),
        clock,
        seeded_engine,
    )


def test_init_makes_a_private_key_and_seals_plain_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'd.db'}"
    key = tmp_path / "keys" / "index.key"
    assert _add(monkeypatch, db, "old.user", "--secret-key-file", str(tmp_path / "k0")) == 0
    engine = make_engine(db)
    with engine.begin() as conn:  # as a store from before sealing holds it
        secret = pyotp.random_base32()
        conn.execute(update(user_account).values(totp_secret=secret))
    assert _cli(monkeypatch, "init", "--db", db, "--secret-key-file", str(key)) == 0
    assert "secret key made; 1 TOTP secrets sealed" in capsys.readouterr().out
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    with engine.connect() as conn:
        stored = conn.scalar(select(user_account.c.totp_secret))
        box, made = open_secret_box(conn, key)
    assert stored is not None and stored.startswith("v1:") and secret not in stored
    assert not made and box.open(stored, "old.user") == secret
    assert repr(box) == "SecretBox(<key hidden>)"
    # again: nothing to do; the key is kept
    assert _cli(monkeypatch, "init", "--db", db, "--secret-key-file", str(key)) == 0
    assert "secret key kept; 0 TOTP secrets sealed" in capsys.readouterr().out
    # the server signs in with the sealed secret
    store = SessionStore(engine, ManualClock(), box=box)
    now = store._clock.now()
    assert store.sign_in("old.user", "a long password", pyotp.TOTP(secret).at(now)) is not None
    # a sealed store without its key file: an error, never a fresh key
    key.unlink()
    assert _add(monkeypatch, db, "new.user", "--secret-key-file", str(key)) == 1
    assert "sealed TOTP secrets" in capsys.readouterr().err
    assert not key.exists()
    engine.dispose()


def test_a_sealed_secret_belongs_to_its_account() -> None:
    box = SecretBox(os.urandom(32))
    sealed = box.seal("JBSWY3DPEHPK3PXP", "ann")
    assert box.open(sealed, "ann") == "JBSWY3DPEHPK3PXP"
    with pytest.raises(InvalidTag):
        box.open(sealed, "bob")
    with pytest.raises(InvalidTag):
        SecretBox(os.urandom(32)).open(sealed, "ann")


def test_a_wrong_key_signs_nobody_in_and_is_counted(seeded_engine: Engine) -> None:
    """A sealed secret that will not open is a failed check, not a crash (a 500)."""
    clock = ManualClock()
    name, secret = "sealed.w", pyotp.random_base32()
    with seeded_engine.begin() as conn:
        from cpindex.auth.users import create_user

        create_user(conn, name, "a long password", role="practitioner", organisation="O",
                    totp_secret=secret, box=SecretBox(os.urandom(32)))  # fmt: skip
    store = SessionStore(seeded_engine, clock, box=SecretBox(os.urandom(32)), lockout_failures=1)
    code = pyotp.TOTP(secret).at(clock.now())
    result = store.attempt(name, "a long password", code)
    assert result.token is None and result.failure == "locked-now"


def test_the_default_data_folder_is_0700_and_a_new_sqlite_file_0600(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("CPINDEX_DATABASE_URL", raising=False)
    url = default_database_url()
    folder = tmp_path / "data" / "cpindex"
    assert url == f"sqlite:///{folder / 'cpindex.db'}"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    engine = make_engine(url)
    with engine.connect():
        pass
    engine.dispose()
    assert stat.S_IMODE((folder / "cpindex.db").stat().st_mode) == 0o600


def test_sign_in_still_works_for_demo_accounts(
    api_engine: tuple[TestClient, ManualClock, Engine],
) -> None:
    client, clock, _ = api_engine
    assert sign_in(client, clock)
