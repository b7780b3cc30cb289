import socket
import ssl
import threading
from pathlib import Path

from cryptography import x509

from cpdesk.demo_certs import make_demo_certificates, spki_sha256


def test_certificates_make_a_working_tls_pair(tmp_path: Path) -> None:
    certs = make_demo_certificates(tmp_path / "tls")
    assert (certs.server_key.stat().st_mode & 0o777) == 0o600
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(certs.server_cert, certs.server_key)
    client_ctx = ssl.create_default_context(cafile=str(certs.ca_cert))

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        with server_ctx.wrap_socket(conn, server_side=True) as tls:
            tls.sendall(b"ok")

    thread = threading.Thread(target=serve)
    thread.start()
    with (
        socket.create_connection(("127.0.0.1", port)) as raw,
        client_ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        assert tls.recv(2) == b"ok"
        peer = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True) or b"")
        assert spki_sha256(peer) == certs.spki_pin
    thread.join()
    listener.close()
