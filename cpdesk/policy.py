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

Layers, lowest first (a later source wins within a layer), as browsers have them: the
system's own sources are always read and always win; nothing a user can write replaces them.
1. DEFAULT: the declaration below.
2. RECOMMENDED: the system's `/etc/cpdesk/policies/recommended/*.json` (Linux and other
   Unixes) or `HKLM\\SOFTWARE\\Policies\\CPDesk\\Recommended` (Windows).
3. OVERRIDE_RECOMMENDED: `<override>/recommended/*.json`.
4. USER: the user settings JSON file, then `CPDESK_SERVER_URL`, `CPDESK_SPKI_PINS`
   (comma-separated) and `CPDESK_CA_BUNDLE` from the environment.
5. OVERRIDE_MANAGED: `<override>/managed/*.json`.
6. MANAGED: the system's `/etc/cpdesk/policies/managed/*.json`, `HKLM\\SOFTWARE\\Policies\\CPDesk`,
   or macOS managed preferences `org.cpdesk.client.plist` (machine-wide, then per-user).

The override folder (`--policy-root` / `CPDESK_POLICY_ROOT`: tests, trying a policy before
rollout) is an extra layer below the system's managed policy, never instead of it. It may
set a policy-only key only when it is as trusted as a managed source (below).

A system source is trusted only when it, and every folder above it up to `/`, is owned by
root and writable by nobody else (lstat: a symbolic link anywhere is refused); otherwise
loading stops with `UntrustedPolicySource` naming the path and why. Windows' HKLM policy
key is writable only by administrators (Windows' own ACL); no system policy file is read
there, and an override file never counts as trusted.

`server_url` is normalised once, here (`normalise_server_url`): the app's one rule for
the index address (https only, loopback included), and the one spelling pins bind to.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import ipaddress
import logging
import os
import re
import stat
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

from cpdesk.errors import PolicyError, UserFacingError

__all__ = [
    "DEFAULT_ROOT",
    "LAYER_LABELS",
    "MACOS_DOMAIN",
    "RENAMED",
    "SETTINGS",
    "WINDOWS_KEY",
    "Layer",
    "Policy",
    "Scope",
    "Setting",
    "SourcedValue",
    "UntrustedPolicySource",
    "load_policy",
    "normalise_server_url",
    "policy_schema",
    "untrusted_reason",
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
    """Where a value came from; higher wins (see the module docstring)."""

    DEFAULT = 0
    RECOMMENDED = 1
    OVERRIDE_RECOMMENDED = 2
    USER = 3
    OVERRIDE_MANAGED = 4
    MANAGED = 5


LAYER_LABELS: Mapping[Layer, str] = {
    Layer.DEFAULT: "built-in default",
    Layer.RECOMMENDED: "recommended by your organisation",
    Layer.OVERRIDE_RECOMMENDED: "recommended by the override folder",
    Layer.USER: "your settings",
    Layer.OVERRIDE_MANAGED: "override folder (below your organisation's policy)",
    Layer.MANAGED: "set by your organisation",
}


# `(?!.*\n)` because a bare `$` also matches before a final newline (Python and jsonschema).
_PIN = r"^(?!.*\n)[A-Za-z0-9+/]{43}=$"
# https only, loopback included (`make index` and `cpdesk demo` serve TLS): the pattern is
# the coarse check for schema readers; `normalise_server_url` is the rule the app applies.
_URL = r"^(?!.*\n)(|https://[^\s/?#]+(/\S*)?)$"


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
        "Address of the index server (https only).",
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
    _superseded: Mapping[str, tuple[SourcedValue, ...]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def layer(self, key: str) -> Layer:
        """The layer the effective value of `key` came from."""
        _check_key(key)
        return self._sources.get(key, (Layer.DEFAULT, ""))[0]

    def where(self, key: str) -> str:
        """The file, registry key or variable the effective value came from ("" = default)."""
        _check_key(key)
        return self._sources.get(key, (Layer.DEFAULT, ""))[1]

    def is_locked(self, key: str) -> bool:
        """True when the organisation's managed policy set `key`: nobody else can change it."""
        return self.layer(key) is Layer.MANAGED

    def source(self, key: str) -> str:
        """Where the value of `key` came from, for the settings dialog and the log."""
        label, where = LAYER_LABELS[self.layer(key)], self.where(key)
        return f"{label} ({where})" if where else label

    def superseded(self, key: str) -> tuple[SourcedValue, ...]:
        """Values of `key` that lower layers or earlier files set and a later one replaced."""
        _check_key(key)
        return self._superseded.get(key, ())


@dataclass(frozen=True)
class SourcedValue:
    """One value as one source set it (for `cpdesk policy show`)."""

    value: object
    layer: Layer
    where: str


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
        if key == "server_url" and value:
            return normalise_server_url(value, source)
        return value
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise fail("must be a list of text values")
    item_pattern = prop["items"].get("pattern")
    if item_pattern and not all(re.search(item_pattern, item) for item in value):
        raise fail("has an entry not in the expected form")
    if len(set(value)) != len(value):
        raise fail("lists the same entry twice")
    return tuple(value)


# -- the server address ----------------------------------------------------------------

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalise_server_url(url: str, source: str = "") -> str:
    """The one spelling of the index's address: https, IDNA A-label host, no default port.

    The rule for the whole app (policy, `cpdesk demo`, the index client): https only,
    loopback included. requests sends `https://bücher.example` as `xn--bcher-kva.example`;
    pins are bound to the origin in this spelling, so no other spelling can slip past
    them. Host: lower case, IDNA 2008 with UTS 46 mapping, one trailing dot dropped;
    port 443 dropped; path kept without a trailing slash; user info, query and fragment
    refused. Raises PolicyError naming `server_url`.
    """

    def fail(problem: str) -> PolicyError:
        return PolicyError("server_url", problem, source)

    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. a bracketed host that is no IPv6 address
        raise fail("it is not a valid address") from None
    if parts.scheme.lower() != "https":
        raise fail("it must be an https:// address")
    if "@" in parts.netloc or "?" in url or "#" in url:
        raise fail("it must not hold a user name, a query or a fragment")
    try:
        port = parts.port
    except ValueError:
        raise fail("its port must be a number from 1 to 65535") from None
    if port == 0:
        raise fail("its port must be a number from 1 to 65535")
    host = parts.hostname or ""
    if "[" in parts.netloc:
        try:
            host = "[" + ipaddress.IPv6Address(host).compressed + "]"
        except ValueError:
            raise fail("its IPv6 address is not valid") from None
    else:
        host = host[:-1] if host.endswith(".") else host
        try:
            host = _a_label_host(host)
        except ValueError:
            raise fail("its host name is not a valid domain name") from None
    netloc = host if port in (None, 443) else f"{host}:{port}"
    return f"https://{netloc}{parts.path.rstrip('/')}"


def _a_label_host(host: str) -> str:
    """The host as DNS and requests send it; ASCII names skip the (slow to import) idna."""
    if not host.isascii() or "xn--" in host:
        import idna  # only for international names: ~10 ms of tables

        try:
            # Decoding first proves any xn-- label is real punycode, then re-encode.
            host = idna.encode(idna.decode(host, uts46=True), uts46=True).decode("ascii")
        except idna.IDNAError:
            raise ValueError("not IDNA") from None
    labels = host.lower().split(".")
    if not all(_LABEL.match(label) for label in labels) or len(host) > 253:
        raise ValueError("not a host name")
    return ".".join(labels)


# -- trust in a source ------------------------------------------------------------------


class UntrustedPolicySource(PolicyError):
    """A policy file or folder someone other than root could have written: the app stops."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.key = WHOLE_FILE
        self.path = str(path)
        UserFacingError.__init__(
            self,
            f"Policy source {path} cannot be trusted: {problem}. Every policy file and every "
            "folder above it must be owned by root and writable by root only.",
        )


def untrusted_reason(path: Path) -> tuple[Path, str] | None:
    """Why `path` (or a folder above it, up to /) is not a trusted source; None if it is.

    lstat, never stat: a symbolic link anywhere is refused, as its target could move.
    Group- or world-writable, or owned by anyone but root: someone else could write it.
    """
    if os.name != "posix":
        return path, "only root-owned POSIX files are trusted as policy here"
    path = Path(os.path.abspath(path))
    for node in (path, *path.parents):
        try:
            info = os.lstat(node)
        except OSError as exc:
            return node, f"it cannot be examined ({exc.strerror})"
        if stat.S_ISLNK(info.st_mode):
            return node, "it is a symbolic link"
        if info.st_uid != 0:
            return node, f"it is owned by user id {info.st_uid}, not root"
        if info.st_mode & stat.S_IWOTH:
            return node, "it is writable by every user"
        if info.st_mode & stat.S_IWGRP:
            return node, "it is writable by its group"
    return None


def _require_trusted(path: Path) -> None:
    reason = untrusted_reason(path)
    if reason is not None:
        raise UntrustedPolicySource(*reason)


# -- sources ------------------------------------------------------------------------

Values = dict[str, object]
Found = tuple[str, Mapping[str, object], bool]  # where, raw values, may set policy-only keys


def _checked(raw: Mapping[str, object], source: str, admin_ok: bool, why_not: str) -> Values:
    out: Values = {}
    for key, value in raw.items():
        if key in RENAMED:
            log.warning("policy setting %s was renamed to %s (%s)", key, RENAMED[key], source)
            key = RENAMED[key]
        out[key] = validate_value(key, value, source)
        if not admin_ok and _BY_KEY[key].scope is Scope.ADMIN:
            raise PolicyError(
                key, f"can only be set by your organisation's policy{why_not}", source
            )
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


def _json_dir(folder: Path, *, system: bool) -> Iterator[Found]:
    """Policy files in name order.

    A system folder must be trusted, and so must each file (else the app stops). An
    override folder is read whoever owns it; its files may set policy-only keys only when
    they pass the same test.
    """
    if not os.path.lexists(folder):
        return
    if system:
        _require_trusted(folder)
    try:
        names = sorted(os.listdir(folder))
    except OSError as exc:  # e.g. a root-only 0700 folder: users must be able to read it
        raise PolicyError(WHOLE_FILE, f"cannot be read ({exc.strerror})", str(folder)) from None
    for name in names:
        if not name.endswith(".json"):
            continue
        path = folder / name
        if system:
            _require_trusted(path)
            yield str(path), _read_json(path), True
        else:
            yield str(path), _read_json(path), untrusted_reason(path) is None


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


def _login_name() -> str:
    """The user's login name from the password database, never from $USER (which anyone sets)."""
    import pwd  # POSIX only

    return pwd.getpwuid(os.getuid()).pw_name


def _macos_files(managed_dir: Path, user: str) -> Iterator[Found]:
    if not user or user in (".", "..") or "/" in user or "\\" in user or "\0" in user:
        raise UntrustedPolicySource(
            managed_dir / "<user>", "the login name is not a plain name (it holds a path part)"
        )
    for path in (
        managed_dir / f"{MACOS_DOMAIN}.plist",
        managed_dir / user / f"{MACOS_DOMAIN}.plist",
    ):
        if os.path.lexists(path):
            _require_trusted(path)
            import plistlib  # macOS only

            try:
                data = plistlib.loads(path.read_bytes())
            except (OSError, ValueError) as exc:
                raise PolicyError(WHOLE_FILE, f"cannot be read ({exc})", str(path)) from None
            if not isinstance(data, dict):
                raise PolicyError(WHOLE_FILE, "must be a dictionary of settings", str(path))
            yield str(path), data, True


def _environment(environ: Mapping[str, str]) -> Iterator[Found]:
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
            yield f"environment {var}", {key: value}, False


def load_policy(
    override: Path | None = None,
    *,
    user_settings: Path | None = None,
    platform: str = sys.platform,
    environ: Mapping[str, str] | None = None,
    registry: Registry | None = None,
    managed_preferences: Path | None = None,
    system_root: Path | None = None,
    login_name: Callable[[], str] | None = None,
) -> Policy:
    """Read every source for this platform and return the effective, validated settings.

    Args:
        override: an extra policy folder below the system's managed policy; else
            CPDESK_POLICY_ROOT; else none.
        system_root: the system's policy folder (tests pass a root-owned temp folder);
            default /etc/cpdesk/policies on Linux and other Unixes, none on Windows/macOS.
        registry: a `winreg`-like object (tests pass a fake); default the real one on Windows.
        managed_preferences: macOS managed preferences folder (tests pass a temp folder).
        login_name: returns the macOS login name; default from the password database.

    Raises:
        PolicyError naming the key (and the source) for any invalid value;
        UntrustedPolicySource naming the path for a system source others could write.
    """
    env = os.environ if environ is None else environ
    if override is None and env.get("CPDESK_POLICY_ROOT"):
        override = Path(env["CPDESK_POLICY_ROOT"])
    if system_root is None and platform not in ("win32", "darwin"):
        system_root = DEFAULT_ROOT

    layers: dict[Layer, list[Found]] = {layer: [] for layer in Layer if layer is not Layer.DEFAULT}
    if system_root is not None:
        layers[Layer.RECOMMENDED] += _json_dir(system_root / "recommended", system=True)
        layers[Layer.MANAGED] += _json_dir(system_root / "managed", system=True)
    if override is not None:
        layers[Layer.OVERRIDE_RECOMMENDED] += _json_dir(override / "recommended", system=False)
        layers[Layer.OVERRIDE_MANAGED] += _json_dir(override / "managed", system=False)
    if platform == "win32":
        reg: Registry = registry or importlib.import_module("winreg")
        for layer, path in (
            (Layer.RECOMMENDED, WINDOWS_KEY + "\\Recommended"),
            (Layer.MANAGED, WINDOWS_KEY),
        ):
            found_values = _registry_values(reg, path)
            if found_values is not None:
                layers[layer].append(("HKLM\\" + path, found_values, True))
    if platform == "darwin":
        user = (login_name or _login_name)()
        layers[Layer.MANAGED] += _macos_files(managed_preferences or MACOS_MANAGED_DIR, user)
    if user_settings is not None and user_settings.is_file():
        layers[Layer.USER].append((str(user_settings), _read_json(user_settings), False))
    layers[Layer.USER] += _environment(env)
    return _combine(layers)


_NOT_ROOT_ONLY = " (this override file, or a folder above it, is not root-only)"


def _combine(layers: Mapping[Layer, list[Found]]) -> Policy:
    values: dict[str, object] = {}
    sources: dict[str, tuple[Layer, str]] = {}
    superseded: dict[str, list[SourcedValue]] = {}
    for layer in sorted(layers):
        for where, raw, admin_ok in layers[layer]:
            why_not = "" if layer is Layer.USER else _NOT_ROOT_ONLY
            for key, value in _checked(raw, where, admin_ok, why_not).items():
                if key in values:
                    superseded.setdefault(key, []).append(SourcedValue(values[key], *sources[key]))
                values[key] = value
                sources[key] = (layer, where)
    policy = Policy(
        **values,  # type: ignore[arg-type]
        _sources=sources,
        _superseded={key: tuple(found) for key, found in superseded.items()},
    )
    for key, (layer, where) in sorted(sources.items()):
        log.info("policy %s from %s (%s)", key, layer.name.lower(), where)
    return policy
