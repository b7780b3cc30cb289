"""Server settings, each declared once: type, default, bounds, CLI flag, environment
variable and help.

`cpindex serve`'s options (`add_arguments`), the environment (`CPINDEX_*`), the settings
table in docs/index.md (scripts/gen_index_settings_docs.py) and the checks all come from
the `ServerSettings` fields below, as cpdesk/policy.py does for the client. A value out of
bounds is refused wherever it comes from (0 or less is never a limit): `SettingError`,
which the CLI turns into exit status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from cpindex.feeds.formats import DEFAULT_MAX_BYTES as FEED_MAX_BYTES
from cpindex.seed.demo import INDEX_TEAM_PHONE
from cpindex.text_rules import ascii_int, unsafe_character

__all__ = ["SETTINGS", "ServerSettings", "Setting", "SettingError", "add_arguments"]

T = TypeVar("T")
ENV_PREFIX = "CPINDEX_"


class SettingError(ValueError):
    """A setting's value is malformed or out of bounds (a usage error: exit status 2)."""


def _setting(
    default: T,
    help: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    group: str = "limits",
    metavar: str = "",
) -> T:
    meta = {"help": help, "minimum": minimum, "maximum": maximum, "group": group}
    meta["metavar"] = metavar
    result: T = field(default=default, metadata=meta)
    return result


@dataclass(frozen=True)
class ServerSettings:
    """Everything `cpindex serve` can be told; build it with `resolve` (CLI > env > default)."""

    idle_minutes: float = _setting(
        15.0, "End a session after this many minutes without a request.", minimum=0.01,
        maximum=1440,
    )  # fmt: skip
    absolute_hours: float = _setting(
        10.0, "End every session this many hours after sign-in.", minimum=0.01, maximum=24
    )
    search_limit: int = _setting(30, "Searches per user per minute.", minimum=1, maximum=10_000_000)
    view_limit: int = _setting(
        60, "Records opened per user per minute.", minimum=1, maximum=10_000_000
    )
    notice_limit: int = _setting(
        10, "Notices sent (or relayed) per user per minute.", minimum=1, maximum=10_000_000
    )
    declaration_limit: int = _setting(
        5,
        "Self-declared involvements made or ended per user per minute.",
        minimum=1,
        maximum=10_000_000,
    )
    lockout_failures: int = _setting(
        5, "Wrong sign-ins in a row that lock an account.", minimum=1, maximum=1_000_000
    )
    lockout_minutes: float = _setting(
        15.0, "How long a lock-out lasts, in minutes.", minimum=0.01, maximum=10_080
    )
    index_team_phone: str = _setting(
        INDEX_TEAM_PHONE,
        "The index team's phone number, shown for shielded children.",
        group="server",
    )
    host: str = _setting(
        "127.0.0.1",
        "Address to listen on; a non-loopback one needs TLS or --behind-proxy.",
        group="server",
        metavar="ADDR",
    )
    port: int = _setting(8800, "TCP port to listen on.", minimum=1, maximum=65535, group="server")
    tls_cert: str = _setting(
        "", "PEM certificate chain: serve HTTPS (with --tls-key).", group="server", metavar="FILE"
    )
    tls_key: str = _setting("", "PEM private key of --tls-cert.", group="server", metavar="FILE")
    behind_proxy: bool = _setting(
        False,
        "Plain HTTP on a non-loopback address is allowed: a TLS-terminating proxy is in front.",
        group="server",
    )
    trusted_proxy: tuple[str, ...] = _setting(
        (),
        "Address or network of a proxy whose X-Forwarded-For is believed (repeat the "
        "option; the variable takes a comma-separated list).",
        group="server",
        metavar="ADDR",
    )
    docs: bool = _setting(
        False, "Serve the interactive API page at /docs (/openapi.json is always served).",
        group="server",
    )  # fmt: skip
    workers: int = _setting(
        1,
        "Server processes sharing the port and the store (POSIX); each appends its audit rows "
        "in groups, one chain for all.",
        minimum=1,
        maximum=64,
        group="server",
    )
    max_header_bytes: int = _setting(
        8192,
        "Largest request line and header block, in bytes (more: 431).",
        minimum=1024,
        maximum=1_048_576,
        group="connections",
    )
    max_headers: int = _setting(
        50,
        "Most header fields in one request (more: 431).",
        minimum=1,
        maximum=1000,
        group="connections",
    )
    keep_alive_timeout: int = _setting(
        5,
        "Close a connection idle this many seconds (no request started).",
        minimum=1,
        maximum=600,
        group="connections",
    )
    read_timeout: int = _setting(
        10,
        "Close a connection whose request (header block and body) is not all in after this "
        "many seconds.",
        minimum=1,
        maximum=600,
        group="connections",
    )
    feed_max_bytes: int = _setting(
        FEED_MAX_BYTES,
        "Largest body of POST /$feed, in bytes (more: 413); every other request keeps its "
        "4 KiB limit. The read timeout still applies to the whole upload.",
        minimum=4096,
        maximum=1 << 30,
        group="connections",
    )
    max_connections: int = _setting(
        1000,
        "Most open connections per process; above it, requests get 503.",
        minimum=1,
        maximum=1_000_000,
        group="connections",
    )

    def __post_init__(self) -> None:
        for s in SETTINGS:
            _check(s, getattr(self, s.name), s.flag)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServerSettings:
        return resolve({}, os.environ if environ is None else environ)


@dataclass(frozen=True)
class Setting:
    """One row of the table, read from a `ServerSettings` field."""

    name: str
    kind: str  # "int", "float", "str", "bool" or "list" (of addresses)
    default: object
    help: str
    minimum: float | None
    maximum: float | None
    group: str
    metavar: str

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


_KINDS = {"int": "int", "float": "float", "str": "str", "bool": "bool"}
_KINDS["tuple[str, ...]"] = "list"


def _table() -> tuple[Setting, ...]:
    return tuple(
        Setting(
            name=f.name,
            kind=_KINDS[str(f.type)],
            default=f.default,
            help=f.metadata["help"],
            minimum=f.metadata["minimum"],
            maximum=f.metadata["maximum"],
            group=f.metadata["group"],
            metavar=f.metadata["metavar"] or ("N" if str(f.type) in ("int", "float") else "TEXT"),
        )
        for f in dataclasses.fields(ServerSettings)
    )


SETTINGS: tuple[Setting, ...] = _table()


def _check(s: Setting, value: object, source: str) -> None:
    if s.kind in ("int", "float"):
        assert isinstance(value, int | float)
        if s.minimum is not None and value < s.minimum:
            raise SettingError(f"{source} must be at least {s.minimum:g} (got {value:g})")
        if s.maximum is not None and value > s.maximum:
            raise SettingError(f"{source} must be at most {s.maximum:g} (got {value:g})")
    elif s.kind == "list":
        assert isinstance(value, tuple)
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise SettingError(f"{source}: {item[:60]!r} is not an address") from None
    elif s.kind == "str":
        assert isinstance(value, str)
        if unsafe_character(value):
            raise SettingError(f"{source} holds a control or invisible character")


def _parse(s: Setting, raw: object, source: str) -> object:
    """A value from the command line or the environment (text), checked."""
    if s.kind == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            raise SettingError(f"{source} must be true or false")
        return text in ("1", "true", "yes", "on")
    if s.kind == "list":
        items = raw if isinstance(raw, list) else str(raw).split(",")
        return tuple(item.strip() for item in items if item.strip())
    text = str(raw).strip()
    if s.kind == "str":
        return text
    number: float | None
    if s.kind == "int":
        number = ascii_int(text.removeprefix("-"))
        if number is not None and text.startswith("-"):
            number = -number  # refused below with the bound, a clearer message
        if number is None:
            raise SettingError(f"{source} must be a whole number in ASCII digits")
    else:
        try:
            number = float(text) if text.isascii() else None
        except ValueError:
            number = None
        if number is None or number != number or number in (float("inf"), float("-inf")):
            raise SettingError(f"{source} must be a number")
    _check(s, number, source)
    return number


def resolve(cli: Mapping[str, Any], environ: Mapping[str, str]) -> ServerSettings:
    """Each setting from the command line, else its environment variable, else its default."""
    values: dict[str, object] = {}
    for s in SETTINGS:
        given = cli.get(s.name)
        if given is not None:
            values[s.name] = _parse(s, given, s.flag)
        elif environ.get(s.env, "").strip():
            values[s.name] = _parse(s, environ[s.env], s.env)
    return ServerSettings(**values)  # type: ignore[arg-type]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One option per setting (values checked later by `resolve`, so messages agree)."""
    for s in SETTINGS:
        text = f"{s.help} Environment: {s.env}."
        if s.kind == "bool":
            parser.add_argument(s.flag, dest=s.name, action="store_true", default=None, help=text)
        elif s.kind == "list":
            parser.add_argument(
                s.flag, dest=s.name, action="append", default=None, metavar=s.metavar, help=text
            )
        else:
            text += f" Default: {s.default}." if s.default != "" else ""
            parser.add_argument(s.flag, dest=s.name, default=None, metavar=s.metavar, help=text)
