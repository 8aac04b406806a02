"""The plan a handler returns: what to store, never how. Sinks decide the how."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, NamedTuple

JSON_TYPE = "application/json"


@dataclass(frozen=True)
class PutObject:
    """One object, keyed by content so that a retry overwrites instead of duplicating."""

    key: str
    body: bytes
    content_type: str = JSON_TYPE


class LogRecord(NamedTuple):
    """One CLS record: flat string fields and the event's own time in milliseconds.

    A tuple rather than a frozen dataclass: a 100,000-frame event makes 100,000 of them.
    """

    time_ms: int
    fields: dict[str, str]


@dataclass(frozen=True)
class CopyObject:
    """A server-side COS copy of an allowlisted source object into the bucket."""

    source_bucket: str
    source_region: str
    source_key: str
    key: str


@dataclass
class Plan:
    objects: list[PutObject] = field(default_factory=list)
    records: list[LogRecord] = field(default_factory=list)
    copies: list[CopyObject] = field(default_factory=list)

    def extend(self, other: Plan) -> None:
        self.objects.extend(other.objects)
        self.records.extend(other.records)
        self.copies.extend(other.copies)

    @property
    def size(self) -> int:
        return len(self.objects) + len(self.records) + len(self.copies)


_STABLE = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))  # built once, not per call
_STABLE_ASCII = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


def json_bytes(value: Any) -> bytes:
    """Stable JSON for stored objects: same content, same bytes, on every retry."""
    text = _STABLE.encode(value)
    try:
        return text.encode()
    except UnicodeEncodeError:  # lone surrogates from "\ud800" escapes: keep them escaped
        return _STABLE_ASCII.encode(value).encode()


def json_object(key: str, value: Any) -> PutObject:
    return PutObject(key=key, body=json_bytes(value))


def record(time_ms: int, **fields: Any) -> LogRecord:
    """A CLS record; None is dropped, lists are comma-joined, everything else becomes a string."""
    flat: dict[str, str] = {}
    for name, value in fields.items():
        kind = type(value)
        if kind is str:
            flat[name] = value
        elif value is None:
            continue
        elif kind is bool:
            flat[name] = "true" if value else "false"
        elif kind is list or kind is tuple:
            flat[name] = ",".join(str(v) for v in value)
        else:
            flat[name] = str(value)
    return LogRecord(time_ms=time_ms, fields=flat)
