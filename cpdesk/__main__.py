"""`cpdesk` (normal mode), `cpdesk demo`, `cpdesk --version`, `cpdesk --self-test`,
`cpdesk policy show [--json]`.

Exit codes: 0 ok, 2 usage error (argparse), 1 anything else with a one-line message.
Qt is imported only once a window is really needed, so `--version` and usage errors are
instant and work without a display.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from cpdesk import __version__

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cpdesk",
        description="Desktop client for the national children's contact index.",
    )
    parser.add_argument("--version", action="version", version=f"cpdesk {__version__}")
    parser.add_argument(
        "--policy-root",
        type=Path,
        default=None,
        help="an extra policy folder, read below the system's managed policy and never "
        "instead of it (default: $CPDESK_POLICY_ROOT)",
    )
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="check this installation (policy, window, SQLCipher, keyring, TLS) and exit",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more (never data)")
    parser.add_argument(
        "mode",
        nargs="?",
        choices=("demo", "policy"),
        help="demo: start an embedded index of synthetic children and connect to it; "
        "policy show: print every setting, its value and where it came from",
    )
    parser.add_argument("action", nargs="?", choices=("show",), help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="with `policy show`: as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if (args.mode == "policy") != (args.action == "show") or (args.json and not args.action):
        parser.error("use `cpdesk policy show [--json]`")
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if args.mode == "policy":
        from cpdesk.policy_report import show_policy
        from cpdesk.user_settings import user_settings_file

        return show_policy(args.policy_root, as_json=args.json, user_settings=user_settings_file())
    if args.self_test:
        return _self_test(args.policy_root)
    from cpdesk.app import run

    try:
        return run(demo=args.mode == "demo", policy_root=args.policy_root)
    except KeyboardInterrupt:
        return 1


def _self_test(policy_root: Path | None) -> int:
    """`cpdesk --self-test`: see cpdesk/selftest.py; offscreen unless a display is named."""
    from cpdesk.selftest import run_self_test

    return run_self_test(policy_root)


if __name__ == "__main__":
    sys.exit(main())
