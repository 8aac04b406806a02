"""The transport under both SDKs: keep-alive reuse, a connection closed while idle, TLS that checks certificates."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cssai.sinks.transport import Connections

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


class Server:
    """Answers each request on a connection, then closes it after ``idle_close`` seconds of keep-alive."""

    def __init__(self, idle_close: float | None = None, tls: ssl.SSLContext | None = None) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.idle_close = idle_close
        self.tls = tls
        self.accepted = 0
        self.requests = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            conn.settimeout(self.idle_close or 5)
            while True:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                self.requests += 1
                conn.sendall(ANSWER)
        except (OSError, ssl.SSLError):
            return
        finally:
            conn.close()

    def close(self) -> None:
        self.listener.close()


def test_one_connection_serves_many_requests() -> None:
    server = Server()
    connections = Connections(2.0)
    for _ in range(5):
        assert connections.send("GET", f"http://127.0.0.1:{server.port}/x", None, {}).content == b"ok"
    assert (server.accepted, server.requests) == (1, 5)
    server.close()


def test_a_connection_the_server_closed_while_idle_is_replaced_not_reused() -> None:
    server = Server(idle_close=0.2)  # as a server (or SCF's freeze) drops an idle keep-alive connection
    connections = Connections(2.0)
    assert connections.send("PUT", f"http://127.0.0.1:{server.port}/a", b"{}", {}).status_code == 200
    time.sleep(0.5)
    answer = connections.send("PUT", f"http://127.0.0.1:{server.port}/b", b"{}", {})
    assert answer.status_code == 200 and answer.content == b"ok"
    assert (server.accepted, server.requests) == (2, 2)  # sent once, on a new connection
    server.close()


@pytest.fixture
def self_signed(tmp_path: Path) -> Iterator[ssl.SSLContext]:
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to make a self-signed certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    yield context


def test_tls_checks_the_certificate(self_signed: ssl.SSLContext) -> None:
    server = Server(tls=self_signed)
    with pytest.raises(ssl.SSLCertVerificationError):
        Connections(2.0).send("GET", f"https://127.0.0.1:{server.port}/", None, {})
    assert server.requests == 0  # nothing was sent to a server that could not prove who it is
    server.close()


def test_a_stalled_server_is_a_timeout_not_a_hang() -> None:
    listener = socket.create_server(("127.0.0.1", 0))  # accepts (the backlog), never answers
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        Connections(0.5).send("GET", f"http://127.0.0.1:{listener.getsockname()[1]}/", None, {})
    assert time.monotonic() - started < 3
    listener.close()
