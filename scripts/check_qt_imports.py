"""Fail when Qt is imported outside the UI edge, or cpdesk imports cpindex.

Only cpdesk/ui/, cpdesk/platform/, cpdesk/app.py and cpdesk/__main__.py may import PySide6
(or shiboken6), so session, controller, policy, net and cache stay testable without a
display. Nor may the rest import the Qt edge's own modules (cpdesk.ui, cpdesk.app), which
would bring Qt in through the back door. cpdesk never imports cpindex, so the server
stays out of the desktop bundle.

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
QT_EDGE = ("cpdesk.ui", "cpdesk.app")  # modules of the edge that import Qt themselves


def imported_modules(tree: ast.AST, package: str) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) for every import statement, at any depth; relative
    imports are resolved against `package` (the dotted package of the file)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            if not node.level:
                base = []
            names = [".".join([*base, node.module])] if node.module else []
            if not node.module:  # `from . import x`: each name may be a module
                names = [".".join([*base, alias.name]) for alias in node.names]
            for name in names:
                yield node.lineno, name


def _in(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def violations(root: Path) -> list[str]:
    found = []
    for path in sorted((root / "cpdesk").rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        package = ".".join(path.relative_to(root).parts[:-1])  # what `.` means in the file
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
        qt_edge = rel.startswith(QT_ALLOWED)
        for line, module in imported_modules(tree, package):
            top = module.split(".")[0]
            if top in QT_MODULES and not qt_edge:
                found.append(f"{rel}:{line}: imports {top}; only {', '.join(QT_ALLOWED)} may")
            elif _in(module, QT_EDGE) and not qt_edge:
                found.append(f"{rel}:{line}: imports {module}, which imports Qt")
            if top == "cpindex":
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
