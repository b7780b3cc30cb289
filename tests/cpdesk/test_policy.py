"""Admin policy: the table, the generated schema, every source and every layer."""

from __future__ import annotations

import json
import logging
import plistlib
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

from cpdesk import policy as policy_mod
from cpdesk.errors import PolicyError
from cpdesk.policy import (
    SETTINGS,
    WINDOWS_KEY,
    Layer,
    Policy,
    load_policy,
    normalise_server_url,
    policy_schema,
    validate_value,
)
from tests.helpers.fakes import REG_DWORD, REG_EXPAND_SZ, REG_MULTI_SZ, REG_SZ, FakeRegistry

PIN_A = "A" * 43 + "="
PIN_B = "B" * 43 + "="
SCHEMA_FILE = Path(policy_mod.__file__).with_name("policy.schema.json")


def write(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o755)  # whatever the umask: world-writable policy is refused
    path.write_text(json.dumps(data), encoding="utf-8")
    path.chmod(0o644)
    return path


def load(root: Path, **kwargs: Any) -> Policy:
    """Policy with `root` as the system's policy folder (as /etc/cpdesk/policies is)."""
    kwargs.setdefault("environ", {})
    kwargs.setdefault("platform", "linux")
    return load_policy(system_root=root, **kwargs)


@pytest.fixture
def system(root_only_folder: Path) -> Path:
    """Every policy folder in this module is a system one: root-owned, root-only up to /."""
    return root_only_folder


# -- the table and the schema -------------------------------------------------------


def test_defaults_are_the_documented_ones() -> None:
    p = Policy()
    assert p.server_url == ""
    assert p.spki_pins == ()
    assert p.ca_bundle == ""
    assert p.idle_lock_seconds == 120
    assert p.lock_to_logout_seconds == 900
    assert p.lock_on_focus_loss is False
    assert p.lock_on_minimise is True
    assert p.lock_on_os_lock is True
    assert p.clipboard_clear_seconds == 30
    assert p.allow_pin_unlock is False
    assert p.cache_enabled is True
    assert p.cache_ttl_seconds == 28800
    assert p.screen_capture_protection is True


def test_table_covers_every_field_with_a_description() -> None:
    keys = [s.key for s in SETTINGS]
    assert keys == [f for f in Policy.__dataclass_fields__ if not f.startswith("_")]
    assert all(s.description and s.title for s in SETTINGS)
    idle = next(s for s in SETTINGS if s.key == "idle_lock_seconds")
    assert (idle.minimum, idle.maximum) == (15, 3600)


def test_committed_schema_is_current() -> None:
    """Regenerate with scripts/gen_settings_docs.py when this fails."""
    assert json.loads(SCHEMA_FILE.read_text(encoding="utf-8")) == policy_schema()


def test_schema_is_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(policy_schema())


CASES: list[tuple[dict[str, object], bool]] = [
    ({}, True),
    ({"idle_lock_seconds": 15}, True),
    ({"idle_lock_seconds": 3600}, True),
    ({"idle_lock_seconds": 14}, False),
    ({"idle_lock_seconds": 3601}, False),
    ({"idle_lock_seconds": "120"}, False),
    ({"idle_lock_seconds": 120.5}, False),
    ({"idle_lock_seconds": True}, False),
    ({"lock_on_minimise": 1}, False),
    ({"lock_on_minimise": False}, True),
    ({"server_url": "https://index.example.nhs.uk/fhir"}, True),
    ({"server_url": "http://127.0.0.1:8800"}, False),  # https only, loopback included
    ({"server_url": "https://127.0.0.1:8800"}, True),
    ({"server_url": "http://index.example.nhs.uk"}, False),
    ({"server_url": "https://index.example.nhs.uk\n"}, False),
    ({"server_url": 5}, False),
    ({"spki_pins": [PIN_A, PIN_B]}, True),
    ({"spki_pins": [PIN_A, PIN_A]}, False),
    ({"spki_pins": ["not-a-pin"]}, False),
    ({"spki_pins": PIN_A}, False),
    ({"spki_pins": [1]}, False),
    ({"spki_pins": [PIN_A + "\n"]}, False),
    ({"made_up_key": 1}, False),
]


@pytest.mark.parametrize(("doc", "ok"), CASES)
def test_python_validation_agrees_with_jsonschema(doc: dict[str, object], ok: bool) -> None:
    schema_ok = jsonschema.Draft202012Validator(policy_schema()).is_valid(doc)
    try:
        for key, value in doc.items():
            validate_value(key, value)
        python_ok = True
    except PolicyError:
        python_ok = False
    assert schema_ok is ok
    assert python_ok is ok


def test_validate_value_converts_lists_to_tuples() -> None:
    assert validate_value("spki_pins", [PIN_A]) == (PIN_A,)


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("idle_lock_seconds", 5, "between 15 and 3600"),
        ("lock_on_os_lock", "yes", "true or false"),
        ("server_url", "ftp://x", "expected form"),
        ("spki_pins", ["x"], "expected form"),
        ("nonsense", 1, "not a known setting"),
    ],
)
def test_error_names_key_problem_and_source(key: str, value: object, problem: str) -> None:
    with pytest.raises(PolicyError) as err:
        validate_value(key, value, "/etc/cpdesk/policies/managed/10.json")
    assert err.value.key == key
    assert problem in err.value.user_message
    assert "/etc/cpdesk/policies/managed/10.json" in err.value.user_message


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("https://bücher.example", "https://xn--bcher-kva.example"),
        ("https://BÜCHER.Example:443/", "https://xn--bcher-kva.example"),
        ("https://bücher.example.:8443/fhir/", "https://xn--bcher-kva.example:8443/fhir"),
        ("https://xn--bcher-kva.example", "https://xn--bcher-kva.example"),
        ("https://Index.Example.NHS.uk/FHIR", "https://index.example.nhs.uk/FHIR"),
        ("https://127.0.0.1:8800/", "https://127.0.0.1:8800"),
        ("https://[0:0::1]:443", "https://[::1]"),
    ],
)
def test_server_url_is_normalised_once_at_load(url: str, normal: str) -> None:
    assert normalise_server_url(url) == normal
    assert validate_value("server_url", url) == normal
    assert load_policy(system_root=None, environ={"CPDESK_SERVER_URL": url}).server_url == normal


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://127.0.0.1:8800", "https://"),
        ("http://index.example", "https://"),
        ("https://user:pw@index.example", "user name"),
        ("https://index.example/?a=1", "query"),
        ("https://index.example/#x", "fragment"),
        ("https://index.example:0", "port"),
        ("https://index.example:99999", "port"),
        ("https://[::zz]", "not a valid address"),
        ("https://[v1.fe]", "IPv6"),
        ("https://a..example", "host name"),
        ("https://-a.example", "host name"),
        ("https://xn--zz.example", "host name"),
        ("https://bad_name.example", "host name"),
        ("https://", "host name"),
    ],
)
def test_bad_server_url_names_the_key(url: str, problem: str) -> None:
    with pytest.raises(PolicyError) as err:
        normalise_server_url(url, "somewhere.json")
    assert err.value.key == "server_url"
    assert problem in err.value.user_message
    assert "somewhere.json" in err.value.user_message


# -- JSON files and layering ---------------------------------------------------------


def test_no_sources_gives_defaults(system: Path) -> None:
    p = load(system)
    assert p == Policy()
    assert p.layer("idle_lock_seconds") is Layer.DEFAULT
    assert p.source("idle_lock_seconds") == "built-in default"
    assert not p.is_locked("idle_lock_seconds")


def test_layers_in_order(system: Path) -> None:
    write(system / "recommended/10.json", {"idle_lock_seconds": 300, "lock_on_focus_loss": True})
    user = write(system / "user.json", {"idle_lock_seconds": 600, "clipboard_clear_seconds": 10})
    write(system / "managed/10.json", {"clipboard_clear_seconds": 20})
    p = load(system, user_settings=user)
    assert p.lock_on_focus_loss is True  # recommended, not overridden
    assert p.layer("lock_on_focus_loss") is Layer.RECOMMENDED
    assert p.idle_lock_seconds == 600  # the user may change a recommended value
    assert p.layer("idle_lock_seconds") is Layer.USER
    assert p.source("idle_lock_seconds") == f"your settings ({user})"
    assert p.clipboard_clear_seconds == 20  # managed beats the user
    assert p.is_locked("clipboard_clear_seconds")
    assert p.source("clipboard_clear_seconds").startswith("set by your organisation (")
    assert p.source("lock_on_focus_loss").startswith("recommended by your organisation")


def test_files_read_in_name_order(system: Path) -> None:
    write(system / "managed/20-site.json", {"idle_lock_seconds": 60})
    write(system / "managed/10-national.json", {"idle_lock_seconds": 30, "cache_enabled": False})
    (system / "managed/README.txt").write_text("not read", encoding="utf-8")
    p = load(system)
    assert p.idle_lock_seconds == 60
    assert p.cache_enabled is False
    assert p.source("idle_lock_seconds").endswith("20-site.json)")


def test_override_folder_from_environment(system: Path) -> None:
    write(system / "managed/a.json", {"idle_lock_seconds": 45})
    p = load_policy(environ={"CPDESK_POLICY_ROOT": str(system)}, platform="linux")
    assert p.idle_lock_seconds == 45


def test_default_root_on_linux(system: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(system / "managed/a.json", {"idle_lock_seconds": 46})
    monkeypatch.setattr(policy_mod, "DEFAULT_ROOT", system)
    assert load_policy(environ={}, platform="linux").idle_lock_seconds == 46


def test_real_environment_is_the_default(system: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(system / "managed/a.json", {"idle_lock_seconds": 47})
    monkeypatch.setenv("CPDESK_POLICY_ROOT", str(system))
    for var in ("CPDESK_SERVER_URL", "CPDESK_SPKI_PINS", "CPDESK_CA_BUNDLE"):
        monkeypatch.delenv(var, raising=False)
    assert load_policy(platform="linux").idle_lock_seconds == 47


def test_environment_is_a_user_layer(system: Path) -> None:
    env = {
        "CPDESK_SERVER_URL": "https://index.example.nhs.uk",
        "CPDESK_SPKI_PINS": f"{PIN_A}, {PIN_B},",
        "CPDESK_CA_BUNDLE": "/tmp/ca.pem",
    }
    p = load(system, environ=env)
    assert p.server_url == "https://index.example.nhs.uk"
    assert p.spki_pins == (PIN_A, PIN_B)
    assert p.ca_bundle == "/tmp/ca.pem"
    assert p.source("server_url") == "your settings (environment CPDESK_SERVER_URL)"
    write(system / "managed/a.json", {"server_url": "https://national.example.nhs.uk"})
    p = load(system, environ=env)
    assert p.server_url == "https://national.example.nhs.uk"  # managed still wins
    assert p.is_locked("server_url")


def test_bad_environment_value_names_the_key(system: Path) -> None:
    with pytest.raises(PolicyError) as err:
        load(system, environ={"CPDESK_SPKI_PINS": "nope"})
    assert err.value.key == "spki_pins"
    assert "CPDESK_SPKI_PINS" in err.value.user_message


def test_missing_user_settings_file_is_fine(system: Path) -> None:
    assert load(system, user_settings=system / "absent.json") == Policy()


def test_user_cannot_set_admin_only_keys(system: Path) -> None:
    user = write(system / "user.json", {"screen_capture_protection": False})
    with pytest.raises(PolicyError) as err:
        load(system, user_settings=user)
    assert err.value.key == "screen_capture_protection"
    assert "organisation" in err.value.user_message


def test_recommended_may_set_admin_only_keys(system: Path) -> None:
    write(system / "recommended/a.json", {"screen_capture_protection": False})
    p = load(system)
    assert p.screen_capture_protection is False
    assert not p.is_locked("screen_capture_protection")


@pytest.mark.parametrize(
    ("doc", "key"),
    [
        ({"idle_lock_seconds": 5}, "idle_lock_seconds"),
        ({"idle_lock_secs": 60}, "idle_lock_secs"),
        ({"lock_on_os_lock": "false"}, "lock_on_os_lock"),
    ],
)
def test_invalid_managed_value_stops_the_app(
    system: Path, doc: dict[str, object], key: str
) -> None:
    path = write(system / "managed/10.json", doc)
    with pytest.raises(PolicyError) as err:
        load(system)
    assert err.value.key == key
    assert key in err.value.user_message
    assert str(path) in err.value.user_message


def test_invalid_recommended_value_also_stops_the_app(system: Path) -> None:
    write(system / "recommended/10.json", {"clipboard_clear_seconds": 0})
    with pytest.raises(PolicyError, match="clipboard_clear_seconds"):
        load(system)


@pytest.mark.parametrize(
    ("content", "problem"), [("{not json", "as JSON"), ("[1, 2]", "JSON object"), (b"\xff", "JSON")]
)
def test_unreadable_file_stops_the_app(system: Path, content: str | bytes, problem: str) -> None:
    path = system / "managed/10.json"
    path.parent.mkdir()
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(PolicyError) as err:
        load(system)
    assert problem in err.value.user_message
    assert str(path) in err.value.user_message


def test_renamed_key_still_works(system: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(policy_mod.RENAMED, "idle_seconds", "idle_lock_seconds")
    write(system / "managed/10.json", {"idle_seconds": 30})
    p = load(system)
    assert p.idle_lock_seconds == 30


def test_unknown_key_in_queries_is_a_bug() -> None:
    with pytest.raises(KeyError):
        Policy().is_locked("nonsense")
    with pytest.raises(KeyError):
        Policy().source("nonsense")


def test_loading_logs_sources_not_values(system: Path, caplog: pytest.LogCaptureFixture) -> None:
    write(system / "managed/10.json", {"server_url": "https://secret-host.example"})
    with caplog.at_level(logging.INFO, logger="cpdesk.policy"):
        load(system)
    assert "server_url" in caplog.text
    assert "secret-host" not in caplog.text


# -- Windows registry ---------------------------------------------------------------


def registry() -> FakeRegistry:
    reg = FakeRegistry()
    reg.set(WINDOWS_KEY, "idle_lock_seconds", 60, REG_DWORD)
    reg.set(WINDOWS_KEY, "lock_on_focus_loss", 1, REG_DWORD)
    reg.set(WINDOWS_KEY, "server_url", "https://index.example.nhs.uk", REG_SZ)
    reg.set(WINDOWS_KEY + "\\Recommended", "clipboard_clear_seconds", 15, REG_DWORD)
    reg.set(WINDOWS_KEY + "\\Recommended", "screen_capture_protection", 0, REG_DWORD)
    return reg


def test_windows_registry_managed_and_recommended() -> None:
    reg = registry()
    p = load_policy(platform="win32", environ={}, registry=reg)
    assert p.idle_lock_seconds == 60
    assert p.lock_on_focus_loss is True
    assert p.server_url == "https://index.example.nhs.uk"
    assert p.is_locked("server_url")
    assert p.source("server_url") == f"set by your organisation (HKLM\\{WINDOWS_KEY})"
    assert p.clipboard_clear_seconds == 15
    assert p.screen_capture_protection is False
    assert p.layer("screen_capture_protection") is Layer.RECOMMENDED
    assert reg.open_handles == 0  # every key closed


def test_windows_without_policy_key_gives_defaults() -> None:
    assert load_policy(platform="win32", environ={}, registry=FakeRegistry()) == Policy()


def test_windows_lists_as_multi_sz_or_subkey() -> None:
    reg = FakeRegistry()
    reg.set(WINDOWS_KEY, "spki_pins", [PIN_A, PIN_B], REG_MULTI_SZ)
    assert load_policy(platform="win32", environ={}, registry=reg).spki_pins == (PIN_A, PIN_B)
    reg = FakeRegistry()
    reg.set(WINDOWS_KEY + "\\spki_pins", "2", PIN_B, REG_SZ)
    reg.set(WINDOWS_KEY + "\\spki_pins", "1", PIN_A, REG_SZ)
    reg.set(WINDOWS_KEY + "\\spki_pins", "10", PIN_A[:-2] + "Z=", REG_SZ)
    assert load_policy(platform="win32", environ={}, registry=reg).spki_pins == (
        PIN_A,
        PIN_B,
        PIN_A[:-2] + "Z=",
    )
    assert reg.open_handles == 0


def test_windows_expand_sz_string() -> None:
    reg = FakeRegistry()
    reg.set(WINDOWS_KEY, "ca_bundle", r"C:\ca.pem", REG_EXPAND_SZ)
    assert load_policy(platform="win32", environ={}, registry=reg).ca_bundle == r"C:\ca.pem"


@pytest.mark.parametrize(
    ("name", "data", "kind", "problem"),
    [
        ("lock_on_minimise", 2, REG_DWORD, "0 or 1"),
        ("idle_lock_seconds", "60", REG_SZ, "registry value type"),
        ("idle_lock_seconds", 5, REG_DWORD, "between"),
        ("mystery", 1, REG_DWORD, "not a known setting"),
    ],
)
def test_windows_bad_values_name_the_key(name: str, data: object, kind: int, problem: str) -> None:
    reg = FakeRegistry()
    reg.set(WINDOWS_KEY, name, data, kind)
    with pytest.raises(PolicyError) as err:
        load_policy(platform="win32", environ={}, registry=reg)
    assert err.value.key == name
    assert problem in err.value.user_message
    assert reg.open_handles == 0


@pytest.mark.parametrize("sub", ["mystery", "idle_lock_seconds"])
def test_windows_unexpected_subkey_names_it(sub: str) -> None:
    reg = FakeRegistry()
    reg.add_key(WINDOWS_KEY + "\\" + sub)
    with pytest.raises(PolicyError) as err:
        load_policy(platform="win32", environ={}, registry=reg)
    assert err.value.key == sub


def test_windows_json_root_only_when_named(system: Path) -> None:
    write(system / "managed/a.json", {"idle_lock_seconds": 20})
    reg = FakeRegistry()
    reg.set(WINDOWS_KEY, "idle_lock_seconds", 40, REG_DWORD)
    assert load_policy(system, platform="win32", environ={}, registry=reg).idle_lock_seconds == 40
    reg = FakeRegistry()
    assert load_policy(system, platform="win32", environ={}, registry=reg).idle_lock_seconds == 20


def test_windows_uses_real_winreg_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    reg = registry()
    monkeypatch.setattr("cpdesk.policy.importlib.import_module", lambda name: reg)
    assert load_policy(platform="win32", environ={}).idle_lock_seconds == 60


# -- macOS managed preferences ---------------------------------------------------------


def plist(path: Path, data: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(plistlib.dumps(data))


def test_macos_managed_preferences(system: Path) -> None:
    plist(system / "org.cpdesk.client.plist", {"idle_lock_seconds": 90, "cache_enabled": False})
    plist(system / "sam/org.cpdesk.client.plist", {"idle_lock_seconds": 30, "spki_pins": [PIN_A]})
    p = load_policy(
        platform="darwin", environ={}, managed_preferences=system, login_name=lambda: "sam"
    )
    assert p.idle_lock_seconds == 30  # per-user managed preference wins
    assert p.cache_enabled is False
    assert p.spki_pins == (PIN_A,)
    assert p.is_locked("cache_enabled")
    other = load_policy(
        platform="darwin", environ={}, managed_preferences=system, login_name=lambda: "jo"
    )
    assert other.idle_lock_seconds == 90


def test_macos_default_folder(system: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plist(system / "org.cpdesk.client.plist", {"idle_lock_seconds": 91})
    monkeypatch.setattr(policy_mod, "MACOS_MANAGED_DIR", system)
    assert load_policy(platform="darwin", environ={}).idle_lock_seconds == 91


def test_macos_no_preferences(system: Path) -> None:
    assert load_policy(platform="darwin", environ={}, managed_preferences=system) == Policy()


@pytest.mark.parametrize(
    ("content", "problem"), [(b"garbage", "cannot be read"), (None, "dictionary")]
)
def test_macos_bad_plist(system: Path, content: bytes | None, problem: str) -> None:
    path = system / "org.cpdesk.client.plist"
    path.write_bytes(content if content is not None else plistlib.dumps([1, 2]))
    with pytest.raises(PolicyError) as err:
        load_policy(platform="darwin", environ={}, managed_preferences=system)
    assert problem in err.value.user_message
    assert str(path) in err.value.user_message


def test_macos_bad_value_names_the_key(system: Path) -> None:
    plist(system / "org.cpdesk.client.plist", {"lock_on_os_lock": 0})
    with pytest.raises(PolicyError) as err:
        load_policy(platform="darwin", environ={}, managed_preferences=system)
    assert err.value.key == "lock_on_os_lock"
