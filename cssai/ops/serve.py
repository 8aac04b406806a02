"""A local HTTP server that turns each request into a Function URL event for main_handler.

It doubles as an SCF Web Function (``scf_bootstrap`` starts it on port 9000), so it reads requests as
the Function URL does (event shape: https://cloud.tencent.com/document/product/583/96099):

- a query name given twice stays ambiguous (a list in ``queryString``), so the gateway's rule, that an
  ambiguous token is no token, applies here too;
- ``Content-Length`` must be a plain non-negative number (else 400); a body over ``MAX_BODY_BYTES``
  is answered 413 without being read, and the connection is closed;
- a client that stops sending is cut off after ``READ_TIMEOUT_SECONDS``, so no thread waits forever.

It stays on the standard library's ``http.server``: a WSGI server (waitress, gunicorn) would add a
dependency to the package and to the Web Function's cold start for what these few checks give.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
READ_TIMEOUT_SECONDS = 10.0
_DIGITS = re.compile(r"[0-9]{1,12}")


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
        "queryString": query_string(parts.query),
    }


def query_string(query: str) -> dict[str, str | list[str]]:
    """Each name once; a name given more than once keeps all its values (a list), so none is chosen."""
    values: dict[str, list[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        values.setdefault(name, []).append(value)
    return {name: found[0] if len(found) == 1 else found for name, found in values.items()}


def make_server(host: str, port: int, handler: Handler, max_body: int | None = None) -> ThreadingHTTPServer:
    """``max_body``: the largest body read (default: the receiver's MAX_BODY_BYTES setting)."""

    class Request(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = READ_TIMEOUT_SECONDS  # socket timeout for every read: a stalled client is dropped

        def _serve(self) -> None:
            declared = self.headers.get_all("Content-Length") or []
            if len(declared) > 1 or (declared and not _DIGITS.fullmatch(declared[0].strip())):
                self._refuse(400, "Content-Length is not one non-negative number")
                return
            length = int(declared[0]) if declared else 0
            if self.headers.get("Transfer-Encoding") and not declared:
                self._refuse(411, "a body needs a Content-Length (chunked bodies are not read)")
                return
            limit = max_body if max_body is not None else _max_body()
            if length > limit:
                self._refuse(413, f"body is over {limit} bytes")
                return
            body = self.rfile.read(length) if length else b""
            if len(body) < length:  # the client went away or timed out mid-body
                self.close_connection = True
                return
            event = to_event(self.command, self.path, dict(self.headers), body, self.client_address[0])
            self._reply(handler(event, {"request_id": f"serve-{id(self)}", "time_limit_in_ms": 30000}))

        def _refuse(self, status: int, message: str) -> None:
            """Answer without reading the body, then close: the unread bytes must not be taken for a request."""
            self.close_connection = True
            self._reply({"statusCode": status, "headers": {"Content-Type": "application/json", "Connection": "close"},
                         "body": json.dumps({"code": status, "message": message})})

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


def _max_body() -> int:
    from cssai import runtime
    from cssai.settings import SCF_MAX_SYNC_BODY, SettingsError

    try:
        return runtime.current().settings.max_body_bytes
    except SettingsError:  # the handler answers 503 naming the variable; read no more than SCF would
        return SCF_MAX_SYNC_BODY
