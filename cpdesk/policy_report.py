"""`cpdesk policy show`: every setting, its value, and the layer and source it came from.

What an IT team runs first when a machine misbehaves, like Chrome's chrome://policy. It
reads exactly the sources the app reads (system policy, the override folder, the user's
settings file, the environment) and prints no secret: policy holds none. Qt-free, so it
runs without a display.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, TextIO

from cpdesk.errors import PolicyError
from cpdesk.policy import (
    LAYER_LABELS,
    SETTINGS,
    Layer,
    Policy,
    SourcedValue,
    UntrustedPolicySource,
    load_policy,
)

__all__ = ["policy_as_json", "policy_as_text", "show_policy"]


def _plain(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def _text(value: object) -> str:
    if isinstance(value, tuple):
        return ", ".join(value) or "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return '""' if value == "" else str(value)


def _sourced(found: SourcedValue) -> dict[str, object]:
    return {"value": _plain(found.value), "layer": found.layer.name.lower(), "source": found.where}


def policy_as_json(policy: Policy) -> dict[str, Any]:
    """One entry per setting, in declaration order; `layer` names as in `Layer`, lower case."""
    return {
        "settings": [
            {
                "key": s.key,
                "value": _plain(getattr(policy, s.key)),
                "layer": policy.layer(s.key).name.lower(),
                "set_by": LAYER_LABELS[policy.layer(s.key)],
                "source": policy.where(s.key),
                "locked": policy.is_locked(s.key),
                "scope": s.scope.value,
                "superseded": [_sourced(found) for found in policy.superseded(s.key)],
            }
            for s in SETTINGS
        ]
    }


def policy_as_text(policy: Policy) -> str:
    """A readable table: setting, value, who set it and where; replaced values beneath."""
    order = " < ".join(LAYER_LABELS[layer] for layer in Layer)
    lines = [f"cpdesk policy (lowest first: {order})", ""]
    width = max(len(s.key) for s in SETTINGS)
    for s in SETTINGS:
        layer, where = policy.layer(s.key), policy.where(s.key)
        origin = LAYER_LABELS[layer] + (f": {where}" if where else "")
        lines.append(f"{s.key:<{width}}  {_text(getattr(policy, s.key))}")
        lines.append(f"{'':<{width}}  from {origin}")
        for found in policy.superseded(s.key):
            lines.append(
                f"{'':<{width}}  replaced {_text(found.value)} from "
                f"{LAYER_LABELS[found.layer]}: {found.where}"
            )
    return "\n".join(lines) + "\n"


def show_policy(
    override: Path | None,
    *,
    as_json: bool,
    user_settings: Path | None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Print the effective policy; 0, or 1 with the invalid key (or untrusted path) named."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        policy = load_policy(override, user_settings=user_settings)
    except PolicyError as exc:
        print(f"cpdesk: {exc.user_message}", file=err)
        if as_json:
            error = {"key": exc.key, "message": exc.user_message}
            if isinstance(exc, UntrustedPolicySource):
                error["path"] = exc.path
            json.dump({"error": error}, out, indent=2, ensure_ascii=False)
            out.write("\n")
        return 1
    if as_json:
        json.dump(policy_as_json(policy), out, indent=2, ensure_ascii=False)
        out.write("\n")
    else:
        out.write(policy_as_text(policy))
    return 0
