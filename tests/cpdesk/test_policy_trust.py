"""Managed policy the user cannot replace: system sources always read, always trusted-only.

The attack (issue 13): a user folder named by `CPDESK_POLICY_ROOT` / `--policy-root` used
to *replace* /etc/cpdesk/policies, so its `server_url`, empty pins and weakened switches
were shown as "set by your organisation". Now the system's folder is always read and
wins; the override is a layer below it, and the settings dialog and `policy show` name it.
System sources are trusted only when root owns them, and every folder above them, and
nobody else may write them.
"""

from __future__ import annotations

import json
import os
import plistlib
import pwd
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from cpdesk import __main__ as cli
from cpdesk import policy as policy_mod
from cpdesk.errors import PolicyError
from cpdesk.policy import Layer, Policy, UntrustedPolicySource, load_policy, untrusted_reason

PIN_A = "A" * 43 + "="
NOBODY = pwd.getpwnam("nobody").pw_uid
ANY_TEXT = mock.ANY
ORG_URL = "https://national.example.nhs.uk"
EVIL_URL = "https://elsewhere.example"


def write(path: Path, data: object, *, owner: int = 0) -> Path:
    """A policy file, 0644, its folders 0755, owned by `owner` (files and new folders)."""
    for folder in reversed(path.parents):
        if not folder.exists():
            folder.mkdir()
            folder.chmod(0o755)
            os.chown(folder, owner, -1)
    path.write_text(json.dumps(data), encoding="utf-8")
    path.chmod(0o644)
    os.chown(path, owner, -1)
    return path


@pytest.fixture
def system(root_only_folder: Path) -> Path:
    """The organisation's policy folder, root-owned and root-only up to /."""
    write(
        root_only_folder / "managed/10-org.json",
        {"server_url": ORG_URL, "spki_pins": [PIN_A], "screen_capture_protection": True},
    )
    write(root_only_folder / "recommended/10-org.json", {"lock_on_focus_loss": True})
    return root_only_folder


@pytest.fixture
def override(tmp_path: Path) -> Path:
    """A user's own folder (owned by nobody, as any user's would be), trying to get round IT."""
    folder = tmp_path / "override"
    write(
        folder / "managed/99-mine.json",
        {"server_url": EVIL_URL, "spki_pins": [], "idle_lock_seconds": 3600},
        owner=NOBODY,
    )
    write(folder / "recommended/99-mine.json", {"clipboard_clear_seconds": 600}, owner=NOBODY)
    return folder


def load(system_root: Path, override: Path | None = None, **kwargs: Any) -> Policy:
    kwargs.setdefault("environ", {})
    kwargs.setdefault("platform", "linux")
    return load_policy(override, system_root=system_root, **kwargs)


def test_system_managed_policy_wins_over_the_override(system: Path, override: Path) -> None:
    p = load(system, override)
    assert p.server_url == ORG_URL
    assert p.spki_pins == (PIN_A,)
    assert p.is_locked("server_url")
    assert p.where("server_url") == str(system / "managed/10-org.json")
    # what the org left open, the override may set, and is named as the override
    assert p.idle_lock_seconds == 3600
    assert p.layer("idle_lock_seconds") is Layer.OVERRIDE_MANAGED
    assert not p.is_locked("idle_lock_seconds")
    assert p.source("idle_lock_seconds").startswith("override folder (below your organisation")
    assert p.layer("clipboard_clear_seconds") is Layer.OVERRIDE_RECOMMENDED
    assert p.layer("lock_on_focus_loss") is Layer.RECOMMENDED
    # what the override tried is kept for `policy show`, under the value that won
    [lost] = [v for v in p.superseded("server_url") if v.layer is Layer.OVERRIDE_MANAGED]
    assert lost.value == EVIL_URL


def test_the_override_is_read_through_the_environment_too(system: Path, override: Path) -> None:
    p = load(system, environ={"CPDESK_POLICY_ROOT": str(override)})
    assert p.server_url == ORG_URL
    assert p.layer("idle_lock_seconds") is Layer.OVERRIDE_MANAGED


def test_override_managed_beats_the_users_settings(system: Path, override: Path) -> None:
    p = load(system, override, environ={"CPDESK_SERVER_URL": "https://mine.example"})
    assert p.server_url == ORG_URL  # the organisation's, above both
    p = load(system / "absent", override, environ={"CPDESK_SERVER_URL": "https://mine.example"})
    assert p.server_url == EVIL_URL  # no organisation policy: the override's
    assert p.layer("server_url") is Layer.OVERRIDE_MANAGED


@pytest.mark.parametrize("key", ["screen_capture_protection", "allow_pin_unlock"])
def test_a_user_owned_override_cannot_set_policy_only_keys(
    system: Path, tmp_path: Path, key: str
) -> None:
    folder = tmp_path / "override"
    path = write(folder / "managed/99.json", {key: key == "allow_pin_unlock"}, owner=NOBODY)
    with pytest.raises(PolicyError) as err:
        load(system, folder)
    assert err.value.key == key
    assert "organisation" in err.value.user_message
    assert str(path) in err.value.user_message


def test_a_root_only_override_may_try_policy_only_keys(
    root_only_folder: Path, tmp_path: Path
) -> None:
    write(root_only_folder / "override/managed/99.json", {"allow_pin_unlock": True})
    p = load(tmp_path / "no-system", root_only_folder / "override")
    assert p.allow_pin_unlock is True
    assert p.layer("allow_pin_unlock") is Layer.OVERRIDE_MANAGED


def test_the_settings_dialog_says_where_each_value_came_from(
    qtbot: Any, system: Path, override: Path
) -> None:
    from cpdesk.policy import SETTINGS
    from cpdesk.ui.settings_dialog import MANAGED_TEXT, OVERRIDE_NOTE, SettingsDialog

    dialog = SettingsDialog(load(system, override), lock_detection="", capture_protection="")
    qtbot.addWidget(dialog)
    keys = [s.key for s in SETTINGS]

    def row(key: str) -> list[str]:
        return [dialog.table.item(keys.index(key), c).text() for c in range(3)]

    assert row("server_url")[1:] == [
        ORG_URL,
        f"{MANAGED_TEXT}\n{system / 'managed/10-org.json'}",
    ]
    assert row("idle_lock_seconds")[2] == f"Override folder\n{override / 'managed/99-mine.json'}"
    assert row("clipboard_clear_seconds")[2] == (
        f"Override folder, recommended\n{override / 'recommended/99-mine.json'}"
    )
    assert row("lock_on_os_lock")[2] == "Built-in default"
    assert OVERRIDE_NOTE in dialog.intro.text()


# -- untrusted system sources stop the app, naming the path -----------------------------


def _nobody_owns(path: Path) -> Path:
    os.chown(path, NOBODY, -1)
    return path


def _mode(extra: int) -> Any:
    def change(path: Path) -> Path:
        path.chmod(path.stat().st_mode | extra)
        return path

    return change


CHANGES = {
    "owner nobody": _nobody_owns,
    "group-writable": _mode(0o020),
    "world-writable": _mode(0o002),
}
PROBLEMS = {
    "owner nobody": f"owned by user id {NOBODY}, not root",
    "group-writable": "writable by its group",
    "world-writable": "writable by every user",
}


@pytest.mark.parametrize("change", sorted(CHANGES))
@pytest.mark.parametrize("target", ["file", "folder", "root", "recommended file"])
def test_untrusted_system_source_stops_loading(system: Path, change: str, target: str) -> None:
    victim = {
        "file": system / "managed/10-org.json",
        "folder": system / "managed",
        "root": system,
        "recommended file": system / "recommended/10-org.json",
    }[target]
    CHANGES[change](victim)
    with pytest.raises(UntrustedPolicySource) as err:
        load(system)
    assert err.value.path == str(victim)
    assert str(victim) in err.value.user_message
    assert PROBLEMS[change] in err.value.user_message


def test_a_folder_above_the_policy_root_counts_too(root_only_folder: Path) -> None:
    system = root_only_folder / "etc/cpdesk/policies"
    write(system / "managed/10.json", {"idle_lock_seconds": 60})
    (root_only_folder / "etc").chmod(0o777)
    with pytest.raises(UntrustedPolicySource) as err:
        load(system)
    assert err.value.path == str(root_only_folder / "etc")


@pytest.mark.parametrize("target", ["file", "folder", "root"])
def test_a_symbolic_link_is_refused_even_to_a_trusted_target(
    root_only_folder: Path, target: str
) -> None:
    real = root_only_folder / "real"
    write(real / "managed/10.json", {"idle_lock_seconds": 60})
    system = root_only_folder / "system"
    if target == "root":
        system.symlink_to(real)
        victim = system
    elif target == "folder":
        system.mkdir()
        (system / "managed").symlink_to(real / "managed")
        victim = system / "managed"
    else:
        (system / "managed").mkdir(parents=True)
        (system / "managed/10.json").symlink_to(real / "managed/10.json")
        victim = system / "managed/10.json"
    with pytest.raises(UntrustedPolicySource) as err:
        load(system)
    assert err.value.path == str(victim)
    assert "symbolic link" in err.value.user_message


def test_the_app_stops_naming_the_untrusted_path(
    system: Path, override: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setattr(policy_mod, "DEFAULT_ROOT", system)
    _mode(0o020)(system / "managed")
    assert cli.main(["--policy-root", str(override)]) == 1
    err = capsys.readouterr().err
    assert str(system / "managed") in err
    assert "writable by its group" in err


def test_a_path_that_cannot_be_examined_is_not_trusted(tmp_path: Path) -> None:
    assert untrusted_reason(tmp_path / "absent") == (tmp_path / "absent", ANY_TEXT)


def test_files_are_never_trusted_off_posix(
    root_only_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows' trusted source is HKLM; an override file there may not set policy-only keys."""
    monkeypatch.setattr(policy_mod.os, "name", "nt")
    reason = untrusted_reason(root_only_folder)
    monkeypatch.undo()
    assert reason is not None and "POSIX" in reason[1]


def test_an_unreadable_policy_folder_stops_loading(
    system: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 0700 folder reads fine as root but not as the user who runs cpdesk."""

    def denied(path: Any) -> list[str]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(policy_mod.os, "listdir", denied)
    with pytest.raises(PolicyError) as err:
        load(system)
    assert "Permission denied" in err.value.user_message
    assert str(system / "recommended") in err.value.user_message


def test_a_missing_system_folder_is_no_policy(tmp_path: Path) -> None:
    assert load(tmp_path / "absent") == Policy()


# -- macOS: the login name comes from the password database -----------------------------


def plist(path: Path, data: dict[str, object]) -> None:
    write(path, {})
    path.write_bytes(plistlib.dumps(data))


class FakePasswd:
    def __init__(self, name: str) -> None:
        self.pw_name = name


@pytest.fixture
def macos_prefs(root_only_folder: Path) -> Path:
    plist(root_only_folder / "org.cpdesk.client.plist", {"idle_lock_seconds": 90})
    plist(root_only_folder / "sam/org.cpdesk.client.plist", {"idle_lock_seconds": 30})
    return root_only_folder


def test_macos_user_name_is_from_getpwuid_not_user(
    macos_prefs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pwd, "getpwuid", lambda uid: FakePasswd("sam"))
    p = load_policy(platform="darwin", environ={"USER": "jo"}, managed_preferences=macos_prefs)
    assert p.idle_lock_seconds == 30
    assert p.where("idle_lock_seconds") == str(macos_prefs / "sam/org.cpdesk.client.plist")


@pytest.mark.parametrize("name", ["../../x", "sam/../jo", "..", "a\\b", ""])
def test_macos_user_name_with_a_path_part_is_refused(
    macos_prefs: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setattr(pwd, "getpwuid", lambda uid: FakePasswd(name))
    with pytest.raises(UntrustedPolicySource) as err:
        load_policy(platform="darwin", environ={"USER": "sam"}, managed_preferences=macos_prefs)
    assert "login name" in err.value.user_message


def test_macos_user_environment_cannot_reach_another_file(
    macos_prefs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attack: USER=../../x loaded a plist from anywhere. $USER is now never read."""
    monkeypatch.setattr(pwd, "getpwuid", lambda uid: FakePasswd("jo"))
    plist(macos_prefs / "x/org.cpdesk.client.plist", {"idle_lock_seconds": 3600})
    env = {"USER": "../" + os.path.relpath(macos_prefs / "x", macos_prefs / "jo")}
    p = load_policy(platform="darwin", environ=env, managed_preferences=macos_prefs)
    assert p.idle_lock_seconds == 90


def test_macos_untrusted_preferences_stop_loading(
    macos_prefs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pwd, "getpwuid", lambda uid: FakePasswd("sam"))
    victim = _nobody_owns(macos_prefs / "sam")
    with pytest.raises(UntrustedPolicySource) as err:
        load_policy(platform="darwin", environ={}, managed_preferences=macos_prefs)
    assert err.value.path == str(victim)


# -- the real /etc/cpdesk/policies ------------------------------------------------------

REAL = Path("/etc/cpdesk/policies")


@pytest.fixture
def real_system_policy(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A managed file in the real /etc/cpdesk/policies, removed afterwards with any folder
    this made. Its value is the default, so a test elsewhere that reads it is unchanged."""
    monkeypatch.setattr(policy_mod, "DEFAULT_ROOT", REAL)
    made = [p for p in (REAL.parent, REAL, REAL / "managed") if not p.exists()]
    path = REAL / "managed" / f"zz-cpdesk-test-{os.getpid()}.json"
    write(path, {"clipboard_clear_seconds": 30})
    try:
        yield path
    finally:
        path.unlink()
        for folder in reversed(made):
            folder.rmdir()


def test_the_real_system_folder_wins_over_a_user_owned_override(
    real_system_policy: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "override"
    write(folder / "managed/10.json", {"clipboard_clear_seconds": 600}, owner=NOBODY)
    p = load_policy(folder, environ={}, platform="linux")
    assert p.clipboard_clear_seconds == 30
    assert p.is_locked("clipboard_clear_seconds")
    assert p.where("clipboard_clear_seconds") == str(real_system_policy)
