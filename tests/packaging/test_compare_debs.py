"""`make package`'s reproducibility check names the file that differs between two builds."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COMPARE = REPO / "packaging" / "compare-debs.sh"


def _deb(tmp: Path, name: str, text: str, mtime: int = 1_700_000_000) -> Path:
    root = tmp / name
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        "Package: t\nVersion: 1\nArchitecture: all\nMaintainer: t <t@t.invalid>\n"
        "Description: t\n t\n",
        encoding="utf-8",
    )
    (root / "opt").mkdir()
    for path, content in (("opt/same.txt", "same"), ("opt/changes.txt", text)):
        (root / path).write_text(content, encoding="utf-8")
    for path in root.rglob("*"):
        os.utime(path, (mtime, mtime))
    out = tmp / f"{name}.deb"
    env = dict(os.environ, SOURCE_DATE_EPOCH="1800000000")
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(root), str(out)],
        check=True,
        capture_output=True,
        env=env,
    )
    return out


def _compare(a: Path, b: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(COMPARE), str(a), str(b)], capture_output=True, text=True)


def test_identical_builds_pass(tmp_path: Path) -> None:
    a, b = _deb(tmp_path, "a", "one"), _deb(tmp_path, "b", "one")
    assert a.read_bytes() == b.read_bytes()
    assert _compare(a, b).returncode == 0


def test_a_differing_file_is_named(tmp_path: Path) -> None:
    result = _compare(_deb(tmp_path, "a", "one"), _deb(tmp_path, "b", "two"))
    assert result.returncode == 1
    assert "NOT REPRODUCIBLE" in result.stderr
    assert "opt/changes.txt differ" in result.stderr
    assert "same.txt" not in result.stderr


def test_a_differing_time_is_named(tmp_path: Path) -> None:
    result = _compare(_deb(tmp_path, "a", "one"), _deb(tmp_path, "b", "one", mtime=1_700_003_600))
    assert result.returncode == 1
    assert "./opt/changes.txt" in result.stderr
