"""A forward HTTP proxy on 127.0.0.1 that sees every request: absolute-form requests and CONNECT tunnels."""

from __future__ import annotations

import http.client
import select
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


class ProxyServer:
    def __init__(self, require_auth: str | None = None) -> None:
        self.seen: list[tuple[str, str]] = []  # (method, absolute URL or host:port for CONNECT)
        self.require_auth = require_auth  # an expected Proxy-Authorization value
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: Any) -> None:
                return None

            def _forward(self) -> None:
                if not proxy._authorised(self):
                    return
                proxy.seen.append((self.command, self.path))
                target = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() != "proxy-authorization"}
                upstream = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=10)
                path = target.path + (f"?{target.query}" if target.query else "")
                upstream.request(self.command, path, body=body, headers=headers)
                answer = upstream.getresponse()
                content = answer.read()
                self.send_response(answer.status, answer.reason)
                for name, value in answer.getheaders():
                    if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(content)
                upstream.close()

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

            def do_CONNECT(self) -> None:
                if not proxy._authorised(self):
                    return
                proxy.seen.append(("CONNECT", self.path))
                host, _, port = self.path.rpartition(":")
                upstream = socket.create_connection((host, int(port)), timeout=10)
                self.send_response(200, "Connection established")
                self.end_headers()
                self.wfile.flush()
                sockets = [self.connection, upstream]
                while True:
                    readable, _, _ = select.select(sockets, [], [], 10)
                    if not readable:
                        break
                    for sock in readable:
                        data = sock.recv(65536)
                        if not data:
                            upstream.close()
                            return
                        (upstream if sock is self.connection else self.connection).sendall(data)
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def _authorised(self, handler: BaseHTTPRequestHandler) -> bool:
        if self.require_auth is None or handler.headers.get("Proxy-Authorization") == self.require_auth:
            return True
        handler.send_response(407, "Proxy Authentication Required")
        handler.send_header("Content-Length", "0")
        handler.end_headers()
        return False

    def start(self) -> ProxyServer:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def hosts(self) -> set[str]:
        return {urlsplit(url).netloc if "://" in url else url for _, url in self.seen}
