"""Where the user's own settings file lives (Qt-free: `cpdesk policy show` reads it too)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["user_settings_file"]


def user_settings_file() -> Path:
    """The user's own settings (JSON, same keys as policy; managed policy still wins).

    Where platformdirs' `user_config_dir("cpdesk")` says. On Linux its XDG rule is worked
    out here ($XDG_CONFIG_HOME if absolute, else $HOME/.config; a test holds the two
    equal): importing platformdirs costs ~10 ms before the sign-in window can paint.
    """
    if sys.platform.startswith("linux"):
        xdg, home = os.environ.get("XDG_CONFIG_HOME", ""), os.environ.get("HOME", "")
        if os.path.isabs(xdg):
            return Path(xdg, "cpdesk", "settings.json")
        if os.path.isabs(home):
            return Path(home, ".config", "cpdesk", "settings.json")
    import platformdirs

    return Path(platformdirs.user_config_dir("cpdesk")) / "settings.json"
