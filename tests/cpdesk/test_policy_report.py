"""`cpdesk policy show [--json]`: every setting, its value, its layer and its source."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cpdesk import __main__ as cli
from cpdesk import policy as policy_mod
from cpdesk.policy import SETTINGS, Layer, load_policy

PIN_A = "A" * 43 + "="
NOBODY = 65534


def write(path: Path, data: object, owner: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chown(path.parent, owner, -1)
    path.write_text(json.dumps(data), encoding="utf-8")
    os.chown(path, owner, -1)
    return path


@pytest.fixture
def machine(root_only_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """System policy, a user-owned override, a user settings file and one variable."""
    for name in ("CPDESK_SERVER_URL", "CPDESK_SPKI_PINS", "CPDESK_CA_BUNDLE", "CPDESK_POLICY_ROOT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(policy_mod, "DEFAULT_ROOT", root_only_folder)
    root_only_folder.joinpath("managed").mkdir(mode=0o755)
    write(
        root_only_folder / "managed/10.json",
        {"server_url": "https://Index.Example", "spki_pins": [PIN_A]},
    )
    write(root_only_folder / "recommended/10.json", {"lock_on_focus_loss": True})
    override = tmp_path / "override"
    write(
        override / "managed/99.json",
        {"server_url": "https://elsewhere.example", "idle_lock_seconds": 60},
        NOBODY,
    )
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    write(home / ".config/cpdesk/settings.json", {"clipboard_clear_seconds": 10})
    monkeypatch.setenv("CPDESK_CA_BUNDLE", "/nowhere/ca.pem")
    return override


def run(capsys: Any, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_json_matches_the_layers_the_app_reads(machine: Path, capsys: Any, tmp_path: Path) -> None:
    code, out, _ = run(capsys, "--policy-root", str(machine), "policy", "show", "--json")
    assert code == 0
    shown = {entry["key"]: entry for entry in json.loads(out)["settings"]}
    assert list(shown) == [s.key for s in SETTINGS]  # every setting, in declaration order
    policy = load_policy(machine, user_settings=tmp_path / "home/.config/cpdesk/settings.json")
    for s in SETTINGS:
        value = getattr(policy, s.key)
        assert shown[s.key]["value"] == (list(value) if isinstance(value, tuple) else value)
        assert shown[s.key]["layer"] == policy.layer(s.key).name.lower()
        assert shown[s.key]["source"] == policy.where(s.key)
    server = shown["server_url"]
    assert server["value"] == "https://index.example"  # normalised at load
    assert (server["layer"], server["locked"], server["scope"]) == ("managed", True, "user")
    assert server["superseded"] == [
        {
            "value": "https://elsewhere.example",
            "layer": "override_managed",
            "source": str(machine / "managed/99.json"),
        }
    ]
    assert shown["idle_lock_seconds"]["layer"] == "override_managed"
    assert shown["idle_lock_seconds"]["set_by"].startswith("override folder (below")
    assert shown["clipboard_clear_seconds"]["source"].endswith(".config/cpdesk/settings.json")
    assert shown["ca_bundle"]["source"] == "environment CPDESK_CA_BUNDLE"
    assert shown["lock_on_focus_loss"]["layer"] == Layer.RECOMMENDED.name.lower()
    assert shown["lock_on_os_lock"] == {
        "key": "lock_on_os_lock",
        "value": True,
        "layer": "default",
        "set_by": "built-in default",
        "source": "",
        "locked": False,
        "scope": "user",
        "superseded": [],
    }


def test_text_names_each_value_and_its_source(machine: Path, capsys: Any) -> None:
    code, out, _ = run(capsys, "--policy-root", str(machine), "policy", "show")
    assert code == 0
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("server_url "))
    assert lines[at].split() == ["server_url", "https://index.example"]
    assert lines[at + 1].split(": ", 1)[1] == str(policy_mod.DEFAULT_ROOT / "managed/10.json")
    assert "replaced https://elsewhere.example from override folder" in lines[at + 2]
    assert any(line.split() == ["spki_pins", PIN_A] for line in lines)


@pytest.mark.parametrize("as_json", [False, True])
def test_invalid_policy_exits_1_naming_the_key(machine: Path, capsys: Any, as_json: bool) -> None:
    path = write(machine / "recommended/20.json", {"idle_lock_seconds": 5}, NOBODY)
    code, out, err = run(
        capsys, "--policy-root", str(machine), "policy", "show", *(["--json"] * as_json)
    )
    assert code == 1
    assert "idle_lock_seconds" in err and str(path) in err
    if as_json:
        assert json.loads(out)["error"]["key"] == "idle_lock_seconds"
    else:
        assert out == ""


def test_untrusted_system_policy_exits_1_naming_the_path(machine: Path, capsys: Any) -> None:
    folder = policy_mod.DEFAULT_ROOT / "managed"
    folder.chmod(0o777)
    code, out, err = run(capsys, "policy", "show", "--json")
    assert code == 1
    assert str(folder) in err
    assert json.loads(out)["error"]["path"] == str(folder)


@pytest.mark.parametrize(
    "argv", [["policy"], ["policy", "list"], ["show"], ["--json"], ["demo", "show"]]
)
def test_usage_errors_exit_2(argv: list[str], capsys: Any) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2


def test_runs_without_qt_or_a_display(tmp_path: Path) -> None:
    script = (
        "import sys; from cpdesk.__main__ import main; code = main(['policy', 'show', '--json']);"
        " assert not [m for m in sys.modules if m.startswith('PySide6')]; sys.exit(code)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CPDESK_", "DISPLAY"))}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path), QT_QPA_PLATFORM="xcb")
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    assert {e["key"] for e in json.loads(done.stdout)["settings"]} == {s.key for s in SETTINGS}
