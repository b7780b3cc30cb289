"""The icon, desktop entry and AppStream metadata exist, parse, and reach the window."""

from __future__ import annotations

import configparser
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from cpdesk.app import Connection, build_app
from cpdesk.policy import load_policy
from cpdesk.ui.icon import ICON_SIZES, icon_dir

REPO = Path(__file__).resolve().parents[2]
RESOURCES = REPO / "resources"

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


@pytest.mark.parametrize("size", ICON_SIZES)
def test_every_png_size_is_that_size(size: int) -> None:
    image = QImage(str(RESOURCES / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "cpdesk.png"))
    assert (image.width(), image.height()) == (size, size)


def test_the_package_finds_the_top_level_resources() -> None:
    """cpdesk/resources links to resources/, so a wheel and the bundle carry the same files."""
    assert icon_dir().resolve() == (RESOURCES / "icons" / "hicolor").resolve()
    assert ET.parse(RESOURCES / "cpdesk.svg").getroot().tag.endswith("svg")
    assert (RESOURCES / "cpdesk.ico").read_bytes()[:4] == b"\x00\x00\x01\x00"


def test_desktop_entry_names_the_icon_and_the_launcher() -> None:
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]
    entry.read(RESOURCES / "cpdesk.desktop", encoding="utf-8")
    section = entry["Desktop Entry"]
    assert section["Type"] == "Application"
    assert section["Exec"] == "cpdesk"
    assert section["Icon"] == "cpdesk"
    # Qt's setDesktopFileName("cpdesk") makes Wayland shells match the window to this file.
    assert section["StartupWMClass"] == "cpdesk"


def test_appstream_metainfo_launches_the_desktop_entry() -> None:
    root = ET.parse(RESOURCES / "org.cpdesk.client.metainfo.xml").getroot()
    assert root.get("type") == "desktop-application"
    assert root.findtext("id") == "org.cpdesk.client"
    assert root.findtext("launchable") == "cpdesk.desktop"
    assert root.find("releases/release[@version='0.1.0']") is not None


def test_the_window_and_task_switcher_get_the_icon(qapp, tmp_path: Path) -> None:
    app = build_app(load_policy(tmp_path, environ={}), Connection("https://127.0.0.1:9"))
    try:
        sizes = {s.width() for s in app.window.windowIcon().availableSizes()}
        assert sizes == set(ICON_SIZES)
        assert not app.qapp.windowIcon().isNull()
    finally:
        app.shutdown()
