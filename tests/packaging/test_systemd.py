"""The index's systemd unit keeps the sandbox the deployment guide promises."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "packaging" / "systemd" / "cpindex@.service"


def _service() -> dict[str, list[str]]:
    """The [Service] section; a key may repeat (SystemCallFilter), so not configparser."""
    values: dict[str, list[str]] = {}
    section = ""
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]":
            key, _, value = line.partition("=")
            values.setdefault(key, []).append(value)
    return values


def test_sandbox_directives() -> None:
    s = _service()
    assert s["User"] == ["cpindex"] and s["Group"] == ["cpindex"]
    for key in ("NoNewPrivileges", "PrivateTmp", "PrivateDevices", "ProtectHome"):
        assert s[key] == ["yes"], key
    assert s["ProtectSystem"] == ["strict"]
    assert s["CapabilityBoundingSet"] == [""]
    assert s["RestrictAddressFamilies"] == ["AF_INET AF_INET6 AF_UNIX"]
    assert s["SystemCallFilter"][0] == "@system-service"
    assert s["SystemCallFilter"][1].startswith("~@privileged @resources")


def test_secrets_come_from_the_environment_file_not_the_command_line() -> None:
    s = _service()
    assert s["EnvironmentFile"] == ["/etc/cpindex/cpindex.env"]
    (command,) = s["ExecStart"]
    assert "--db" not in command and "secret" not in command.lower()
    assert "--host 127.0.0.1" in command and "--behind-proxy" in command
    example = (REPO / "packaging" / "systemd" / "cpindex.env.example").read_text(encoding="utf-8")
    assert "CPINDEX_DATABASE_URL=" in example and "CPINDEX_SECRET_KEY_FILE=" in example
    assert "mode 0600" in example
