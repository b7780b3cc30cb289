"""Server settings are declared once (cpindex/config.py); the CLI, the environment and the
docs table come from it, and a limit of 0 or less (or malformed) is refused with exit 2."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from cpindex import cli
from cpindex.config import SETTINGS, ServerSettings, SettingError, resolve

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "gen_index_settings_docs.py"

# The contract in DESIGN.md ("Server limits..."): names and defaults stay.
CONTRACT = {
    "--search-limit": ("CPINDEX_SEARCH_LIMIT", 30),
    "--view-limit": ("CPINDEX_VIEW_LIMIT", 60),
    "--idle-minutes": ("CPINDEX_IDLE_MINUTES", 15),
    "--absolute-hours": ("CPINDEX_ABSOLUTE_HOURS", 10),
    "--lockout-failures": ("CPINDEX_LOCKOUT_FAILURES", 5),
    "--lockout-minutes": ("CPINDEX_LOCKOUT_MINUTES", 15),
}


def test_contract_names_and_defaults_are_stable() -> None:
    by_flag = {s.flag: s for s in SETTINGS}
    for flag, (env, default) in CONTRACT.items():
        assert by_flag[flag].env == env
        assert by_flag[flag].default == default


def test_option_beats_environment_beats_default() -> None:
    env = {"CPINDEX_SEARCH_LIMIT": "7", "CPINDEX_VIEW_LIMIT": "8", "CPINDEX_DOCS": "yes"}
    settings = resolve({"search_limit": "9"}, env)
    assert (settings.search_limit, settings.view_limit, settings.docs) == (9, 8, True)
    assert resolve({}, {}) == ServerSettings()
    assert resolve({"trusted_proxy": ["10.0.0.1"]}, {}).trusted_proxy == ("10.0.0.1",)
    assert resolve({}, {"CPINDEX_TRUSTED_PROXY": "10.0.0.1, 10.1.0.0/16"}).trusted_proxy == (
        "10.0.0.1",
        "10.1.0.0/16",
    )


@pytest.mark.parametrize("setting", [s for s in SETTINGS if s.kind in ("int", "float")])
def test_zero_or_less_is_refused_for_every_number(setting: object) -> None:
    from cpindex.config import Setting

    assert isinstance(setting, Setting)
    for raw in ("0", "-5"):
        with pytest.raises(SettingError, match=setting.flag):
            resolve({setting.name: raw}, {})
        with pytest.raises(SettingError, match=setting.env):
            resolve({}, {setting.env: raw})


def _cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str]:
    code = cli.main(["serve", *args])
    err = capsys.readouterr().err
    return code, err


@pytest.mark.parametrize(
    ("args", "env", "words"),
    [
        (("--search-limit", "0"), {}, "--search-limit must be at least 1"),
        (("--view-limit", "-1"), {}, "--view-limit must be at least 1"),
        (("--read-timeout", "0"), {}, "--read-timeout must be at least 1"),
        (("--max-connections", "²"), {}, "--max-connections must be a whole number"),
        (("--idle-minutes", "nan"), {}, "--idle-minutes must be a number"),
        ((), {"CPINDEX_LOCKOUT_FAILURES": "0"}, "CPINDEX_LOCKOUT_FAILURES must be at least 1"),
        ((), {"CPINDEX_SEARCH_LIMIT": "lots"}, "CPINDEX_SEARCH_LIMIT must be a whole number"),
        ((), {"CPINDEX_TRUSTED_PROXY": "proxy.example"}, "not an address"),
        (("--tls-cert", "x.pem"), {}, "give --tls-cert and --tls-key together"),
        (("--host", "0.0.0.0"), {}, "refusing plain HTTP on 0.0.0.0"),
        (("--host", "192.0.2.7"), {}, "refusing plain HTTP on 192.0.2.7"),
        (("--host", "index.example"), {}, "refusing plain HTTP"),
    ],
)
def test_bad_settings_exit_2_with_one_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    env: dict[str, str],
    words: str,
) -> None:
    for setting in SETTINGS:
        monkeypatch.delenv(setting.env, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, err = _cli(monkeypatch, capsys, *args)
    assert code == 2
    assert words in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args",
    [
        ("--host", "0.0.0.0", "--behind-proxy"),
        ("--host", "::1"),
        ("--host", "localhost"),
        ("--host", "10.0.0.5", "--tls-cert", "c.pem", "--tls-key", "k.pem"),
    ],
)
def test_allowed_hosts(monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]) -> None:
    for setting in SETTINGS:
        monkeypatch.delenv(setting.env, raising=False)
    parsed = cli._parser().parse_args(["serve", *args])
    assert cli._settings(parsed).host == args[1]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_index_settings_docs", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_table_is_current() -> None:
    """When this fails: .venv/bin/python scripts/gen_index_settings_docs.py"""
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_stale_table_is_flagged_then_rewritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gen = _script()
    docs = tmp_path / "docs" / "index.md"
    docs.parent.mkdir()
    docs.write_text(f"# Index\n\n{gen.BEGIN}\nold\n{gen.END}\n\nafter\n", encoding="utf-8")
    monkeypatch.setattr(gen, "REPO", tmp_path)
    monkeypatch.setattr(gen, "DOCS", docs)
    assert gen.main(["--check"]) == 1
    assert gen.main([]) == 0
    assert gen.main(["--check"]) == 0
    text = docs.read_text(encoding="utf-8")
    assert text.endswith("\n\nafter\n") and "old" not in text
    for setting in SETTINGS:
        assert f"`{setting.flag}`" in text and f"`{setting.env}`" in text
        assert setting.help in text
