"""`cpdesk --self-test`: can this installation run on this machine? Says what it found.

IT runs it on a build image, and CI runs it inside the installed bundle, to catch what a
frozen app loses silently: a Qt plugin or system library, the SQLCipher build, a keyring
backend, the TLS stack. Every check does the real thing (opens the sign-in window
offscreen, keys an encrypted database, stores and deletes a keyring secret, makes a
pinned HTTPS request to a loopback server), never just an import. It touches no user
file and needs no index server. No keyring is a warning, not a failure: the app then
keeps its cache for one run only (see DESIGN.md).
"""

from __future__ import annotations

import os
import secrets
import ssl
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

from cpdesk import __version__

if TYPE_CHECKING:
    from cpdesk.policy import Policy

__all__ = ["Finding", "check_keyring", "check_sqlcipher", "check_tls", "run_self_test"]


@dataclass(frozen=True)
class Finding:
    """One check: its name, whether it passed, what was found, and if cpdesk needs it."""

    name: str
    ok: bool
    detail: str
    required: bool = True

    def line(self) -> str:
        mark = "ok  " if self.ok else ("FAIL" if self.required else "warn")
        return f"{mark} {self.name}: {self.detail}"


def check_sqlcipher() -> Finding:
    """The cache needs SQLCipher 4 (3 reads and writes an incompatible format)."""
    try:
        import sqlcipher3

        con = sqlcipher3.connect(":memory:")
        try:
            con.execute(f"PRAGMA key = \"x'{secrets.token_hex(32)}'\"")
            con.execute("CREATE TABLE probe (x)")
            row = con.execute("PRAGMA cipher_version").fetchone()
            provider = con.execute("PRAGMA cipher_provider_version").fetchone()
        finally:
            con.close()
    except Exception as exc:  # any failure to load or key the library is the finding
        return Finding("SQLCipher", False, f"cannot be used ({type(exc).__name__}: {exc})")
    version = str(row[0]) if row else ""
    detail = f"{version} ({provider[0] if provider else 'unknown provider'})"
    if not version.startswith("4."):
        return Finding("SQLCipher", False, f"{detail or 'no version'}; version 4 is needed")
    return Finding("SQLCipher", True, detail)


def check_keyring() -> Finding:
    """Decide by a set/get/delete probe: a locked keyring still *reports* a backend."""
    try:
        import keyring

        backend = keyring.get_keyring()
        name = f"{type(backend).__module__}.{type(backend).__name__}"
        service, user, value = "cpdesk-self-test", secrets.token_hex(8), secrets.token_hex(16)
        keyring.set_password(service, user, value)
        try:
            read = keyring.get_password(service, user)
        finally:
            keyring.delete_password(service, user)
    except Exception as exc:  # the backend's own errors vary (D-Bus, locked, none)
        return Finding(
            "keyring",
            False,
            f"not usable ({type(exc).__name__}); the offline cache will last one run only",
            required=False,
        )
    if read != value:
        return Finding("keyring", False, f"{name} did not return the secret", required=False)
    return Finding("keyring", True, f"{name} (stored, read and deleted a test secret)")


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # quiet
        return


def check_tls() -> Finding:
    """A pinned HTTPS request, through the app's own adapter, to a loopback server."""
    try:
        from cpdesk.demo_certs import make_demo_certificates
        from cpdesk.net.client import make_http_session
        from cpdesk.net.tls import PinnedAdapter

        with tempfile.TemporaryDirectory(prefix="cpdesk-self-test-") as folder:
            certs = make_demo_certificates(Path(folder))
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(certs.server_cert, certs.server_key)
            server = HTTPServer(("127.0.0.1", 0), _Hello)
            server.socket = context.wrap_socket(server.socket, server_side=True)
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            try:
                port = server.server_address[1]
                http = make_http_session()
                origin = f"https://127.0.0.1:{port}"
                adapter = PinnedAdapter(
                    origin=origin, ca_bundle=str(certs.ca_cert), pins=frozenset({certs.spki_pin})
                )
                http.mount("https://", adapter)
                response = http.get(f"https://127.0.0.1:{port}/", timeout=10)
                response.raise_for_status()
                http.close()
            finally:
                server.shutdown()
                server.server_close()
                thread.join(5)
        system_cas = ssl.create_default_context().cert_store_stats().get("x509_ca", 0)
    except Exception as exc:  # a missing library or a handshake failure is the finding
        return Finding("TLS", False, f"cannot be used ({type(exc).__name__}: {exc})")
    return Finding(
        "TLS",
        True,
        f"{ssl.OPENSSL_VERSION}; pinned HTTPS to a loopback server worked; "
        f"{system_cas} system CA certificates visible",
    )


def run_self_test(
    policy_root: Path | None,
    window_check: Callable[[Policy], str] | None = None,
    out: Callable[[str], None] = print,
) -> int:
    """Run every check, print one line each, return 0 if every required one passed.

    `window_check(policy)` opens the sign-in window and describes it; the default is
    `cpdesk.app.sign_in_window_check` (imported only here: it brings in Qt).
    """
    from cpdesk.errors import PolicyError
    from cpdesk.policy import load_policy

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from cpdesk import app

    out(f"cpdesk {__version__} self-test (Python {sys.version.split()[0]}, {sys.platform})")
    findings: list[Finding] = []
    try:
        policy = load_policy(policy_root, user_settings=app.user_settings_file())
        findings.append(Finding("policy", True, f"loaded ({_policy_summary(policy)})"))
    except PolicyError as exc:
        findings.append(Finding("policy", False, exc.user_message))
    else:
        check = window_check or app.sign_in_window_check
        try:
            findings.append(Finding("sign-in window", True, check(policy)))
        except Exception as exc:  # a missing Qt plugin or library is the finding
            findings.append(Finding("sign-in window", False, f"{type(exc).__name__}: {exc}"))
    findings += [check_sqlcipher(), check_keyring(), check_tls()]
    for finding in findings:
        out(finding.line())
    failed = [f.name for f in findings if f.required and not f.ok]
    out("self-test failed: " + ", ".join(failed) if failed else "self-test passed")
    return 1 if failed else 0


def _policy_summary(policy: Policy) -> str:
    from cpdesk.policy import SETTINGS, Layer

    by_layer = {layer: 0 for layer in Layer}
    for s in SETTINGS:
        by_layer[policy.layer(s.key)] += 1
    server = policy.server_url or "no server_url set"
    override = by_layer[Layer.OVERRIDE_MANAGED] + by_layer[Layer.OVERRIDE_RECOMMENDED]
    return (
        f"{server}; {by_layer[Layer.MANAGED]} managed, "
        f"{by_layer[Layer.RECOMMENDED]} recommended, {override} from the override folder, "
        f"{by_layer[Layer.USER]} user settings"
    )
