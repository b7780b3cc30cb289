"""Fail when Qt is imported outside the UI edge, or cpdesk imports cpindex.

Only cpdesk/ui/, cpdesk/platform/, cpdesk/app.py and cpdesk/__main__.py may import PySide6
(or shiboken6), so session, policy, net and cache stay testable without a display.
cpdesk never imports cpindex, so the server stays out of the desktop bundle.

    .venv/bin/python scripts/check_qt_imports.py [--root REPO]   # exit 1 on a violation
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from pathlib import Path

QT_MODULES = ("PySide6", "shiboken6")
QT_ALLOWED = ("cpdesk/ui/", "cpdesk/platform/", "cpdesk/app.py", "cpdesk/__main__.py")


def imported_modules(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, top-level module) for every import statement, at any depth."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module.split(".")[0]


def violations(root: Path) -> list[str]:
    found = []
    for path in sorted((root / "cpdesk").rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
        for line, module in imported_modules(tree):
            if module in QT_MODULES and not rel.startswith(QT_ALLOWED):
                found.append(f"{rel}:{line}: imports {module}; only {', '.join(QT_ALLOWED)} may")
            if module == "cpindex":
                found.append(f"{rel}:{line}: cpdesk must never import cpindex")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args(argv)
    found = violations(args.root)
    for line in found:
        print(line, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
