"""The plan a handler returns: what to store, never how. Sinks decide the how."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from cssai import text
from cssai.identity import PLAUSIBLE_SECONDS

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


class RecordStream(Protocol):
    """Many records, made while they are uploaded (a batch at a time) instead of all at once.

    A 6 MB 344 carries ~150,000 frames: as LogRecords at once they would take ~80 MB.
    Iterating twice must give the same records.
    """

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[LogRecord]: ...


@dataclass
class Plan:
    objects: list[PutObject] = field(default_factory=list)
    records: list[LogRecord] = field(default_factory=list)
    copies: list[CopyObject] = field(default_factory=list)
    streams: list[RecordStream] = field(default_factory=list)
    common: dict[str, str] = field(default_factory=dict)  # fields every record carries, added by the sink
    # Written only by the delivery that holds the claim, after the objects and before the marker: never by a
    # duplicate (the forward outbox: an entry delivered and removed must not come back on a redelivery)
    outbox: list[PutObject] = field(default_factory=list)
    date: str = "undated"  # the event's own date, for dead letters the executor writes

    def extend(self, other: Plan) -> None:
        self.objects.extend(other.objects)
        self.records.extend(other.records)
        self.copies.extend(other.copies)
        self.streams.extend(other.streams)

    def all_records(self) -> Iterator[LogRecord]:
        return itertools.chain(self.records, *self.streams)

    @property
    def record_count(self) -> int:
        return len(self.records) + sum(len(s) for s in self.streams)

    @property
    def size(self) -> int:
        return len(self.objects) + self.record_count + len(self.copies) + len(self.outbox)


# Built once, not per call. allow_nan=False: a stored object is strict JSON or is not written at all.
_STABLE = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)


def json_bytes(value: Any) -> bytes:
    """Stable JSON for stored objects: same content, same bytes, on every retry (lone surrogates -> U+FFFD)."""
    return text.utf8(_STABLE.encode(value))


def json_object(key: str, value: Any) -> PutObject:
    return PutObject(key=key, body=json_bytes(value))


MAX_RECORD_MS = PLAUSIBLE_SECONDS * 1000 - 1
OUT_OF_RANGE = "record_time_out_of_range"


def record_time(time_ms: int, fields: dict[str, str]) -> int:
    """A record time CLS can take: within [0, MAX_RECORD_MS] (protobuf's int64 overflows past 2**63).

    A time outside it is clamped, and the original kept in the record as ``record_time_out_of_range``:
    the same on every sink, so the local folder and CLS agree on what was stored.
    """
    if 0 <= time_ms <= MAX_RECORD_MS:
        return time_ms
    fields[OUT_OF_RANGE] = str(time_ms)
    return 0 if time_ms < 0 else MAX_RECORD_MS


# CLS field names: no leading underscore (UploadLog limits, https://www.tencentcloud.com/document/product/614/
# 78959) and, to be searchable by a key-value index, letters, digits and _ (index configuration,
# https://www.tencentcloud.com/document/product/614/39594). The receiver's own names all fit; a body's
# undocumented names are written as ``x_{name}`` with every other character made ``_``, so a body can
# never write ``kind``, ``event_id``, the time or ``alert`` (nothing of the receiver's starts with ``x_``).
EXTRA_PREFIX = "x_"
MAX_KEY = 64
CLS_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_NOT_KEY = re.compile(r"[^A-Za-z0-9_]")


def extra_fields(extras: dict[str, Any] | None) -> dict[str, Any]:
    """A body's undocumented scalar members as record fields ``x_{name}``; a name that cannot be made a valid
    key, or that another extra already took, is left out of the record (the object keeps it as sent)."""
    out: dict[str, Any] = {}
    for name, value in (extras or {}).items():
        if isinstance(value, (dict, list)) or value is None:
            continue  # the event's object keeps structured members; a record holds flat values
        key = EXTRA_PREFIX + _NOT_KEY.sub("_", name)
        if len(key) <= MAX_KEY and key not in out:
            out[key] = value
    return out


def record(time_ms: int, /, extras: dict[str, Any] | None = None, **fields: Any) -> LogRecord:
    """A CLS record; None is dropped, lists are comma-joined, everything else becomes a string.

    ``extras``: the body's undocumented members, added as ``x_{name}`` (``extra_fields``), never over a field.
    """
    if extras:
        fields = {**extra_fields(extras), **fields}
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
    return LogRecord(time_ms=record_time(time_ms, flat), fields=flat)
