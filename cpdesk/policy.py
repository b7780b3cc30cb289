"""Settings declared once, layered like browser policy: defaults < recommended < user < managed.

Every setting is one field of `Policy` below: its name, type and default, plus bounds,
scope and a one-line description in the field's metadata. From that single declaration
come the JSON Schema (`policy.schema.json`, generated and checked by
`scripts/gen_settings_docs.py`), the validation at start-up, `docs/settings.md`, and
typed attributes that mypy checks (`policy.idle_lock_seconds`, never a string lookup).

Validation interprets that schema in plain Python (`validate_value`), so the desktop
bundle needs no `jsonschema`; a test runs the real `jsonschema` over the same documents
to prove the two agree. An invalid or unknown value raises `PolicyError` naming the key:
the app refuses to start rather than run with a silently weaker setting.

Sources, lowest first within each layer (a later source wins):
- JSON files `*.json` in name order under `<root>/recommended/` and `<root>/managed/`;
  root is the `root` argument, else `CPDESK_POLICY_ROOT`, else `/etc/cpdesk/policies`
  (read by default on Linux and other Unixes; on Windows and macOS only when named).
- Windows: `HKLM\\SOFTWARE\\Policies\\CPDesk` (managed) and its `Recommended` subkey.
- macOS: managed preferences `org.cpdesk.client.plist` (machine-wide, then per-user).
- User layer: the user settings JSON file, then `CPDESK_SERVER_URL`, `CPDESK_SPKI_PINS`
  (comma-separated) and `CPDESK_CA_BUNDLE` from the environment.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import logging
import os
import re
import stat
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from cpdesk.errors import PolicyError

__all__ = [
    "DEFAULT_ROOT",
    "MACOS_DOMAIN",
    "RENAMED",
    "SETTINGS",
    "WINDOWS_KEY",
    "Layer",
    "Policy",
    "Scope",
    "Setting",
    "load_policy",
    "policy_schema",
    "validate_value",
]

log = logging.getLogger(__name__)

DEFAULT_ROOT = Path("/etc/cpdesk/policies")
WINDOWS_KEY = r"SOFTWARE\Policies\CPDesk"
MACOS_DOMAIN = "org.cpdesk.client"
MACOS_MANAGED_DIR = Path("/Library/Managed Preferences")
WHOLE_FILE = "(whole file)"

# Keys that were renamed: old name -> new name. Old names keep working, with a warning.
RENAMED: dict[str, str] = {}

T = TypeVar("T")


class Scope(enum.Enum):
    """Who may set a value. IT can lock any setting by managed policy."""

    USER = "user"  # the user may change it unless managed policy locks it
    ADMIN = "admin"  # only policy (recommended or managed) may set it


class Layer(enum.IntEnum):
    """Where a value came from; higher wins."""

    DEFAULT = 0
    RECOMMENDED = 1
    USER = 2
    MANAGED = 3


# `(?!.*\n)` because a bare `$` also matches before a final newline (Python and jsonschema).
_PIN = r"^(?!.*\n)[A-Za-z0-9+/]{43}=$"
_URL = r"^(?!.*\n)(|https://[^\s/?#]+(/\S*)?|http://(127\.0\.0\.1|localhost|\[::1\])(:[0-9]+)?(/\S*)?)$"


def _setting(
    default: T,
    description: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    pattern: str | None = None,
    scope: Scope = Scope.USER,
    title: str = "",
) -> T:
    meta = {
        "title": title,
        "description": description,
        "minimum": minimum,
        "maximum": maximum,
        "pattern": pattern,
        "scope": scope,
    }
    result: T = field(default=default, metadata=meta)
    return result


@dataclass(frozen=True)
class Policy:
    """The effective settings, one typed attribute per key. Build it with `load_policy`."""

    server_url: str = _setting(
        "",
        "Address of the index server (https; plain http only on loopback).",
        pattern=_URL,
        title="Index server address",
    )
    spki_pins: tuple[str, ...] = _setting(
        (),
        "Base64 SHA-256 pins of the server's public key; empty means no pinning.",
        pattern=_PIN,
        title="Pinned server keys",
    )
    ca_bundle: str = _setting(
        "",
        "PEM file of the certificate authorities to trust; empty means the system store.",
        title="Trusted certificate authorities",
    )
    idle_lock_seconds: int = _setting(
        120,
        "Lock after this many seconds without keyboard or mouse input.",
        minimum=15,
        maximum=3600,
        title="Lock after no input (seconds)",
    )
    lock_to_logout_seconds: int = _setting(
        900,
        "Sign out after the app has been locked this long.",
        minimum=60,
        maximum=86400,
        title="Sign out after locked (seconds)",
    )
    lock_on_focus_loss: bool = _setting(
        False, "Lock when the window loses focus.", title="Lock when the window loses focus"
    )
    lock_on_minimise: bool = _setting(
        True, "Lock when the window is minimised.", title="Lock when minimised"
    )
    lock_on_os_lock: bool = _setting(
        True,
        "Lock when the screen locks, on suspend or user switch.",
        title="Lock with the computer's screen lock",
    )
    clipboard_clear_seconds: int = _setting(
        30,
        "Clear a copied phone number or email after this many seconds.",
        minimum=5,
        maximum=600,
        title="Clear copied details after (seconds)",
    )
    allow_pin_unlock: bool = _setting(
        False,
        "Offer a PIN after sign-in to unlock instead of the password (checked on the "
        "device; only its hash is kept, in memory, until sign-out).",
        scope=Scope.ADMIN,
        title="Unlock with a PIN",
    )
    cache_enabled: bool = _setting(
        True,
        "Keep records opened today in the encrypted cache.",
        title="Keep today's records offline",
    )
    cache_ttl_seconds: int = _setting(
        28800,
        "How long a cached record stays readable.",
        minimum=60,
        maximum=86400,
        scope=Scope.ADMIN,
        title="Keep cached records for (seconds)",
    )
    offline_sign_in: bool = _setting(
        False,
        "When the index cannot be reached at start, let a user sign in with username and "
        "password only, to re-read the records they opened today (the one-time code cannot "
        "be checked offline; for laptops, not shared terminals).",
        scope=Scope.ADMIN,
        title="Sign in offline to today's records",
    )
    screen_capture_protection: bool = _setting(
        True,
        "Hide the window from screenshots and screen sharing (Windows, macOS).",
        scope=Scope.ADMIN,
        title="Block screenshots and screen sharing",
    )
    _sources: Mapping[str, tuple[Layer, str]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def layer(self, key: str) -> Layer:
        """The layer the effective value of `key` came from."""
        _check_key(key)
        return self._sources.get(key, (Layer.DEFAULT, ""))[0]

    def is_locked(self, key: str) -> bool:
        """True when managed policy set `key`: the user cannot change it."""
        return self.layer(key) is Layer.MANAGED

    def source(self, key: str) -> str:
        """Where the value of `key` came from, for the settings dialog and the log."""
        _check_key(key)
        layer, where = self._sources.get(key, (Layer.DEFAULT, ""))
        label = {
            Layer.DEFAULT: "built-in default",
            Layer.RECOMMENDED: "recommended by your organisation",
            Layer.USER: "your settings",
            Layer.MANAGED: "set by your organisation",
        }[layer]
        return f"{label} ({where})" if where else label


@dataclass(frozen=True)
class Setting:
    """One row of the settings table, read from a `Policy` field."""

    key: str
    title: str  # a short label for the settings dialog
    json_type: str  # "string", "integer", "boolean" or "array" (of strings)
    default: object
    description: str
    scope: Scope
    minimum: int | None = None
    maximum: int | None = None
    pattern: str | None = None


_JSON_TYPES = {"str": "string", "int": "integer", "bool": "boolean", "tuple[str, ...]": "array"}


def _table() -> tuple[Setting, ...]:
    rows = []
    for f in dataclasses.fields(Policy):
        if f.name.startswith("_"):
            continue
        m = f.metadata
        rows.append(
            Setting(
                key=f.name,
                title=m["title"],
                json_type=_JSON_TYPES[str(f.type)],
                default=f.default,
                description=m["description"],
                scope=m["scope"],
                minimum=m["minimum"],
                maximum=m["maximum"],
                pattern=m["pattern"],
            )
        )
    return tuple(rows)


SETTINGS: tuple[Setting, ...] = _table()
_BY_KEY = {s.key: s for s in SETTINGS}


def _check_key(key: str) -> None:
    if key not in _BY_KEY:
        raise KeyError(key)


def _property_schema(s: Setting) -> dict[str, Any]:
    prop: dict[str, Any] = {
        "title": s.title,
        "description": s.description,
        "type": s.json_type,
    }
    if s.json_type == "array":
        prop["items"] = {"type": "string"}
        if s.pattern:
            prop["items"]["pattern"] = s.pattern
        prop["uniqueItems"] = True
        prop["default"] = list(s.default)  # type: ignore[call-overload]
    else:
        if s.pattern:
            prop["pattern"] = s.pattern
        prop["default"] = s.default
    if s.minimum is not None:
        prop["minimum"] = s.minimum
    if s.maximum is not None:
        prop["maximum"] = s.maximum
    prop["x-scope"] = s.scope.value
    return prop


def policy_schema() -> dict[str, Any]:
    """The JSON Schema of one policy file, generated from the table (never edited by hand)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://cpdesk.invalid/policy.schema.json",
        "title": "cpdesk policy",
        "description": "Settings for cpdesk; generated from cpdesk/policy.py.",
        "type": "object",
        "additionalProperties": False,
        "properties": {s.key: _property_schema(s) for s in SETTINGS},
    }


_SCHEMA = policy_schema()


def validate_value(key: str, value: object, source: str = "") -> object:
    """Check one value against the schema; return it in `Policy`'s Python type.

    Raises PolicyError naming the key for an unknown key or a value the schema rejects.
    """
    prop = _SCHEMA["properties"].get(key)
    if prop is None:
        raise PolicyError(key, "not a known setting", source)

    def fail(problem: str) -> PolicyError:
        return PolicyError(key, problem, source)

    kind = prop["type"]
    if kind == "boolean":
        if not isinstance(value, bool):
            raise fail("must be true or false")
        return value
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail("must be a whole number")
        if value < prop.get("minimum", value) or value > prop.get("maximum", value):
            raise fail(f"must be between {prop['minimum']} and {prop['maximum']}")
        return value
    if kind == "string":
        if not isinstance(value, str):
            raise fail("must be text")
        if "pattern" in prop and not re.search(prop["pattern"], value):
            raise fail("is not in the expected form")
        return value
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise fail("must be a list of text values")
    item_pattern = prop["items"].get("pattern")
    if item_pattern and not all(re.search(item_pattern, item) for item in value):
        raise fail("has an entry not in the expected form")
    if len(set(value)) != len(value):
        raise fail("lists the same entry twice")
    return tuple(value)


# -- sources ------------------------------------------------------------------------

Values = dict[str, object]


def _checked(raw: Mapping[str, object], source: str, layer: Layer) -> Values:
    out: Values = {}
    for key, value in raw.items():
        if key in RENAMED:
            log.warning("policy setting %s was renamed to %s (%s)", key, RENAMED[key], source)
            key = RENAMED[key]
        out[key] = validate_value(key, value, source)
        if layer is Layer.USER and _BY_KEY[key].scope is Scope.ADMIN:
            raise PolicyError(key, "can only be set by your organisation's policy", source)
    return out


def _read_json(path: Path) -> Mapping[str, object]:
    import json  # only when there is a file: the sign-in window waits for this module

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise PolicyError(WHOLE_FILE, f"cannot be read as JSON ({exc})", str(path)) from None
    if not isinstance(data, dict):
        raise PolicyError(WHOLE_FILE, "must be a JSON object of settings", str(path))
    return data


def _json_dir(folder: Path) -> Iterator[tuple[str, Mapping[str, object]]]:
    """Policy files in name order. Anyone could weaken a world-writable one: refuse it."""
    if folder.is_dir():
        _refuse_world_writable(folder)
        for path in sorted(folder.glob("*.json")):
            _refuse_world_writable(path)
            yield str(path), _read_json(path)


def _refuse_world_writable(path: Path) -> None:
    if os.name == "posix" and path.stat().st_mode & stat.S_IWOTH:
        raise PolicyError(WHOLE_FILE, "is writable by every user; make it root-owned", str(path))


class Registry(Protocol):
    """The part of `winreg` we use (a fake stands in for it in tests)."""

    HKEY_LOCAL_MACHINE: int
    REG_DWORD: int
    REG_SZ: int
    REG_EXPAND_SZ: int
    REG_MULTI_SZ: int

    def OpenKey(self, key: Any, sub_key: str) -> Any: ...
    def EnumValue(self, key: Any, index: int) -> tuple[str, Any, int]: ...
    def EnumKey(self, key: Any, index: int) -> str: ...
    def CloseKey(self, key: Any) -> None: ...


def _registry_values(reg: Registry, path: str) -> Mapping[str, object] | None:
    """Values under HKLM\\path, converted to JSON-like types by each key's declared type."""
    try:
        handle = reg.OpenKey(reg.HKEY_LOCAL_MACHINE, path)
    except OSError:
        return None
    source = "HKLM\\" + path
    try:
        out: dict[str, object] = {}
        for name, data, kind in _enum(lambda i: reg.EnumValue(handle, i)):
            out[name] = _from_registry(reg, name, data, kind, source)
        for sub in _enum(lambda i: reg.EnumKey(handle, i)):
            if sub == "Recommended":
                continue  # its own layer, read separately
            setting = _BY_KEY.get(sub)
            if setting is None or setting.json_type != "array":
                raise PolicyError(sub, "is a registry key but must be a value", source)
            # Chrome-style list: a subkey of string values named 1, 2, 3...
            items = _registry_values_raw(reg, path + "\\" + sub)
            out[sub] = [items[k] for k in sorted(items, key=_numeric)]
        return out
    finally:
        reg.CloseKey(handle)


def _registry_values_raw(reg: Registry, path: str) -> dict[str, object]:
    handle = reg.OpenKey(reg.HKEY_LOCAL_MACHINE, path)
    try:
        return {name: data for name, data, _ in _enum(lambda i: reg.EnumValue(handle, i))}
    finally:
        reg.CloseKey(handle)


def _numeric(name: str) -> tuple[int, str]:
    return (int(name), "") if name.isdigit() else (sys.maxsize, name)


def _enum(get: Any) -> Iterator[Any]:
    index = 0
    while True:
        try:
            item = get(index)
        except OSError:
            return
        yield item
        index += 1


def _from_registry(reg: Registry, name: str, data: object, kind: int, source: str) -> object:
    setting = _BY_KEY.get(name)
    if setting is None:
        return data  # validation names the unknown key
    if setting.json_type == "boolean" and kind == reg.REG_DWORD:
        if data not in (0, 1):
            raise PolicyError(name, "must be 0 or 1", source)
        return bool(data)
    if setting.json_type == "integer" and kind == reg.REG_DWORD:
        return data
    if setting.json_type == "string" and kind in (reg.REG_SZ, reg.REG_EXPAND_SZ):
        return data
    if setting.json_type == "array" and kind == reg.REG_MULTI_SZ:
        return data
    raise PolicyError(name, "has the wrong registry value type", source)


def _macos_files(managed_dir: Path, user: str) -> Iterator[tuple[str, Mapping[str, object]]]:
    for path in (
        managed_dir / f"{MACOS_DOMAIN}.plist",
        managed_dir / user / f"{MACOS_DOMAIN}.plist",
    ):
        if path.is_file():
            import plistlib  # macOS only

            try:
                data = plistlib.loads(path.read_bytes())
            except (OSError, ValueError) as exc:
                raise PolicyError(WHOLE_FILE, f"cannot be read ({exc})", str(path)) from None
            if not isinstance(data, dict):
                raise PolicyError(WHOLE_FILE, "must be a dictionary of settings", str(path))
            yield str(path), data


def _environment(environ: Mapping[str, str]) -> Iterator[tuple[str, Mapping[str, object]]]:
    for var, key in (
        ("CPDESK_SERVER_URL", "server_url"),
        ("CPDESK_CA_BUNDLE", "ca_bundle"),
        ("CPDESK_SPKI_PINS", "spki_pins"),
    ):
        if var in environ:
            raw = environ[var]
            value: object = raw
            if key == "spki_pins":
                value = [pin.strip() for pin in raw.split(",") if pin.strip()]
            yield f"environment {var}", {key: value}


def load_policy(
    root: Path | None = None,
    *,
    user_settings: Path | None = None,
    platform: str = sys.platform,
    environ: Mapping[str, str] | None = None,
    registry: Registry | None = None,
    managed_preferences: Path | None = None,
) -> Policy:
    """Read every source for this platform and return the effective, validated settings.

    Args:
        root: the policy folder; else CPDESK_POLICY_ROOT; else /etc/cpdesk/policies (which
            Windows and macOS read only when named, as they have native sources).
        registry: a `winreg`-like object (tests pass a fake); default the real one on Windows.
        managed_preferences: macOS managed preferences folder (tests pass a temp folder).
    """
    env = os.environ if environ is None else environ
    if root is None and env.get("CPDESK_POLICY_ROOT"):
        root = Path(env["CPDESK_POLICY_ROOT"])
    if root is None and platform not in ("win32", "darwin"):
        root = DEFAULT_ROOT

    layers: dict[Layer, list[tuple[str, Mapping[str, object]]]] = {
        Layer.RECOMMENDED: [],
        Layer.USER: [],
        Layer.MANAGED: [],
    }
    if root is not None:
        layers[Layer.RECOMMENDED] += _json_dir(root / "recommended")
        layers[Layer.MANAGED] += _json_dir(root / "managed")
    if platform == "win32":
        reg: Registry = registry or importlib.import_module("winreg")
        for layer, path in (
            (Layer.RECOMMENDED, WINDOWS_KEY + "\\Recommended"),
            (Layer.MANAGED, WINDOWS_KEY),
        ):
            found_values = _registry_values(reg, path)
            if found_values is not None:
                layers[layer].append(("HKLM\\" + path, found_values))
    if platform == "darwin":
        user = env.get("USER", "")
        layers[Layer.MANAGED] += _macos_files(managed_preferences or MACOS_MANAGED_DIR, user)
    if user_settings is not None and user_settings.is_file():
        layers[Layer.USER].append((str(user_settings), _read_json(user_settings)))
    layers[Layer.USER] += _environment(env)

    values: dict[str, object] = {}
    sources: dict[str, tuple[Layer, str]] = {}
    for layer, found in layers.items():
        for where, raw in found:
            for key, value in _checked(raw, where, layer).items():
                values[key] = value
                sources[key] = (layer, where)
    policy = Policy(**values, _sources=sources)  # type: ignore[arg-type]
    for key, (layer, where) in sorted(sources.items()):
        log.info("policy %s from %s (%s)", key, layer.name.lower(), where)
    return policy
