"""Print the .deb's Depends: the Debian packages of the system libraries the bundle links to.

PyInstaller copies most libraries into the bundle but leaves the ones that must match
the machine (glibc, libGL/EGL, and anything it did not find) to the system. Every ELF
file in the bundle is read with `objdump -p`; each NEEDED library not shipped in the
bundle is looked up with `dpkg -S`, giving packages such as libegl1 and libxcb-cursor0.

    python3 packaging/linux/depends.py BUNDLE_DIR
"""

# ruff: noqa: S603, S607 - fixed commands of the build machine's own tools
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def needed(bundle: Path) -> set[str]:
    shipped = {p.name for p in bundle.rglob("*") if p.is_file() or p.is_symlink()}
    names: set[str] = set()
    for path in bundle.rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        with path.open("rb") as f:
            if f.read(4) != b"\x7fELF":
                continue
        dump = subprocess.run(["objdump", "-p", str(path)], capture_output=True, text=True)
        for line in dump.stdout.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == "NEEDED" and parts[1] not in shipped:
                names.add(parts[1])
    return names


def packages(libraries: set[str]) -> list[str]:
    cache = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
    paths = {}
    for line in cache.splitlines():
        name, _, target = line.strip().partition(" => ")
        name = name.split(" ")[0]
        if name in libraries and "x86-64" in line and name not in paths:
            paths[name] = os.path.realpath(target)
    missing = libraries - set(paths)
    if missing:
        sys.exit(f"depends.py: not installed here: {', '.join(sorted(missing))}")
    # Merged /usr: dpkg may know a file under /lib or under /usr/lib; ask for both.
    queries = set()
    for path in paths.values():
        rest = path.removeprefix("/usr")
        queries |= {rest, "/usr" + rest}
    found = subprocess.run(["dpkg", "-S", *sorted(queries)], capture_output=True, text=True)
    pkgs = {line.split(":")[0] for line in found.stdout.splitlines() if ": /" in line}
    # Built on Debian 12: the bundle's Python and Qt need its glibc or newer.
    return sorted(f"{p} (>= 2.36)" if p == "libc6" else p for p in pkgs)


if __name__ == "__main__":
    print(", ".join(packages(needed(Path(sys.argv[1])))))
