"""The Qt import gate passes on the repo and catches a planted violation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "check_qt_imports.py"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False
    )


def plant(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_repo_is_clean() -> None:
    result = run()
    assert result.returncode == 0, result.stderr


def test_planted_qt_import_fails(tmp_path: Path) -> None:
    plant(tmp_path, "cpdesk/ui/ok.py", "from PySide6 import QtWidgets\n")
    plant(tmp_path, "cpdesk/platform/linux.py", "from PySide6.QtDBus import QDBusConnection\n")
    plant(tmp_path, "cpdesk/app.py", "import PySide6.QtCore\n")
    plant(tmp_path, "cpdesk/__main__.py", "import shiboken6\n")
    assert run("--root", str(tmp_path)).returncode == 0
    plant(
        tmp_path,
        "cpdesk/session.py",
        "import os\n\ndef f() -> None:\n    from PySide6.QtCore import QTimer\n",
    )
    plant(tmp_path, "cpdesk/net/client.py", "import shiboken6, json\n")
    result = run("--root", str(tmp_path))
    assert result.returncode == 1
    assert "cpdesk/session.py:4: imports PySide6" in result.stderr
    assert "cpdesk/net/client.py:1: imports shiboken6" in result.stderr
    assert "ui/ok.py" not in result.stderr


def test_cpdesk_importing_cpindex_fails(tmp_path: Path) -> None:
    plant(tmp_path, "cpdesk/net/fhir.py", "from cpindex.api import schemas\n")
    plant(tmp_path, "cpdesk/net/rel.py", "from . import fhir\n")
    result = run("--root", str(tmp_path))
    assert result.returncode == 1
    assert "cpdesk/net/fhir.py:1: cpdesk must never import cpindex" in result.stderr
    assert "rel.py" not in result.stderr


def test_the_controller_is_held_qt_free_directly_and_through_the_edge(tmp_path: Path) -> None:
    plant(tmp_path, "cpdesk/controller.py", "from PySide6.QtCore import QTimer\n")
    plant(tmp_path, "cpdesk/session.py", "from cpdesk.ui.workers import TaskRunner\n")
    plant(tmp_path, "cpdesk/cache/store.py", "from ..ui import theme\nfrom .. import app\n")
    plant(tmp_path, "cpdesk/net/ok.py", "from . import fhir\nfrom ..session import Session\n")
    plant(tmp_path, "cpdesk/ui/main_window.py", "from cpdesk.ui.workers import TaskRunner\n")
    result = run("--root", str(tmp_path))
    assert result.returncode == 1
    assert "cpdesk/controller.py:1: imports PySide6" in result.stderr
    assert "cpdesk/session.py:1: imports cpdesk.ui.workers, which imports Qt" in result.stderr
    assert "cpdesk/cache/store.py:1: imports cpdesk.ui, which imports Qt" in result.stderr
    assert "cpdesk/cache/store.py:2: imports cpdesk.app, which imports Qt" in result.stderr
    assert "net/ok.py" not in result.stderr
    assert "ui/main_window.py" not in result.stderr
