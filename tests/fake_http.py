"""A threaded HTTP server on 127.0.0.1 with scripted faults, the base of the COS and CLS fakes."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

GARBAGE: dict[str, tuple[int, bytes, str]] = {
    "html": (200, b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html"),
    "empty": (200, b"", "application/json"),
    "not_json": (200, b'{"Response": {"RequestId": ', "application/json"),
    "no_response": (200, b'{"RequestId": "x"}', "application/json"),
    "empty_response": (200, b'{"Response": {}}', "application/json"),
    "plain_other": (200, b'{"ok": true}', "text/plain"),
    "refusal_with_charset": (200, b'{"Response": {"Error": {"Code": "FailedOperation.TopicClosed", '
                                  b'"Message": "closed"}, "RequestId": "x"}}', "application/json; charset=utf-8"),
    "transient_with_charset": (200, b'{"Response": {"Error": {"Code": "InternalError", "Message": "busy"}, '
                                    b'"RequestId": "x"}}', "application/json; charset=utf-8"),
    "unknown_code": (200, b'{"Response": {"Error": {"Code": "FailedOperation.SomethingNew", "Message": "?"}, '
                          b'"RequestId": "x"}}', "application/json"),
}


@dataclass
class Fault:
    """Fail the next ``times`` requests that match.

    Kinds: "500"/"503" (an error answer), "slow" (answer after ``delay``), "drop" (close without
    processing), "hang", "lost" (process the write, then close without answering: the answer is
    lost after the write landed), "kill_before" / "kill_after" (SIGKILL process ``pid`` before the
    request is processed, or after it landed and before the answer: a container that dies), and the
    names in ``GARBAGE``: a 200 whose body is not the service's answer (nothing is processed).
    """

    method: str
    pattern: str
    kind: str
    times: int = 1
    delay: float = 0.0
    pid: int = 0

    def matches(self, method: str, target: str) -> bool:
        return self.times > 0 and self.method in (method, "*") and re.search(self.pattern, target) is not None


class FaultyServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, handler: type[BaseHTTPRequestHandler], port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), handler)
        self.lock = threading.Lock()
        self.faults: list[Fault] = []
        self.log: list[tuple[str, str, int]] = []
        self.latency = 0.0
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._release = threading.Event()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultyServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self.shutdown()
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client killed mid-request (the crash harness) is expected: stay quiet about it."""
        error = sys.exc_info()[1]
        if not isinstance(error, (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)

    def inject(self, method: str, pattern: str, kind: str, times: int = 1, delay: float = 0.0, pid: int = 0) -> None:
        with self.lock:
            self.faults.append(Fault(method, pattern, kind, times, delay, pid))

    def take_fault(self, method: str, target: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, target):
                    fault.times -= 1
                    return fault
        return None

    def record(self, method: str, target: str, status: int) -> None:
        with self.lock:
            self.log.append((method, target, status))

    def hang(self, seconds: float) -> None:
        self._release.wait(seconds)


class FaultyHandler(BaseHTTPRequestHandler):
    server: FaultyServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def apply_fault(self, target: str) -> bool:
        """True when a fault answered (or dropped) the request."""
        self.target = target
        if self.server.latency:
            time.sleep(self.server.latency)
        fault = self.server.take_fault(self.command, target)
        if fault is None:
            return False
        if fault.kind == "slow":
            time.sleep(fault.delay)
            return False
        if fault.kind == "hang":
            self.server.hang(fault.delay or 30)
            self.close_connection = True
            return True
        if fault.kind == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            self.server.record(self.command, target, 0)
            return True
        if fault.kind == "kill_before":
            _kill(fault.pid)
            self.server.record(self.command, target, -1)
            self.close_connection = True
            return True
        if fault.kind in ("lost", "kill_after"):
            self._after = fault  # processed as usual; answer() then drops (and kills)
            return False
        if fault.kind in GARBAGE:  # a 200 that is not the service's answer (a proxy's page, a truncated body...)
            status, body, content_type = GARBAGE[fault.kind]
            self.answer(status, body, content_type)
            return True
        status, _, code = fault.kind.partition("/")  # "409/OperationAborted": that status with that error code
        error = (f"<Error><Code>{code or 'InternalError'}</Code><Message>fault</Message><Resource>fake</Resource>"
                 "<RequestId>fake</RequestId><TraceId>fake</TraceId></Error>")
        self.answer(int(status), error.encode(), "application/xml")
        return True

    target = ""
    _after: Fault | None = None

    def setup(self) -> None:
        super().setup()
        # Without this, delayed ACKs add ~40 ms to small request/response pairs on loopback.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def answer(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        """Record, then reply: the log is complete by the time the client sees the answer."""
        self.server.record(self.command, self.target, status)
        after, self._after = self._after, None
        if after is not None:  # the write landed; its answer never arrives
            if after.kind == "kill_after":
                _kill(after.pid)
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def _kill(pid: int) -> None:
    if pid:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
