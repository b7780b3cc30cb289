"""The admin templates agree with policy.py key for key and type for type, and are current."""

from __future__ import annotations

import importlib.util
import json
import plistlib
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import jsonschema
import pytest

from cpdesk.policy import MACOS_DOMAIN, SETTINGS, WINDOWS_KEY, load_policy, policy_schema

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "gen_policy_templates.py"
OUT = REPO / "packaging" / "policy"
NS = {"p": "http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions"}
RECOMMENDED = WINDOWS_KEY + "\\Recommended"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_policy_templates", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def admx() -> ET.Element:
    return ET.parse(OUT / "windows" / "cpdesk.admx").getroot()


def adml() -> ET.Element:
    return ET.parse(OUT / "windows" / "en-US" / "cpdesk.adml").getroot()


def test_committed_templates_are_current() -> None:
    """When this fails: .venv/bin/python scripts/gen_policy_templates.py"""
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_stale_template_is_flagged_then_rewritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    gen = load_script()
    monkeypatch.setattr(gen, "REPO", tmp_path)
    monkeypatch.setattr(gen, "OUT", tmp_path / "packaging" / "policy")
    assert gen.main(["--check"]) == 1
    assert "packaging/policy/windows/cpdesk.admx is out of date" in capsys.readouterr().err
    assert gen.main([]) == 0
    assert gen.main(["--check"]) == 0


def _admx_types(key: str) -> dict[str, str]:
    """valueName -> the policy.py JSON type the ADMX policy writes, for one registry key."""
    found: dict[str, str] = {}
    for policy in admx().iterfind("p:policies/p:policy", NS):
        assert policy.get("class") == "Machine"
        if policy.get("key") != key:
            continue
        if policy.find("p:enabledValue/p:decimal", NS) is not None:
            assert policy.find("p:enabledValue/p:decimal", NS).get("value") == "1"  # type: ignore[union-attr]
            assert policy.find("p:disabledValue/p:decimal", NS).get("value") == "0"  # type: ignore[union-attr]
            found[policy.get("valueName", "")] = "boolean"
            continue
        (element,) = list(policy.find("p:elements", NS))  # type: ignore[arg-type]
        tag = element.tag.split("}")[1]
        if tag == "list":
            # policy.py reads a list as a subkey named after the key, values 1, 2, 3...
            name = element.get("id", "")
            assert element.get("key") == f"{key}\\{name}"
            assert element.get("valuePrefix") == ""
            found[name] = "array"
        else:
            found[element.get("valueName", "")] = {"decimal": "integer", "text": "string"}[tag]
    return found


@pytest.mark.parametrize("key", [WINDOWS_KEY, RECOMMENDED])
def test_admx_has_every_setting_with_its_type(key: str) -> None:
    assert _admx_types(key) == {s.key: s.json_type for s in SETTINGS}


def test_admx_number_bounds_are_the_declared_bounds() -> None:
    by_key = {s.key: s for s in SETTINGS}
    for element in admx().iterfind("p:policies/p:policy/p:elements/p:decimal", NS):
        s = by_key[element.get("valueName", "")]
        assert (int(element.get("minValue", "")), int(element.get("maxValue", ""))) == (
            s.minimum,
            s.maximum,
        )


def test_admx_and_adml_have_the_elements_group_policy_expects() -> None:
    """Every reference resolves: the Group Policy editor refuses a template where one does not."""
    root, resources = admx(), adml()
    assert root.tag == f"{{{NS['p']}}}policyDefinitions"
    assert root.get("revision") and root.get("schemaVersion")
    target = root.find("p:policyNamespaces/p:target", NS)
    assert target is not None and target.get("prefix") and target.get("namespace")
    assert root.find("p:resources", NS).get("minRequiredRevision")  # type: ignore[union-attr]
    strings = {s.get("id") for s in resources.iterfind(".//p:stringTable/p:string", NS)}
    presentations = {
        p.get("id"): p for p in resources.iterfind(".//p:presentationTable/p:presentation", NS)
    }
    categories = {c.get("name") for c in root.iterfind("p:categories/p:category", NS)}
    supported = {
        d.get("name") for d in root.iterfind("p:supportedOn/p:definitions/p:definition", NS)
    }
    text = (OUT / "windows" / "cpdesk.admx").read_text(encoding="utf-8")
    assert set(re.findall(r"\$\(string\.(\w+)\)", text)) <= strings
    names = [p.get("name") for p in root.iterfind("p:policies/p:policy", NS)]
    assert len(names) == len(set(names)) == 2 * len(SETTINGS)
    for policy in root.iterfind("p:policies/p:policy", NS):
        assert policy.find("p:parentCategory", NS).get("ref") in categories  # type: ignore[union-attr]
        assert policy.find("p:supportedOn", NS).get("ref") in supported  # type: ignore[union-attr]
        elements = policy.find("p:elements", NS)
        if elements is None:
            assert policy.get("presentation") is None
            continue
        ref = re.fullmatch(r"\$\(presentation\.(\w+)\)", policy.get("presentation", ""))
        assert ref is not None and ref.group(1) in presentations
        ids = {e.get("id") for e in elements}
        ref_ids = {c.get("refId") for c in presentations[ref.group(1)]}
        assert ids == ref_ids


def test_macos_profile_has_every_setting_with_its_type() -> None:
    profile = plistlib.loads((OUT / "macos" / "org.cpdesk.client.mobileconfig").read_bytes())
    assert profile["PayloadType"] == "Configuration"
    (payload,) = profile["PayloadContent"]
    assert payload["PayloadType"] == MACOS_DOMAIN
    values = {k: v for k, v in payload.items() if not k.startswith("Payload")}
    python = {"boolean": bool, "integer": int, "string": str, "array": list}
    assert set(values) == {s.key for s in SETTINGS}
    for s in SETTINGS:
        assert type(values[s.key]) is python[s.json_type], s.key


def test_linux_example_is_a_valid_policy_file_with_every_setting(root_only_folder: Path) -> None:
    """Loaded from a root-only folder, as /etc/cpdesk/policies is: it sets policy-only keys."""
    example = json.loads((OUT / "linux" / "example.json").read_text(encoding="utf-8"))
    assert set(example) == {s.key for s in SETTINGS}
    jsonschema.validate(example, policy_schema())
    managed = root_only_folder / "managed"
    managed.mkdir(mode=0o755)
    (managed / "10.json").write_text(json.dumps(example), encoding="utf-8")
    (managed / "10.json").chmod(0o644)
    policy = load_policy(root_only_folder, environ={})
    assert policy.server_url == "https://index.example.nhs.uk"


def test_the_commented_example_enforces_nothing(tmp_path: Path) -> None:
    """The .deb ships README.example in managed/: cpdesk reads only *.json, so it is inert."""
    managed = tmp_path / "managed"
    managed.mkdir()
    text = (OUT / "linux" / "README.example").read_text(encoding="utf-8")
    (managed / "README.example").write_text(text, encoding="utf-8")
    assert all(line.startswith("#") for line in text.splitlines())
    policy = load_policy(tmp_path, environ={})
    assert policy.server_url == ""
