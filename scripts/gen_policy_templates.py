"""Write the admin policy templates under packaging/policy/ from the settings table in policy.py.

- `windows/cpdesk.admx` and `windows/en-US/cpdesk.adml`: Group Policy / Intune templates,
  every setting twice (managed under `HKLM\\SOFTWARE\\Policies\\CPDesk`, recommended under
  its `Recommended` subkey), in the registry types policy.py reads;
- `macos/org.cpdesk.client.mobileconfig`: an example configuration profile;
- `linux/example.json`: an example policy file; `linux/README.example`: the commented
  copy the .deb puts in /etc/cpdesk/policies/managed/ and recommended/ (not `*.json`, so
  nothing is enforced until IT adds a file).

All generated, never edited by hand: `--check` exits 1 when one is stale (tests run it),
the same pattern as scripts/gen_settings_docs.py.

    .venv/bin/python scripts/gen_policy_templates.py          # rewrite them
    .venv/bin/python scripts/gen_policy_templates.py --check  # fail if out of date
"""

from __future__ import annotations

import argparse
import json
import plistlib
import sys
import uuid
from pathlib import Path
from xml.sax.saxutils import escape

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cpdesk import __version__  # noqa: E402
from cpdesk.policy import MACOS_DOMAIN, SETTINGS, WINDOWS_KEY, Setting  # noqa: E402
from scripts.generated_files import write_or_check  # noqa: E402

OUT = REPO / "packaging" / "policy"
ADMX_NS = "http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions"
NAMESPACE = "CPDesk.Policies"
PREFIX = "cpdesk"
SUPPORTED = "SUPPORTED_cpdesk_0_1"
# The example profile sets the server; every other key keeps its built-in default.
EXAMPLE_OVERRIDES: dict[str, object] = {"server_url": "https://index.example.nhs.uk"}
# Stable identifiers, so that regenerating changes nothing and MDMs see one profile.
PROFILE_UUID = str(uuid.uuid5(uuid.NAMESPACE_DNS, "profile." + MACOS_DOMAIN)).upper()
PAYLOAD_UUID = str(uuid.uuid5(uuid.NAMESPACE_DNS, "payload." + MACOS_DOMAIN)).upper()

LAYERS = (
    # (policy name suffix, category, registry key under HKLM, what the layer means)
    ("", "cpdesk", WINDOWS_KEY, "Managed: the user cannot change it."),
    (
        "_recommended",
        "cpdesk_recommended",
        WINDOWS_KEY + "\\Recommended",
        "Recommended: the default; the user may change it in cpdesk's settings.",
    ),
)


def example_values() -> dict[str, object]:
    """The example policy: each setting at its default, the server address filled in."""
    out: dict[str, object] = {}
    for s in SETTINGS:
        value = EXAMPLE_OVERRIDES.get(s.key, s.default)
        out[s.key] = list(value) if isinstance(value, tuple) else value  # type: ignore[arg-type]
    return out


def _explain(s: Setting, layer_text: str) -> str:
    lines = [s.description, "", layer_text, f"Registry value: {s.key}."]
    if s.minimum is not None or s.maximum is not None:
        lines.append(f"Allowed: {s.minimum} to {s.maximum}.")
    if s.json_type == "boolean":
        lines.append(f"Not configured: {'on' if s.default else 'off'}.")
    elif s.json_type == "array":
        lines.append("One entry per line; not configured: none.")
    else:
        lines.append(f"Not configured: {s.default!r}.")
    if s.scope.value == "admin":
        lines.append("Only policy may set this; a user's own settings file cannot.")
    return "\n".join(lines)


def _admx_policy(s: Setting, suffix: str, category: str, key: str) -> str:
    name = s.key + suffix
    head = (
        f'    <policy name="{name}" class="Machine" displayName="$(string.{s.key})"\n'
        f'            explainText="$(string.{name}_Explain)" key="{key}"'
    )
    parent = f'      <parentCategory ref="{category}"/>\n      <supportedOn ref="{SUPPORTED}"/>\n'
    if s.json_type == "boolean":
        return (
            f'{head} valueName="{s.key}">\n{parent}'
            '      <enabledValue><decimal value="1"/></enabledValue>\n'
            '      <disabledValue><decimal value="0"/></disabledValue>\n'
            "    </policy>\n"
        )
    if s.json_type == "integer":
        element = (
            f'<decimal id="{s.key}" valueName="{s.key}" required="true" '
            f'minValue="{s.minimum if s.minimum is not None else 0}" '
            f'maxValue="{s.maximum if s.maximum is not None else 2147483647}"/>'
        )
    elif s.json_type == "string":
        element = f'<text id="{s.key}" valueName="{s.key}" maxLength="2048"/>'
    else:  # array: a subkey of REG_SZ values named 1, 2, 3..., as policy.py reads it
        element = f'<list id="{s.key}" key="{key}\\{s.key}" valuePrefix=""/>'
    return (
        f'{head} presentation="$(presentation.{name})">\n{parent}'
        f"      <elements>\n        {element}\n      </elements>\n    </policy>\n"
    )


def render_admx() -> str:
    policies = "".join(
        _admx_policy(s, suffix, category, key)
        for suffix, category, key, _ in LAYERS
        for s in SETTINGS
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<!-- Generated from cpdesk/policy.py by scripts/gen_policy_templates.py: do not edit -->
<policyDefinitions xmlns:xsd="http://www.w3.org/2001/XMLSchema"
                   xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
                   revision="1.0" schemaVersion="1.0" xmlns="{ADMX_NS}">
  <policyNamespaces>
    <target prefix="{PREFIX}" namespace="{NAMESPACE}"/>
    <using prefix="windows" namespace="Microsoft.Policies.Windows"/>
  </policyNamespaces>
  <resources minRequiredRevision="1.0"/>
  <supportedOn>
    <definitions>
      <definition name="{SUPPORTED}" displayName="$(string.{SUPPORTED})"/>
    </definitions>
  </supportedOn>
  <categories>
    <category name="cpdesk" displayName="$(string.cpdesk)"/>
    <category name="cpdesk_recommended" displayName="$(string.cpdesk_recommended)">
      <parentCategory ref="cpdesk"/>
    </category>
  </categories>
  <policies>
{policies}  </policies>
</policyDefinitions>
"""


def _presentation(s: Setting, name: str) -> str:
    label = escape(s.title)
    if s.json_type == "integer":
        control = (
            f'<decimalTextBox refId="{s.key}" defaultValue="{s.default}">{label}</decimalTextBox>'
        )
    elif s.json_type == "string":
        control = f'<textBox refId="{s.key}"><label>{label}</label></textBox>'
    else:
        control = f'<listBox refId="{s.key}">{label}</listBox>'
    return f'      <presentation id="{name}">\n        {control}\n      </presentation>\n'


def render_adml() -> str:
    strings = [
        ("cpdesk", "cpdesk"),
        ("cpdesk_recommended", "cpdesk: recommended (user may change)"),
        (SUPPORTED, f"cpdesk {__version__} and later"),
    ]
    strings += [(s.key, s.title) for s in SETTINGS]
    strings += [
        (s.key + suffix + "_Explain", _explain(s, text))
        for suffix, _, _, text in LAYERS
        for s in SETTINGS
    ]
    table = "".join(f'      <string id="{i}">{escape(text)}</string>\n' for i, text in strings)
    presentations = "".join(
        _presentation(s, s.key + suffix)
        for suffix, _, _, _ in LAYERS
        for s in SETTINGS
        if s.json_type != "boolean"
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<!-- Generated from cpdesk/policy.py by scripts/gen_policy_templates.py: do not edit -->
<policyDefinitionResources xmlns:xsd="http://www.w3.org/2001/XMLSchema"
                           xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
                           revision="1.0" schemaVersion="1.0" xmlns="{ADMX_NS}">
  <displayName>cpdesk</displayName>
  <description>{escape("Policy for cpdesk, the children's contact index client.")}</description>
  <resources>
    <stringTable>
{table}    </stringTable>
    <presentationTable>
{presentations}    </presentationTable>
  </resources>
</policyDefinitionResources>
"""


def render_mobileconfig() -> str:
    payload: dict[str, object] = {
        "PayloadType": MACOS_DOMAIN,
        "PayloadIdentifier": MACOS_DOMAIN + ".settings",
        "PayloadUUID": PAYLOAD_UUID,
        "PayloadVersion": 1,
        "PayloadDisplayName": "cpdesk settings",
        **example_values(),
    }
    profile = {
        "PayloadType": "Configuration",
        "PayloadIdentifier": MACOS_DOMAIN + ".profile",
        "PayloadUUID": PROFILE_UUID,
        "PayloadVersion": 1,
        "PayloadScope": "System",
        "PayloadDisplayName": "cpdesk (example)",
        "PayloadDescription": (
            "Example generated from cpdesk/policy.py. Every key here is managed (locked): "
            "delete the keys you do not want to fix before you deploy it."
        ),
        "PayloadContent": [payload],
    }
    return plistlib.dumps(profile, sort_keys=True).decode("utf-8")


def render_example_json() -> str:
    return json.dumps(example_values(), indent=2, ensure_ascii=False) + "\n"


def render_readme_example() -> str:
    body = "\n".join("#   " + line for line in render_example_json().rstrip().splitlines())
    return f"""# cpdesk policy folder. Generated by scripts/gen_policy_templates.py: do not edit.
#
# Nothing here is enforced: cpdesk reads only files ending in .json. To set policy,
# write one JSON object per file, e.g. 10-national.json and 20-site.json (read in name
# order; a later file wins), owned by root and not writable by users:
#
#   managed/      locked settings: the user cannot change them
#   recommended/  defaults the user may change
#
# Every setting, at its default (server_url filled in as an example); keep only the
# keys you mean to fix. Full list: docs/settings.md, schema: policy.schema.json.
#
{body}
"""


FILES = {
    "windows/cpdesk.admx": render_admx,
    "windows/en-US/cpdesk.adml": render_adml,
    "macos/org.cpdesk.client.mobileconfig": render_mobileconfig,
    "linux/example.json": render_example_json,
    "linux/README.example": render_readme_example,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a file is out of date")
    args = parser.parse_args(argv)
    outputs = ((OUT / name, render()) for name, render in FILES.items())
    return write_or_check(
        outputs, check=args.check, repo=REPO, command="scripts/gen_policy_templates.py"
    )


if __name__ == "__main__":
    sys.exit(main())
