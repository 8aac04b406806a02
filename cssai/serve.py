"""A local HTTP server that turns each request into a Function URL event for main_handler.

It doubles as an SCF Web Function (``scf_bootstrap`` starts it on port 9000).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
MAX_READ = 7 * 1024 * 1024


def to_event(method: str, target: str, headers: dict[str, str], body: bytes, client_ip: str) -> dict[str, Any]:
    """The Function URL event shape: text bodies as is, others base64-encoded."""
    parts = urlsplit(target)
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode(), True
    merged = {k.lower(): v for k, v in headers.items()}
    merged["x-scf-remote-addr"] = client_ip  # the peer, never a client-supplied header
    return {
        "httpMethod": method,
        "headers": merged,
        "body": text,
        "isBase64Encoded": encoded,
        "path": parts.path,
        "queryString": dict(parse_qsl(parts.query)),
    }


def make_server(host: str, port: int, handler: Handler) -> ThreadingHTTPServer:
    class Request(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_READ:
                self._reply({"statusCode": 413, "headers": {"Content-Type": "application/json"},
                             "body": '{"code": 413, "message": "body too large"}'})
                return
            body = self.rfile.read(length) if length else b""
            event = to_event(self.command, self.path, dict(self.headers), body, self.client_address[0])
            self._reply(handler(event, {"request_id": f"serve-{id(self)}", "time_limit_in_ms": 30000}))

        def _reply(self, answer: dict[str, Any]) -> None:
            payload = answer.get("body", "").encode()
            self.send_response(int(answer.get("statusCode", 500)))
            for name, value in (answer.get("headers") or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:  # one JSON line per event is logged already
            pass

    server = ThreadingHTTPServer((host, port), Request)
    server.daemon_threads = True
    return server
