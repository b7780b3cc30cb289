"""Dump one application's accessibility tree as a screen reader reads it (AT-SPI).

Run with Debian's own Python (`/usr/bin/python3`), where `python3-pyatspi` lives; it
imports nothing from this repository. Prints a JSON list of nodes: depth, role, name,
description, states and (where the node has a Text interface) its text.

    /usr/bin/python3 tests/e2e/atspi_walker.py APPLICATION_NAME
"""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Any

import pyatspi  # type: ignore[import-not-found]


def walk(node: Any, depth: int, out: list[dict[str, Any]]) -> None:
    text = ""
    with contextlib.suppress(NotImplementedError):  # only text nodes have one
        text = node.queryText().getText(0, -1)
    out.append(
        {
            "depth": depth,
            "role": node.getRoleName(),
            "name": node.name or "",
            "description": node.description or "",
            "states": [pyatspi.stateToString(s) for s in node.getState().getStates()],
            "text": text,
        }
    )
    for i in range(node.childCount):
        child = node.getChildAtIndex(i)
        if child is not None:
            walk(child, depth + 1, out)


def main(name: str) -> int:
    desktop = pyatspi.Registry.getDesktop(0)
    out: list[dict[str, Any]] = []
    for i in range(desktop.childCount):
        app = desktop.getChildAtIndex(i)
        if app is not None and app.name == name:
            walk(app, 0, out)
    print(json.dumps(out))
    return 0 if out else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
