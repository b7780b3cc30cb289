"""`cpdesk` (normal mode), `cpdesk demo`, `cpdesk --version`, `cpdesk --self-test`.

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
        help="folder of admin policy (default: $CPDESK_POLICY_ROOT or /etc/cpdesk/policies)",
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
        choices=("demo",),
        help="demo: start an embedded index of synthetic children and connect to it",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
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
