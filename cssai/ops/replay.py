"""Re-drive archived or dead-lettered events through the pipeline, from the configured object sink.

Archived events were verified when they arrived, so replay does not check ``t``/``sign``
again (they have long expired). Replayed events are deduplicated like redeliveries
unless forced.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

from cssai import identity, pipeline
from cssai.body import BodyError, parse_object
from cssai.executor import marker_key, stored_status
from cssai.runtime import Runtime

SOURCES = {"archive": "events/", "deadletter": "deadletter/"}


@dataclass(frozen=True)
class Filters:
    date: str | None = None
    event_type: str | None = None
    stream: str | None = None
    event_id: str | None = None


@dataclass
class Summary:
    seen: int = 0
    stored: int = 0
    duplicate: int = 0
    invalid: int = 0
    failed: list[str] = field(default_factory=list)


def candidates(runtime: Runtime, source: str, filters: Filters) -> Iterator[tuple[str, bytes, dict[str, Any]]]:
    """(key, raw body, parsed body) of each matching event, read from the object sink."""
    objects = runtime.executor.objects
    for key in objects.list(SOURCES[source]):
        parts = key.split("/")
        if source == "archive" and len(parts) == 4:
            _, event_type, date, name = parts
        elif source == "deadletter" and len(parts) == 3:
            _, date, name = parts
            event_type = None
        else:
            continue
        if filters.date and date != filters.date:
            continue
        if filters.event_type and event_type is not None and event_type != filters.event_type:
            continue
        if filters.event_id and not name.startswith(filters.event_id):
            continue
        stored = objects.get(key)
        if stored is None:
            continue
        raw, body = _body(stored, source, objects)
        if body is None:
            continue
        if filters.event_type and str(body.get("event_type")) != filters.event_type:
            continue
        if filters.stream and body.get("stream_id", body.get("streamId")) != filters.stream:
            continue
        yield key, raw, body


def _body(stored: bytes, source: str, objects: Any) -> tuple[bytes, dict[str, Any] | None]:
    """The event's bytes and body: parsed as the receiver parses a callback (body.parse_object).

    A dead letter's ``event`` is what is replayed (an operator may have repaired it); one whose event
    could not be re-encoded holds only a pointer to the archived bytes (``archive``), read instead.
    """
    if source == "archive":
        return stored, _parsed(stored)
    try:
        doc = json.loads(stored)
    except ValueError:
        return stored, None
    if not isinstance(doc, dict):
        return stored, None
    event = doc.get("event")
    if isinstance(event, dict):
        return json.dumps(event, ensure_ascii=False).encode(), event
    archived = objects.get(doc["archive"]) if isinstance(doc.get("archive"), str) else None
    if archived is not None:
        return archived, _parsed(archived)
    return stored, None


def _parsed(raw: bytes) -> dict[str, Any] | None:
    try:
        return parse_object(raw)
    except BodyError:
        return None


def run(runtime: Runtime, source: str, filters: Filters, *, dry_run: bool, force: bool,
        out: TextIO | None = None, progress: TextIO | None = None) -> Summary:
    out = out or sys.stdout
    found = list(candidates(runtime, source, filters))
    summary = Summary()
    for index, (key, raw, body) in enumerate(found, start=1):
        summary.seen += 1
        event_id = identity.event_id(body)
        plan, status, reason = pipeline.route(body, event_id, raw, runtime)
        if dry_run:
            _count(summary, _dry_outcome(runtime, event_id, status, force))
            print(f"{key}: status {status}{' (' + reason + ')' if reason else ''}", file=out)
            for obj in plan.objects:
                print(f"  put {obj.key} ({len(obj.body)} bytes)", file=out)
            for copy in plan.copies:
                print(f"  copy {copy.source_bucket}/{copy.source_key} -> {copy.key}", file=out)
            print(f"  {plan.record_count} CLS record(s)", file=out)
        else:
            answer_by = time.monotonic() + runtime.settings.deadline_seconds
            try:
                outcome = runtime.executor.commit(plan, event_id, status, answer_by, force=force)
            except Exception as exc:  # keep going: report every failure at the end
                summary.failed.append(f"{key}: {exc}")
            else:
                _count(summary, "invalid" if outcome.status == 422 else "duplicate" if outcome.duplicate
                       else "stored")
        if progress is not None:
            _bar(progress, index, len(found))
    return summary


def _count(summary: Summary, outcome: str) -> None:
    if outcome == "invalid":
        summary.invalid += 1
    elif outcome == "duplicate":
        summary.duplicate += 1
    else:
        summary.stored += 1


def _dry_outcome(runtime: Runtime, event_id: str, status: int, force: bool) -> str:
    """What a real replay would do: a still-invalid event stays invalid; a marker means already stored."""
    if status == 422:
        return "invalid"
    if force:
        return "stored"
    marker = runtime.executor.objects.get(marker_key(event_id))
    return "duplicate" if marker is not None and stored_status(marker, status) == 200 else "stored"


def _bar(stream: TextIO, done: int, total: int, width: int = 30) -> None:
    filled = width * done // max(total, 1)
    end = "\n" if done == total else ""
    stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}{end}")
    stream.flush()
