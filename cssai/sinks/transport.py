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
  ``request(method, url, body, headers)``) is replaced (``use_for``). That is an internal, so it is
  guarded three ways: the SDK versions are pinned with hashes (requirements.txt, what CI tests and
  deploy/build.sh installs); ``hook_fits`` checks the shape before hooking (tests/test_transport.py fails
  in CI the moment a pinned version lacks it), and where it does not fit the SDK's own sending path is
  kept; a call that no longer binds to ``request(method, url, body, headers)`` is handed to the SDK's own
  connection instead of failing (a renamed call never becomes a 503 on every event).
  tests/test_cloud_sinks.py compares the bytes with ``ClsClient``'s own.

Proxies are honoured as the SDKs honour them: COS's ``Proxies`` option (passed to the session as
``proxies``) and tencentcloud's ``HttpProfile(proxy=...)``/``HTTP(S)_PROXY`` (as resolved by its own
``ProxyConnection``), then the environment as ``requests`` reads it (``HTTP_PROXY``, ``HTTPS_PROXY``,
``NO_PROXY``). HTTP targets go to the proxy in absolute form, HTTPS targets through a CONNECT tunnel;
``http://`` proxies only (``user:password@`` sent as Proxy-Authorization).

Connections are kept per (scheme, host, port), shared by the executor's threads, TLS with certificate
checks against certifi's bundle (what both SDKs use). An idle connection that the server closed
meanwhile (as after SCF froze the instance) is found before it is used, by a zero-timeout poll, and
replaced: a request is never sent twice by the transport (the executor decides about retries).
"""

from __future__ import annotations

import base64
import http.client
import inspect
import logging
import os
import select
import ssl
import threading
from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
from requests.structures import CaseInsensitiveDict
from requests.utils import get_environ_proxies, select_proxy

Key = tuple[str, str, int, str]
log = logging.getLogger("cssai")
_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


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
        scheme, host, port, proxy = key
        if proxy:
            via = urlsplit(proxy)
            if scheme == "https":  # a CONNECT tunnel through the proxy, TLS to the target inside it
                conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                    via.hostname or "", via.port or 80, timeout=self.timeout, context=self._context())
                conn.set_tunnel(host, port, headers=_proxy_auth(via))
                return conn
            return http.client.HTTPConnection(via.hostname or "", via.port or 80, timeout=self.timeout)
        if scheme == "https":
            return http.client.HTTPSConnection(host, port, timeout=self.timeout, context=self._context())
        return http.client.HTTPConnection(host, port, timeout=self.timeout)

    def _give_back(self, key: Key, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            self._idle.setdefault(key, []).append(conn)

    def send(self, method: str, url: str, body: bytes | None, headers: Mapping[str, str],
             proxies: Mapping[str, str] | None = None) -> requests.Response:
        """One request, answered as a ``requests.Response`` (what both SDKs read).

        ``proxies``: the SDK's own option (a ``requests``-style mapping); else the environment's proxy.
        """
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        proxy = (select_proxy(url, dict(proxies)) if proxies else None) or environment_proxy(url)
        if proxy and "://" not in proxy:
            proxy = f"http://{proxy}"
        key = (parts.scheme, parts.hostname or "", port, proxy or "")
        target = parts.path or "/"
        if parts.query:
            target = f"{target}?{parts.query}"
        sent = dict(headers)
        if proxy and parts.scheme == "http":  # absolute form, to the proxy
            target = f"http://{parts.netloc}{target}"
            sent.update(_proxy_auth(urlsplit(proxy)))
        conn = self._take(key)
        try:
            conn.request(method, target, body=body, headers=sent)
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


def environment_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url``, as ``requests`` reads it (NO_PROXY honoured)."""
    parts = urlsplit(url)
    snapshot = tuple(os.environ.get(name) or os.environ.get(name.upper()) for name in _PROXY_VARIABLES)
    if not any(snapshot):
        return None  # the common case, without requests' per-call environment scan
    return _environment_proxy(f"{parts.scheme}://{parts.netloc}/", snapshot)


@lru_cache(maxsize=256)
def _environment_proxy(origin: str, _snapshot: tuple[str | None, ...]) -> str | None:
    return select_proxy(origin, get_environ_proxies(origin))


def _proxy_auth(proxy: Any) -> dict[str, str]:
    if proxy.username is None:
        return {}
    pair = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}".encode()
    return {"Proxy-Authorization": "Basic " + base64.b64encode(pair).decode()}


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
                headers: Any = None, auth: Any = None, proxies: Any = None, **_: Any) -> requests.Response:
        prepared = requests.PreparedRequest()
        prepared.prepare(method=str(method), url=str(url), headers=headers, data=data, params=params, auth=auth)
        body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
        return self._connections.send(prepared.method or "GET", prepared.url or str(url), body, prepared.headers,
                                      proxies=proxies)


def _expected_request(method: str, url: str, body: Any = None, headers: Any = None) -> None:
    """The call ``ApiRequest`` makes on its ``conn`` (tencentcloud-sdk-python-common 3.x)."""


_EXPECTED = inspect.signature(_expected_request)


class _ClsConnection:
    """What ``ApiRequest`` calls as its ``conn``: ``request(method, url, body, headers)`` and ``request_length``.

    A call that no longer binds to that shape goes to the SDK's own connection (kept as ``fallback``).
    """

    def __init__(self, connections: Connections, host: str, fallback: Any) -> None:
        self._connections = connections
        self.request_host = host
        self.request_length = 0
        self.fallback = fallback
        self.proxy = getattr(fallback, "proxy", None)  # what the SDK resolved (HttpProfile.proxy, HTTP(S)_PROXY)

    def request(self, *args: Any, **kwargs: Any) -> Any:
        try:
            call = _EXPECTED.bind(*args, **kwargs)
        except TypeError:
            log.warning("tencentcloud SDK calls its connection differently: using the SDK's own sending path")
            answer = self.fallback.request(*args, **kwargs)
            self.request_length = getattr(self.fallback, "request_length", 0)
            return answer
        method, url, body, headers = (call.arguments.get(n) for n in ("method", "url", "body", "headers"))
        headers = dict(headers or {})
        headers.setdefault("Host", self.request_host)
        data = body.encode() if isinstance(body, str) else body
        self.request_length = len(data or b"")
        return self._connections.send(method, url, data, headers, proxies=self.proxy)


def hook_fits(api: Any) -> bool:
    """Whether a tencentcloud ``ApiRequest`` still has what ``use_for`` replaces: a ``host`` and a ``conn``
    whose ``request(method, url, body, headers)`` it calls and whose ``request_length`` it reads."""
    conn = getattr(api, "conn", None)
    if not isinstance(getattr(api, "host", None), str) or conn is None or not hasattr(conn, "request_length"):
        return False
    try:
        params = list(inspect.signature(conn.request).parameters)
    except (TypeError, ValueError):
        return False
    return params[:4] == ["method", "url", "body", "headers"]


def use_for(client: Any, connections: Connections) -> Any:
    """Send a tencentcloud SDK client's requests through ``connections`` (see the module's docstring);
    where the SDK no longer has the shape the hook needs, leave the SDK's own sending path in place."""
    api = getattr(client, "request", None)  # ApiRequest: keeps building the URL and the Keep-Alive header itself
    if not hook_fits(api):
        log.warning("tencentcloud SDK without the connection hook: CLS uploads use the SDK's own sending path")
        return client
    api.conn = _ClsConnection(connections, api.host, api.conn)
    return client
