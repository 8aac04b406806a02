"""The operator's own backend on 127.0.0.1: it verifies what the receiver forwards and can fail on purpose.

Verifies a ``css`` forward as a CSS receiver does (``sign == md5(key + t)``, ``t`` in the future) and a
``standard`` one with the ``standardwebhooks`` library's own ``verify``. ``mode`` decides the answer:
``ok`` (200), ``500``, ``redirect`` (302 to elsewhere), ``hang`` (answers after ``hang_seconds``), and the
FaultyServer faults (drop, kill_before, kill_after...) by pattern. ``stop()`` makes it refuse connections.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

from tests.fake_http import FaultyHandler, FaultyServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    why: str

    @property
    def event_id(self) -> str:
        return self.headers.get("x-css-event-id", "")

    def json(self) -> Any:
        return json.loads(self.body)


class DownstreamHandler(FaultyHandler):
    server: Downstream

    def do_POST(self) -> None:
        body = self.read_body()
        if self.apply_fault(self.path):
            return
        self.target = self.path
        verified, why = self.server.verify(body, {k.lower(): v for k, v in self.headers.items()})
        with self.server.lock:
            self.server.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body,
                                                 verified, why))
        mode = self.server.mode
        if mode == "hang":
            time.sleep(self.server.hang_seconds)
        if mode == "500":
            self.answer(500, b"busy", "text/plain")
        elif mode == "redirect":
            self.answer(302, b"", "text/plain", {"Location": "http://127.0.0.1:9/elsewhere"})
        elif not verified:
            self.answer(401, why.encode(), "text/plain")
        else:
            self.answer(200, b'{"ok":true}', "application/json")


class Downstream(FaultyServer):
    def __init__(self, *, key: str | None = None, secret: str | None = None, port: int = 0) -> None:
        super().__init__(DownstreamHandler, port)
        self.key = key  # css mode: the key the operator's backend verifies with
        self.secret = secret  # standard mode: whsec_...
        self.received: list[Received] = []
        self.mode = "ok"
        self.hang_seconds = 10.0

    def verify(self, body: bytes, headers: dict[str, str]) -> tuple[bool, str]:
        if headers.get("content-type") != "application/json" or not headers.get("x-css-event-id"):
            return False, "missing Content-Type or X-CSS-Event-Id"
        if self.secret is not None:
            from standardwebhooks.webhooks import Webhook, WebhookVerificationError

            try:
                Webhook(self.secret).verify(body, headers)
            except WebhookVerificationError as exc:
                return False, f"standard webhooks: {exc}"
            return True, "standard"
        if self.key is None:
            return True, "unsigned"
        doc = json.loads(body)
        t, sign = doc.get("t"), doc.get("sign")
        if not isinstance(t, int) or not isinstance(sign, str):
            return False, "no t/sign"
        expected = hashlib.md5((self.key + str(t)).encode()).hexdigest()
        if not hmac.compare_digest(expected, sign) or t < time.time():
            return False, "bad sign or t passed"
        return True, "css"

    def of(self, event_id: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.event_id == event_id]
