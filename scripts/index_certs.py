"""Make a throwaway CA and server certificate for `make index`, and say how to use them.

cpdesk talks HTTPS only (loopback included), so the index `make index` serves must speak
TLS too. This writes a fresh CA and a certificate for 127.0.0.1 and localhost (valid two
days, private keys never leave FOLDER) and prints the environment that points a normal
`cpdesk` at the index: its URL, the CA to trust and the server key's pin.

    .venv/bin/python scripts/index_certs.py FOLDER --url https://127.0.0.1:8800
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cpdesk.demo_certs import make_demo_certificates  # noqa: E402
from cpdesk.errors import PolicyError  # noqa: E402
from cpdesk.policy import normalise_server_url  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "folder", type=Path, help="where to write ca.pem, server.pem, server-key.pem"
    )
    parser.add_argument("--url", required=True, help="the https URL the index will serve on")
    args = parser.parse_args(argv)
    try:
        url = normalise_server_url(args.url)
    except PolicyError as exc:
        parser.error(exc.user_message)
    certs = make_demo_certificates(args.folder.resolve())
    env = {
        "CPDESK_SERVER_URL": url,
        "CPDESK_CA_BUNDLE": str(certs.ca_cert),
        "CPDESK_SPKI_PINS": certs.spki_pin,
    }
    command = " ".join(f"{name}={shlex.quote(value)}" for name, value in env.items())
    print(
        f"make index: serving {url} with a throwaway CA made just now ({certs.ca_cert}).\n"
        "Point cpdesk at it (in another terminal):\n\n"
        f"    {command} .venv/bin/cpdesk\n\n"
        "Sign in with a demo account and the code the index prints below.",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
