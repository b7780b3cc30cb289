"""Keep, from a CycloneDX SBOM of .venv-package, only what the bundle holds.

The build virtualenv also holds PyInstaller and pip; the bundle holds cpdesk's runtime
dependency closure, worked out here from the installed packages' metadata (run with
.venv-package's Python). Reads the SBOM file named on the command line, prints JSON.
"""

from __future__ import annotations

import json
import re
import sys
from importlib import metadata


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(root: str) -> set[str]:
    seen: set[str] = set()
    todo = [root]
    while todo:
        name = _norm(todo.pop())
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # an optional dependency for another platform
        seen.add(name)
        for req in dist.requires or []:
            if "extra ==" in req:
                continue
            marker_ok = True
            if ";" in req:
                from packaging.markers import Marker

                marker_ok = Marker(req.split(";", 1)[1]).evaluate()
            if marker_ok:
                todo.append(re.split(r"[\s<>=!~\[;(]", req, maxsplit=1)[0])
    return seen


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        bom = json.load(f)
    keep = closure("cpdesk") - {"cpdesk"}
    bom["components"] = [c for c in bom.get("components", []) if _norm(c["name"]) in keep]
    refs = {c["bom-ref"] for c in bom["components"]}
    by_name = {_norm(c["name"]): c["bom-ref"] for c in bom["components"]}
    direct = [
        re.split(r"[\s<>=!~\[;(]", r, maxsplit=1)[0] for r in metadata.requires("cpdesk") or []
    ]
    bom.setdefault("metadata", {})["component"] = {
        "type": "application",
        "name": "cpdesk",
        "version": metadata.version("cpdesk"),
        "bom-ref": "cpdesk",
        "description": "cpdesk desktop client, PyInstaller bundle (Python packages only)",
    }
    bom["dependencies"] = [
        {**d, "dependsOn": [r for r in d.get("dependsOn", []) if r in refs]}
        for d in bom.get("dependencies", [])
        if d["ref"] in refs
    ]
    root_deps = sorted({by_name[_norm(n)] for n in direct if _norm(n) in by_name})
    bom["dependencies"].append({"ref": "cpdesk", "dependsOn": root_deps})
    json.dump(bom, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
