"""The generated settings docs and policy schema are current, and staleness is caught."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "gen_settings_docs.py"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_settings_docs", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_output_is_current() -> None:
    """When this fails: .venv/bin/python scripts/gen_settings_docs.py"""
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_stale_output_is_flagged_then_rewritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    gen = load_script()
    docs = tmp_path / "docs" / "settings.md"
    schema = tmp_path / "cpdesk" / "policy.schema.json"
    docs.parent.mkdir()
    schema.parent.mkdir()
    docs.write_text("old", encoding="utf-8")
    monkeypatch.setattr(gen, "REPO", tmp_path)
    monkeypatch.setattr(gen, "DOCS", docs)
    monkeypatch.setattr(gen, "SCHEMA", schema)
    assert gen.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert "docs/settings.md is out of date" in err
    assert "cpdesk/policy.schema.json is out of date" in err
    assert gen.main([]) == 0
    assert gen.main(["--check"]) == 0
    text = docs.read_text(encoding="utf-8")
    assert "`idle_lock_seconds`" in text
    assert "15–3600" in text


def test_docs_describe_every_setting() -> None:
    gen = load_script()
    text = gen.render_markdown()
    from cpdesk.policy import SETTINGS

    for setting in SETTINGS:
        assert f"`{setting.key}`" in text
        assert setting.description in text
