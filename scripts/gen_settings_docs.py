"""Write docs/settings.md and cpdesk/policy.schema.json from the settings table in policy.py.

Both files are generated, never edited by hand: `--check` exits 1 when either is stale
(tests run it), so the docs, the schema and the code cannot drift apart.

    .venv/bin/python scripts/gen_settings_docs.py          # rewrite both
    .venv/bin/python scripts/gen_settings_docs.py --check  # fail if out of date
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cpdesk.policy import (  # noqa: E402
    DEFAULT_ROOT,
    MACOS_DOMAIN,
    SETTINGS,
    WINDOWS_KEY,
    Scope,
    Setting,
    policy_schema,
)
from scripts.generated_files import write_or_check  # noqa: E402

DOCS = REPO / "docs" / "settings.md"
SCHEMA = REPO / "cpdesk" / "policy.schema.json"


def render_schema() -> str:
    return json.dumps(policy_schema(), indent=2, ensure_ascii=False) + "\n"


def _default(s: Setting) -> str:
    if s.json_type == "boolean":
        return "on" if s.default else "off"
    if s.json_type == "array":
        items = [str(item) for item in s.default]  # type: ignore[attr-defined]
        return ", ".join(items) or "(none)"
    if s.default == "":
        return '""'
    return f"`{s.default}`"


def _bounds(s: Setting) -> str:
    if s.minimum is not None or s.maximum is not None:
        return f"{s.minimum}–{s.maximum}"
    return ""


def _registry_type(s: Setting) -> str:
    return {
        "boolean": "REG_DWORD 0/1",
        "integer": "REG_DWORD",
        "string": "REG_SZ",
        "array": "REG_MULTI_SZ, or a subkey of REG_SZ values 1, 2, 3…",
    }[s.json_type]


def render_markdown() -> str:
    rows = "\n".join(
        f"| `{s.key}` | {s.title} | {s.json_type} | {_default(s)} | {_bounds(s)} | "
        f"{'policy only' if s.scope is Scope.ADMIN else 'user or policy'} | {s.description} |"
        for s in SETTINGS
    )
    reg_rows = "\n".join(f"| `{s.key}` | {_registry_type(s)} |" for s in SETTINGS)
    return f"""<!-- Generated from cpdesk/policy.py by scripts/gen_settings_docs.py: do not edit -->
# cpdesk settings and admin policy

Every setting below can be fixed by IT. Values are layered, lowest first (a later
layer wins):

1. **built-in default** (the table below);
2. **recommended policy**: IT's default; the user may change it;
3. **recommended by the override folder** (see below);
4. **user settings**: the user's own file, and the environment variables
   `CPDESK_SERVER_URL`, `CPDESK_SPKI_PINS` (comma-separated) and `CPDESK_CA_BUNDLE`;
5. **override folder**: `managed/` of the folder named by `--policy-root` or
   `CPDESK_POLICY_ROOT`, for tests and for trying a policy before rollout; it is read
   *below* the system's managed policy, never instead of it;
6. **managed policy**: locked. The user cannot change it; the settings dialog shows it
   read-only as "set by your organisation".

A user settings file (or an override folder that is not root-owned and root-only) that
sets a *policy only* setting stops the app, as does any unknown key or invalid value
anywhere, and any system policy file or folder that someone other than root could write.
The app never starts with a silently weaker setting; the message names the key (or the
path) and the file. `cpdesk policy show [--json]` prints every value and where it came
from (see [deployment.md](deployment.md)).

The offline cache (`cache_enabled`, `cache_ttl_seconds`, `offline_sign_in`) keeps the
records a user opened, encrypted, for re-reading while the index cannot be reached; see
[deployment.md](deployment.md) for how it is keyed and erased.

## Settings

| key | shown as | type | default | range | who may set it | what it does |
| --- | --- | --- | --- | --- | --- | --- |
{rows}

`server_url` must be `https://…`, loopback included: cpdesk never sends a password
over plain HTTP (`make index` and `cpdesk demo` serve TLS). It is normalised once, when
policy is read: host in lower case and IDNA form (`bücher.example` becomes
`xn--bcher-kva.example`), a trailing dot and the default port 443 dropped; user names,
queries and fragments are refused. The client then talks to that one origin only, and
the pins hold for every spelling of it. Each `spki_pins` entry is a base64 SHA-256 of the
server key's SubjectPublicKeyInfo (44 characters ending in `=`).

## Where policy is read

### Linux (and other Unixes)

Every `*.json` file, in name order (a later file wins), in
`{DEFAULT_ROOT}/recommended/` and `{DEFAULT_ROOT}/managed/`. Each file is one JSON
object of settings and is validated against `cpdesk/policy.schema.json`:

```json
{{"server_url": "https://index.example.nhs.uk", "idle_lock_seconds": 60}}
```

Every file and every folder from it up to `/` must be owned by root and writable by
root only, and none may be a symbolic link; otherwise the app stops and names the path.
`CPDESK_POLICY_ROOT` (or `--policy-root`) names an override folder with the same
layout, read as a layer *below* `{DEFAULT_ROOT}`, never instead of it.

### Windows

`HKLM\\{WINDOWS_KEY}` (managed) and `HKLM\\{WINDOWS_KEY}\\Recommended` (recommended),
one registry value per setting, named as the key:

| key | registry value |
| --- | --- |
{reg_rows}

### macOS

Managed preferences for the domain `{MACOS_DOMAIN}` (a configuration profile from your
MDM), read from `/Library/Managed Preferences/{MACOS_DOMAIN}.plist` and then the per-user
`/Library/Managed Preferences/<user>/{MACOS_DOMAIN}.plist`, where `<user>` is the login
name from the user database (never `$USER`; a name with a path separator is refused).
All are managed (locked), and held to the same root-only rule as on Linux.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a file is out of date")
    args = parser.parse_args(argv)
    outputs = ((DOCS, render_markdown()), (SCHEMA, render_schema()))
    return write_or_check(
        outputs, check=args.check, repo=REPO, command="scripts/gen_settings_docs.py"
    )


if __name__ == "__main__":
    sys.exit(main())
