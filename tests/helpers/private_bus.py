"""A D-Bus session daemon of the test's own, so no test depends on the host's desktop.

On a GNOME desktop the host's session bus has a screen saver, and cpdesk keeps the
policy's idle limit; on a headless CI machine it has none, and cpdesk fails closed to
60 s. A test that asserts either starts its own `dbus-daemon --session` with a temp
configuration and socket, and decides itself what is on that bus.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

__all__ = ["private_session_bus"]

_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


@contextlib.contextmanager
def private_session_bus(folder: Path) -> Iterator[str]:
    """Start a session bus listening in `folder`; yield its address; stop it (by its pid)."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "session.conf"
    config.write_text(_CONFIG.format(socket=folder / "bus"), encoding="utf-8")
    out = subprocess.run(
        ["dbus-daemon", f"--config-file={config}", "--fork", "--print-address=1", "--print-pid=1"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.split()
    address, pid = out[0], int(out[1])
    try:
        yield address
    finally:
        os.kill(pid, signal.SIGTERM)  # only the daemon this started
