"""The MSI from packaging/windows/cpdesk.wxs: built with wixl, signed, verified, tamper-evident.

Needs wixl, msitools and osslsigncode (installed by .ci/run). A stand-in payload: what
is under test is the WiX source and the signing pipeline (docs/deployment.md, Windows).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "packaging" / "windows" / "build-msi.sh"
HARVEST = REPO / "packaging" / "windows" / "harvest.py"


@pytest.fixture(scope="module")
def signed_msi(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("msi")
    msi, cert = tmp / "cpdesk.msi", tmp / "cert.pem"
    subprocess.run([str(BUILD), str(tmp / "work"), "0.1.0", str(msi), str(cert)], check=True)
    return msi, cert


def _verify(msi: Path, cert: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["osslsigncode", "verify", "-CAfile", str(cert), "-in", str(msi)],
        capture_output=True,
        text=True,
        check=False,
    )


def _table(msi: Path, name: str) -> str:
    return subprocess.run(
        ["msiinfo", "export", str(msi), name], capture_output=True, text=True, check=True
    ).stdout


def test_signed_msi_verifies_and_one_flipped_byte_fails(
    signed_msi: tuple[Path, Path], tmp_path: Path
) -> None:
    msi, cert = signed_msi
    result = _verify(msi, cert)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Succeeded" in result.stdout
    data = bytearray(msi.read_bytes())
    data[data.index(b"Children's contact index")] ^= 0x01  # inside the signed tables
    tampered = tmp_path / "tampered.msi"
    tampered.write_bytes(bytes(data))
    assert _verify(tampered, cert).returncode != 0


def test_msi_is_per_machine_with_shortcut_policy_keys_and_upgrade_code(
    signed_msi: tuple[Path, Path],
) -> None:
    msi, _ = signed_msi
    shortcut = _table(msi, "Shortcut")
    assert "ProgramMenuFolder" in shortcut and "[INSTALLDIR]cpdesk.exe" in shortcut
    registry = _table(msi, "Registry")
    # "+" = create the key on install, with no value: nothing enforced until IT sets one.
    assert "SOFTWARE\\Policies\\CPDesk\t+" in registry
    assert "SOFTWARE\\Policies\\CPDesk\\Recommended\t+" in registry
    properties = dict(
        line.split("\t", 1) for line in _table(msi, "Property").splitlines() if "\t" in line
    )
    assert properties["ALLUSERS"] == "1"
    assert properties["UpgradeCode"] == "{6F1C2B0E-7E0A-4C55-9B1D-3C2D8A4E5F60}"
    assert "ProgramFiles64Folder" in _table(msi, "Directory")
    files = _table(msi, "File")
    assert "cpdesk.exe" in files and "README.txt" in files


def test_harvest_is_stable_and_keeps_component_guids_per_path(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("harvest", HARVEST)
    assert spec is not None and spec.loader is not None
    harvest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(harvest)
    (tmp_path / "_internal").mkdir()
    (tmp_path / "cpdesk.exe").write_bytes(b"x")
    (tmp_path / "_internal" / "a.dll").write_bytes(b"y")
    first = harvest.fragment(tmp_path)
    (tmp_path / "_internal" / "b.dll").write_bytes(b"z")  # a new file in the next release
    second = harvest.fragment(tmp_path)
    guid_a = first.split('Source="$(var.SourceDir)/_internal/a.dll"')[0].rsplit('Guid="', 1)[1]
    assert guid_a[:36] in second  # a.dll keeps its component GUID
    assert second.count("<Component ") == 3
