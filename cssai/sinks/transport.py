"""The bytes on the wire under both SDKs: keep-alive ``http.client`` connections, no ``requests`` send path.

At SCF's 0.2 of a core every ms of CPU is about 5 ms billed, and most of a stored event's CPU went to
the layers under the SDKs (``requests``' session machinery, ``urllib3``'s pool, proxy and cookie
handling: docs/benchmarks.md). The SDKs stay the source of truth for what is sent: the COS SDK builds
each request and signs it with its own ``CosS3Auth`` (a ``requests`` auth, applied here to a
``requests.PreparedRequest`` made by ``requests`` itself), the tencentcloud SDK builds and TC3-signs its
``RequestInternal``; only the sending is ours:

- COS: through the SDK's documented ``session`` parameter (``CosS3Client(config, session=...)``), a
  ``requests.Session`` whose ``request`` prepares the request with ``requests`` and sends it here;
- CLS: the tencentcloud SDK has no public transport hook, so ``ApiRequest.conn`` (its connection, with
  ``request(method, url, body, headers)``) is replaced (``use_for``); pinned by
  tests/test_cloud_sinks.py, which compares the bytes with ``ClsClient``'s own.

Connections are kept per (scheme, host, port), shared by the executor's threads, TLS with certificate
checks against certifi's bundle (what both SDKs use). An idle connection that the server closed
meanwhile (as after SCF froze the instance) is found before it is used, by a zero-timeout poll, and
replaced: a request is never sent twice by the transport (the executor decides about retries).
"""

from __future__ import annotations

import http.client
import select
import ssl
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.structures import CaseInsensitiveDict

Key = tuple[str, str, int]


class Connections:
    """Idle keep-alive connections per origin; a request takes one (or opens one) and gives it back."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._idle: dict[Key, list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._tls: ssl.SSLContext | None = None

    def _context(self) -> ssl.SSLContext:
        if self._tls is None:
            import certifi

            self._tls = ssl.create_default_context(cafile=certifi.where())
        return self._tls

    def _take(self, key: Key) -> http.client.HTTPConnection:
        with self._lock:
            idle = self._idle.get(key, [])
            while idle:
                conn = idle.pop()
                if not _closed_by_peer(conn):
                    return conn
                conn.close()
        scheme, host, port = key
        if scheme == "https":
            return http.client.HTTPSConnection(host, port, timeout=self.timeout, context=self._context())
        return http.client.HTTPConnection(host, port, timeout=self.timeout)

    def _give_back(self, key: Key, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            self._idle.setdefault(key, []).append(conn)

    def send(self, method: str, url: str, body: bytes | None, headers: Mapping[str, str]) -> requests.Response:
        """One request, answered as a ``requests.Response`` (what both SDKs read)."""
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        key = (parts.scheme, parts.hostname or "", port)
        target = parts.path or "/"
        if parts.query:
            target = f"{target}?{parts.query}"
        conn = self._take(key)
        try:
            conn.request(method, target, body=body, headers=dict(headers))
            answer = conn.getresponse()
            content = answer.read()
        except BaseException:
            conn.close()
            raise
        if answer.will_close:
            conn.close()
        else:
            self._give_back(key, conn)
        response = requests.Response()
        response.status_code = answer.status
        response.reason = answer.reason
        response.headers = CaseInsensitiveDict(answer.getheaders())
        response._content = content  # what Response.content returns once read
        response._content_consumed = True
        response.raw = _Body(content)
        response.url = url
        response.encoding = requests.utils.get_encoding_from_headers(response.headers)
        return response


class _Body:
    """``Response.raw`` for a body already read: the COS SDK's stream reads it from here."""

    def __init__(self, content: bytes) -> None:
        self._content = content
        self._offset = 0

    def read(self, amount: int | None = None, **_: Any) -> bytes:
        end = len(self._content) if amount is None or amount < 0 else self._offset + amount
        chunk = self._content[self._offset:end]
        self._offset += len(chunk)
        return chunk

    def stream(self, amount: int = 65536, **_: Any) -> Any:
        while chunk := self.read(amount):
            yield chunk

    def close(self) -> None:
        return None


def _closed_by_peer(conn: http.client.HTTPConnection) -> bool:
    """An idle keep-alive socket that is readable has been closed (or spoken to) by the server: drop it."""
    sock = conn.sock
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class CosSession(requests.Session):
    """For ``CosS3Client(..., session=...)``: requests prepares and signs (``auth``), ``Connections`` sends."""

    def __init__(self, connections: Connections) -> None:
        super().__init__()
        self.trust_env = False
        self._connections = connections

    def request(self, method: str | bytes, url: str | bytes, params: Any = None, data: Any = None,  # type: ignore[override]
                headers: Any = None, auth: Any = None, **_: Any) -> requests.Response:
        prepared = requests.PreparedRequest()
        prepared.prepare(method=str(method), url=str(url), headers=headers, data=data, params=params, auth=auth)
        body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
        return self._connections.send(prepared.method or "GET", prepared.url or str(url), body, prepared.headers)


class _ClsConnection:
    """What ``ApiRequest`` calls as its ``conn``: ``request(method, url, body, headers)`` and ``request_length``."""

    def __init__(self, connections: Connections, host: str) -> None:
        self._connections = connections
        self.request_host = host
        self.request_length = 0

    def request(self, method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        headers = dict(headers or {})
        headers.setdefault("Host", self.request_host)
        data = body.encode() if isinstance(body, str) else body
        self.request_length = len(data or b"")
        return self._connections.send(method, url, data, headers)


def use_for(client: Any, connections: Connections) -> Any:
    """Send a tencentcloud SDK client's requests through ``connections`` (see the module's docstring)."""
    api = client.request  # ApiRequest: keeps building the URL and the Keep-Alive header itself
    api.conn = _ClsConnection(connections, api.host)
    return client
