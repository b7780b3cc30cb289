"""The `cpindex` command line: users, exit codes, seeding."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import select

from cpindex.auth.sealing import open_secret_box
from cpindex.auth.sessions import SessionStore
from cpindex.cli import main
from cpindex.clock import SystemClock
from cpindex.store.db import make_engine
from cpindex.store.schema import user_account


def _run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str, stdin: str = ""
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_user_lifecycle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'users.db'}"
    code, out, _ = _run(
        monkeypatch, capsys, "user", "add", "jane.doe", "--role", "practitioner",
        "--org", "Leeds A&E", "--family-name", "Doe", "--postcode-district", "LS6",
        "--password-stdin", "--db", db,
        stdin="a long password\n",
    )  # fmt: skip
    assert code == 0
    lines = out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("otpauth://totp/")
    secret = pyotp.parse_uri(lines[0]).secret
    engine = make_engine(db)
    with engine.connect() as conn:
        box, made = open_secret_box(conn)
    assert not made  # `user add` made it, from CPINDEX_SECRET_KEY_FILE
    store = SessionStore(engine, SystemClock(), box=box)
    assert store.sign_in("jane.doe", "a long password", pyotp.TOTP(secret).now()) is not None
    with engine.connect() as conn:
        stored = conn.execute(select(user_account.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$")

    code, _, err = _run(
        monkeypatch,
        capsys,
        "user",
        "add",
        "jane.doe",
        "--role",
        "admin",
        "--org",
        "X",
        "--password-stdin",
        "--db",
        db,
        stdin="pw\n",
    )
    assert code == 1 and "already exists" in err and len(err.strip().splitlines()) == 1

    code, out, _ = _run(
        monkeypatch,
        capsys,
        "user",
        "reset",
        "jane.doe",
        "--password-stdin",
        "--db",
        db,
        stdin="another password\n",
    )
    assert code == 0 and out.startswith("otpauth://totp/")
    new_secret = pyotp.parse_uri(out.strip()).secret
    assert new_secret != secret
    assert store.sign_in("jane.doe", "a long password", pyotp.TOTP(new_secret).now()) is None
    assert store.sign_in("jane.doe", "another password", pyotp.TOTP(new_secret).now()) is not None

    code, out, _ = _run(monkeypatch, capsys, "user", "list", "--db", db)
    assert code == 0 and "jane.doe\tpractitioner\tLeeds A&E\tactive" in out
    assert _run(monkeypatch, capsys, "user", "unlock", "jane.doe", "--db", db)[0] == 0
    assert _run(monkeypatch, capsys, "user", "disable", "jane.doe", "--db", db)[0] == 0
    assert "disabled" in _run(monkeypatch, capsys, "user", "list", "--db", db)[1]
    assert store.sign_in("jane.doe", "another password", pyotp.TOTP(new_secret).now()) is None
    code, _, err = _run(monkeypatch, capsys, "user", "disable", "nobody", "--db", db)
    assert code == 1 and "no user" in err
    engine.dispose()


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("seed",),
        ("seed", "--children", "ten"),
        ("serve", "--tls-cert", "x.pem"),
        ("user", "add", "x", "--role", "king", "--org", "o", "--password-stdin"),
        ("frobnicate",),
    ],
)
def test_usage_errors_exit_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
) -> None:
    monkeypatch.setenv("CPINDEX_DATABASE_URL", f"sqlite:///{tmp_path / 'u.db'}")
    code, _, err = _run(monkeypatch, capsys, *args)
    assert code == 2 and err.startswith("cpindex: ") and len(err.strip().splitlines()) == 1


def test_seed_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 's.db'}"
    code, out, _ = _run(
        monkeypatch, capsys, "seed", "--children", "50", "--seed", "2", "--db", db, "--quiet"
    )
    assert code == 0 and out.startswith("seeded 50 children")
    code, out, _ = _run(monkeypatch, capsys, "seed", "--children", "50", "--seed", "2", "--db", db)
    assert code == 0 and out.startswith("already seeded")
    code, _, err = _run(monkeypatch, capsys, "seed", "--children", "60", "--seed", "2", "--db", db)
    assert code == 1 and "already seeded" in err


def test_working_hours_and_audit_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'hours.db'}"
    base = ("user", "add", "sam.k", "--role", "practitioner", "--org", "Org",
            "--password-stdin", "--db", db)  # fmt: skip
    code, _, err = _run(monkeypatch, capsys, *base, "--work-start", "25:00", stdin="pw\n")
    assert code == 2 and "HH:MM" in err
    code, _, _ = _run(
        monkeypatch, capsys, *base, "--work-start", "8:30", "--work-end", "17:00", stdin="pw\n"
    )
    assert code == 0
    engine = make_engine(db)
    with engine.connect() as conn:
        hours = conn.execute(select(user_account.c.work_start, user_account.c.work_end)).one()
    engine.dispose()
    assert tuple(hours) == ("08:30", "17:00")
    code, out, _ = _run(monkeypatch, capsys, "audit", "verify", "--db", db)
    assert code == 0 and out.startswith("audit chain intact: 1 rows")  # the account added
    code, out, err = _run(
        monkeypatch, capsys, "audit", "report", "--since", "2026-01-01", "--db", db
    )
    assert code == 0 and out == "" and "0 accesses worth a question" in err
    code, _, err = _run(monkeypatch, capsys, "audit", "report", "--since", "soon", "--db", db)
    assert code == 2


def test_user_add_records_the_organisation_kind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'kinds.db'}"
    for name, extra in (("ed.nurse", ("--org-kind", "emergency-department")), ("plain", ())):
        code, _, _ = _run(
            monkeypatch, capsys, "user", "add", name, "--role", "practitioner",
            "--org", "Northgate A&E", *extra, "--password-stdin", "--db", db,
            stdin="a long password\n",
        )  # fmt: skip
        assert code == 0
    code, _, err = _run(
        monkeypatch, capsys, "user", "add", "x", "--role", "practitioner", "--org", "O",
        "--org-kind", "hospital", "--password-stdin", "--db", db, stdin="a long password\n",
    )  # fmt: skip
    assert code == 2 and "--org-kind" in err
    engine = make_engine(db)
    with engine.connect() as conn:
        kinds = dict(
            conn.execute(select(user_account.c.username, user_account.c.organisation_kind)).all()
        )
    engine.dispose()
    assert kinds == {"ed.nurse": "emergency-department", "plain": "other"}
