"""Who an event is and when it happened, from its content alone.

The id ignores ``t`` and ``sign`` so that a re-signed redelivery is the same event;
the date comes from the event's own times, never the receiver's clock.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

UNSIGNED = ("t", "sign")
UNDATED = "undated"


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


def canonical(body: dict[str, Any]) -> bytes:
    """Sorted keys, no spaces, non-ASCII escaped: ``json.dumps(body, sort_keys=True, separators=(",", ":"))``.

    Python's own default, so anyone can recompute an event id with one line of stdlib.
    """
    content = {k: v for k, v in body.items() if k not in UNSIGNED}
    return _CANONICAL.encode(content).encode()


def event_id(body: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(body)).hexdigest()


def day(unix_seconds: int | float | None) -> str:
    """UTC date of a unix time, or ``undated`` when the time is absent or absurd."""
    if unix_seconds is None or isinstance(unix_seconds, bool):
        return UNDATED
    try:
        return _day_of(int(unix_seconds // 86400))
    except (OverflowError, OSError, ValueError):
        return UNDATED


@lru_cache(maxsize=4096)
def _day_of(days: int) -> str:
    return datetime.fromtimestamp(days * 86400, tz=timezone.utc).strftime("%Y-%m-%d")


def event_seconds(body: dict[str, Any]) -> int | None:
    """The event's own time in unix seconds, wherever its family keeps it."""
    candidates: list[Any] = [body.get("event_time")]
    items = body.get("items")
    if isinstance(items, list) and items and isinstance(items[0], dict):
        candidates.append(items[0].get("begin_time"))
    data = body.get("data")
    if isinstance(data, dict):
        segs = data.get("subtitle_tmp_res")
        if isinstance(segs, list) and segs and isinstance(segs[0], dict):
            candidates.append(segs[0].get("start_unix_time"))
    for value in candidates:
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**11:
            return value
    return None
