"""Write generated files, or with --check only report the stale ones: one loop for every
generator in scripts/ (settings docs, policy schema, admin templates, index settings)."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path


def write_or_check(
    outputs: Iterable[tuple[Path, str]], *, check: bool, repo: Path, command: str
) -> int:
    """0 when every file holds its text (written now unless `check`); 1 naming each stale one."""
    stale = []
    for path, text in outputs:
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if check:
            stale.append(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(repo)}")
    for path in stale:
        print(f"{path.relative_to(repo)} is out of date: run {command}", file=sys.stderr)
    return 1 if stale else 0
