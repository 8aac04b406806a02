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


# Where each event type keeps its own time (DESIGN.md, "Every CSS callback"; the doc pages are cited in
# each handler). A path is a tuple of keys, with 0 for "the first element of a list".
_SECONDS, _MILLIS = 1, 1000
_TIME_FIELDS: dict[int, tuple[tuple[tuple[str | int, ...], int], ...]] = {
    100: ((("end_time",), _SECONDS),),  # a recording file has no event_time
    200: ((("create_time",), _SECONDS),),
    315: ((("create_time",), _SECONDS), (("event_time",), _SECONDS)),
    317: ((("screenshotTime",), _SECONDS), (("sendTime",), _SECONDS)),
    321: ((("data_time",), _MILLIS),),
    338: ((("data", "subtitle_tmp_res", 0, "start_unix_time"), _SECONDS),),
    341: ((("timestamp",), _SECONDS),),
    347: ((("data", "subtitle_tmp_res", 0, "start_unix_time"), _SECONDS),),
    348: ((("begin_time",), _SECONDS),),
    349: ((("items", 0, "begin_time"), _SECONDS),),
}
_DEFAULT = ((("event_time",), _SECONDS),)
PLAUSIBLE_SECONDS = 10**11  # beyond the year 5138: not a time CSS sends


def event_seconds(body: dict[str, Any]) -> int | None:
    """The event's own time in unix seconds, wherever its family keeps it; None when absent or absurd.

    Read once per event (the pipeline passes it to the handler), from ints, floats and numeric strings
    alike (314 sends ``event_time`` as a string), so that every object of one event files under one date.
    """
    event_type = body.get("event_type")
    fields = _TIME_FIELDS.get(event_type, _DEFAULT) if isinstance(event_type, int) else _DEFAULT
    for path, unit in fields:
        value = _at(body, path)
        if value is None:
            continue
        seconds = as_number(value)
        if seconds is not None:
            seconds = int(seconds // unit)
            return seconds if 0 <= seconds < PLAUSIBLE_SECONDS else None
    return None


def as_number(value: object) -> int | float | None:
    """An int or finite float from a JSON number or a numeric string; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, str) and 0 < len(value) <= 40:
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            return None
        return number if number == number and abs(number) != float("inf") else None
    return None


def _at(body: dict[str, Any], path: tuple[str | int, ...]) -> Any:
    node: Any = body
    for step in path:
        if isinstance(step, int):
            if not isinstance(node, list) or not node:
                return None
            node = node[0]
        else:
            if not isinstance(node, dict):
                return None
            node = node.get(step)
    return node
