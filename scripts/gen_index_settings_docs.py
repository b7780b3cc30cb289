"""Write the server settings table in docs/index.md from cpindex/config.py's declaration.

The table between the two markers is generated, never edited by hand: `--check` exits 1
when it is stale (a test runs it), so the docs, the CLI and the environment cannot drift.

    .venv/bin/python scripts/gen_index_settings_docs.py          # rewrite the table
    .venv/bin/python scripts/gen_index_settings_docs.py --check  # fail if out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cpindex.config import SETTINGS, Setting  # noqa: E402

DOCS = REPO / "docs" / "index.md"
BEGIN = (
    "<!-- BEGIN server settings: generated from cpindex/config.py "
    "by scripts/gen_index_settings_docs.py -->"
)
END = "<!-- END server settings -->"
_GROUPS = {"limits": "Limits", "server": "Listening", "connections": "Connections"}


def _default(s: Setting) -> str:
    if s.kind == "bool":
        return "off"
    if s.kind == "list" or s.default == "":
        return "(none)"
    if isinstance(s.default, float) and s.default.is_integer():
        return f"`{int(s.default)}`"
    return f"`{s.default}`"


def _number(value: float | None) -> str:
    if value is None:
        return "…"
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def _bounds(s: Setting) -> str:
    if s.minimum is None and s.maximum is None:
        return ""
    return f"{_number(s.minimum)}–{_number(s.maximum)}"


def render_table() -> str:
    lines = [
        "| group | option | environment | type | default | bounds | what |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for group, title in _GROUPS.items():
        for s in (s for s in SETTINGS if s.group == group):
            kind = {"list": "addresses", "bool": "flag"}.get(s.kind, s.kind)
            lines.append(
                f"| {title} | `{s.flag}` | `{s.env}` | {kind} | {_default(s)} | {_bounds(s)} | "
                f"{s.help} |"
            )
    return "\n".join(lines)


def render(current: str) -> str:
    """`current` (docs/index.md) with the table between the markers replaced."""
    start, end = current.index(BEGIN) + len(BEGIN), current.index(END)
    return current[:start] + "\n" + render_table() + "\n" + current[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the table is stale")
    args = parser.parse_args(argv)
    current = DOCS.read_text(encoding="utf-8")
    if BEGIN not in current or END not in current:
        print(f"{DOCS.relative_to(REPO)} lacks the settings markers", file=sys.stderr)
        return 1
    wanted = render(current)
    if wanted == current:
        return 0
    if args.check:
        print(
            f"{DOCS.relative_to(REPO)} is out of date: run scripts/gen_index_settings_docs.py",
            file=sys.stderr,
        )
        return 1
    DOCS.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
