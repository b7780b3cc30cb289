"""The read-only settings view: values, who set them, and the OS lock/capture status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtWidgets import QAbstractItemView, QLabel
from pytestqt.qtbot import QtBot

from cpdesk.policy import SETTINGS, Policy, load_policy
from cpdesk.ui.settings_dialog import (
    MANAGED_TEXT,
    SettingsDialog,
    build_settings_dialog,
    describe_capture_protection,
    format_value,
)
from tests.helpers.fakes import FakeCaptureGuard, FakeLockListener

SETTING = {s.key: s for s in SETTINGS}


def policy_with_layers(tmp_path: Path) -> Policy:
    """`tmp_path` as the system's policy folder (it must be root-only: see conftest)."""
    (tmp_path / "managed").mkdir()
    (tmp_path / "recommended").mkdir()
    (tmp_path / "managed" / "10.json").write_text(
        json.dumps({"idle_lock_seconds": 60, "screen_capture_protection": False}), "utf-8"
    )
    (tmp_path / "recommended" / "10.json").write_text(
        json.dumps({"lock_on_focus_loss": True}), "utf-8"
    )
    return load_policy(system_root=tmp_path, environ={"CPDESK_SERVER_URL": "https://x.example"})


def row_of(dialog: SettingsDialog, key: str) -> list[str]:
    row = [s.key for s in SETTINGS].index(key)
    return [dialog.table.item(row, column).text() for column in range(3)]


def test_shows_values_and_who_set_them(qtbot: QtBot, root_only_folder: Path) -> None:
    dialog = SettingsDialog(
        policy_with_layers(root_only_folder),
        lock_detection="cpdesk locks when this computer's screen locks.",
        capture_protection="Screen capture protection is off (set by policy).",
    )
    qtbot.addWidget(dialog)
    managed = MANAGED_TEXT + "\n" + str(root_only_folder / "managed" / "10.json")
    assert row_of(dialog, "idle_lock_seconds") == [
        "Lock after no input (seconds)",
        "60 seconds (1 min)",
        managed,
    ]
    assert row_of(dialog, "screen_capture_protection")[1:] == ["Off", managed]
    assert row_of(dialog, "lock_on_focus_loss")[2].startswith("Recommended by your organisation\n")
    assert row_of(dialog, "server_url")[1:] == [
        "https://x.example",
        "Your settings\nenvironment CPDESK_SERVER_URL",
    ]
    assert row_of(dialog, "clipboard_clear_seconds")[1:] == ["30 seconds", "Built-in default"]
    assert dialog.table.item(0, 0).font().bold() is False
    idle_row = [s.key for s in SETTINGS].index("idle_lock_seconds")
    assert dialog.table.item(idle_row, 2).font().bold()
    texts = [label.text() for label in dialog.findChildren(QLabel)]
    assert "cpdesk locks when this computer's screen locks." in texts
    assert "Screen capture protection is off (set by policy)." in texts


def test_says_what_the_offline_cache_keeps(qtbot: QtBot) -> None:
    dialog = SettingsDialog(Policy(), lock_detection="", capture_protection="")
    qtbot.addWidget(dialog)
    assert "kept encrypted" in dialog.intro.text()
    assert "erased when you sign out" in dialog.intro.text()
    assert "override" not in dialog.intro.text()  # no override folder in use


def test_nothing_is_editable(qtbot: QtBot) -> None:
    dialog = SettingsDialog(Policy(), lock_detection="", capture_protection="")
    qtbot.addWidget(dialog)
    assert dialog.table.editTriggers() == QAbstractItemView.EditTrigger.NoEditTriggers
    assert dialog.table.rowCount() == len(SETTINGS)
    assert dialog.table.accessibleName() == "Settings"


@pytest.mark.parametrize(
    ("key", "value", "text"),
    [
        ("lock_on_minimise", True, "On"),
        ("cache_ttl_seconds", 28800, "28800 seconds (8 h)"),
        ("lock_to_logout_seconds", 900, "900 seconds (15 min)"),
        ("idle_lock_seconds", 45, "45 seconds"),
        ("spki_pins", (), "None"),
        ("spki_pins", ("a",), "1 pinned key"),
        ("spki_pins", ("a", "b"), "2 pinned keys"),
        ("ca_bundle", "", "System certificate store"),
        ("server_url", "", "Not set"),
        ("ca_bundle", "/etc/ca.pem", "/etc/ca.pem"),
    ],
)
def test_format_value(key: str, value: object, text: str) -> None:
    assert format_value(SETTING[key], value) == text


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ((False, True, None), "off (set by policy)"),
        ((True, False, None), "does not let cpdesk block"),
        ((True, True, False), "could not be turned on"),
        ((True, True, True), "blank window"),
    ],
)
def test_describe_capture_protection(args: tuple[bool, bool, bool | None], fragment: str) -> None:
    assert fragment in describe_capture_protection(*args)


def test_built_from_the_app_services(qtbot: QtBot) -> None:
    dialog = build_settings_dialog(
        Policy(),
        listener=FakeLockListener(detects_screen_lock=False),
        idle_lock_seconds=60,
        guard=FakeCaptureGuard(possible=False),
        capture_applied=None,
    )
    qtbot.addWidget(dialog)
    assert "locks after 60 seconds without input" in dialog.lock_detection.text()
    assert "does not let cpdesk block" in dialog.capture_protection.text()
