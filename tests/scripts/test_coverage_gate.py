"""Core modules reach 100% line coverage from their own test file alone (STYLE.md).

Each pair runs in a fresh pytest process, so coverage borrowed from other tests, or
from modules imported along the way, cannot hide an untested line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

PAIRS = [
    ("cpdesk.session", "tests/cpdesk/test_session.py"),
    ("cpdesk.controller", "tests/cpdesk/test_controller.py tests/cpdesk/test_involvements.py"),
    ("cpdesk.policy", "tests/cpdesk/test_policy.py tests/cpdesk/test_policy_trust.py"),
    ("cpdesk.cache", "tests/cpdesk/cache"),
]


@pytest.mark.parametrize(("module", "test_file"), PAIRS)
def test_full_coverage_from_own_tests(module: str, test_file: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COV_CORE_")}
    env["COVERAGE_FILE"] = str(tmp_path / ".coverage")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--cov={module}",
            "--cov-report=term-missing",
            "--cov-fail-under=100",
            *test_file.split(),  # a module's own tests may span files named here
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
