"""One forward: the body and headers for an entry, the POST, and what its answer does to the entry.

Every forward is a POST with ``Content-Type: application/json`` and ``X-CSS-Event-Id`` (the downstream's
idempotency key, the same on every repeat). A 2xx delivers it; anything else (3xx included: redirects are
not followed), a timeout or a refused connection is a failure. Sent through the receiver's keep-alive
transport (``cssai.sinks.transport``: TLS checked against certifi's bundle, proxies from the environment).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cssai.jobs import signing
from cssai.jobs.outbox import Entry
from cssai.settings import MAX_RETRY_SECONDS, Settings
from cssai.sinks import LogSink, ObjectSink, SinkError
from cssai.sinks.transport import Connections
from cssai.writes import record

RELAY = 314  # never signed by CSS: forwarded as received in css mode
RECORD_WAIT_SECONDS = 5.0


@dataclass(frozen=True)
class Answer:
    ok: bool
    status: int | None  # None: no HTTP answer (refused, timed out, reset)
    ms: float
    error: str = ""


def prepared(entry: Entry, raw: bytes, settings: Settings, now: float) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one attempt at ``now`` (re-signed on every attempt)."""
    headers = {"Content-Type": "application/json", "X-CSS-Event-Id": entry.event_id}
    if settings.forward_signing == "standard":
        key = signing.secret_bytes(settings.forward_secret)
        return raw, {**headers, **signing.standard_headers(entry.event_id, int(now), raw, key)}
    keys = settings.callback_keys
    if not keys or entry.event_type == RELAY:
        return raw, headers
    return signing.css_body(raw, keys[0], now), headers


def post(connections: Connections, url: str, body: bytes, headers: Mapping[str, str]) -> Answer:
    started = time.monotonic()
    try:
        response = connections.send("POST", url, body, {**headers, "Content-Length": str(len(body))})
    except (OSError, ValueError) as exc:  # refused, reset, timed out, TLS, a URL that cannot be sent
        return Answer(False, None, _ms(started), f"{type(exc).__name__}: {str(exc)[:200]}")
    ms = _ms(started)
    if 200 <= response.status_code < 300:
        return Answer(True, response.status_code, ms)
    return Answer(False, response.status_code, ms, f"HTTP {response.status_code}")


def _quietly(upload: Any, *args: Any) -> None:
    """Bookkeeping: the forward itself was delivered whether or not its record lands."""
    with contextlib.suppress(SinkError):
        upload(*args)


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


def settle(entry: Entry, answer: Answer, objects: ObjectSink, logs: LogSink, settings: Settings,
           now: float) -> str:
    """Delivered: remove the entry and write ``kind: forwarded``. Failed: the entry with its next due time.

    A write that fails here leaves the entry as it was: sent again by the job (at least once), never lost.
    """
    if answer.ok:
        rec = record(int(now * 1000), kind="forwarded", target=entry.target, status=answer.status, ms=answer.ms,
                     attempt=entry.attempts + 1)
        noted = threading.Thread(target=_quietly, args=(logs.upload, [rec], {  # beside the removal: one round trip
            "event_id": entry.event_id, "event_type": str(entry.event_type)}), daemon=True)
        noted.start()
        try:
            objects.delete(entry.key)
        except SinkError as exc:
            return f"delivered ({answer.status}); the entry stays (removal failed: {exc}), so it may repeat"
        finally:
            noted.join(RECORD_WAIT_SECONDS)
        return f"delivered ({answer.status})"
    later = entry.failed(answer.error, answer.status, now, settings.forward_retry_base_seconds, MAX_RETRY_SECONDS)
    with contextlib.suppress(SinkError):  # else it stays due now: tried again sooner, nothing lost
        objects.put(later.put(), entry.event_id, if_absent=False)
    return f"failed ({answer.error}); next at {int(later.due)}"
