"""The application icon, for the window, the task switcher and the taskbar.

The files live in the top-level `resources/` folder; `cpdesk/resources` links to it, so a
source checkout, an installed wheel (package data) and the PyInstaller bundle (the spec
copies the folder to the same place) all find them beside the `cpdesk` package.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize
from PySide6.QtGui import QIcon

__all__ = ["ICON_SIZES", "app_icon", "icon_dir"]

ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def icon_dir() -> Path:
    """The hicolor icon theme folder shipped with cpdesk."""
    return Path(__file__).resolve().parent.parent / "resources" / "icons" / "hicolor"


def app_icon() -> QIcon:
    """One QIcon holding every PNG size; Qt loads a size only when it is drawn."""
    icon = QIcon()
    for size in ICON_SIZES:
        path = icon_dir() / f"{size}x{size}" / "apps" / "cpdesk.png"
        if path.is_file():
            icon.addFile(str(path), QSize(size, size))
    return icon
