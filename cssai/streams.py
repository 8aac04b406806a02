"""``python index.py streams``: which streams are live, from the stored push (1) and stop (0) objects.

The rule (DESIGN.md, "Stream state"; CSS's own advice, https://cloud.tencent.com/document/product/267/90746):
a session is a ``(stream, sequence)`` pair; a stop ends only the session with its ``sequence``; a stream
is live when its latest session has a start and no end. "Latest" is by the session's start time; a
session whose push never arrived (only its stop did) is placed by its stop time. Ties go to the larger
sequence. Callbacks arrive out of order and repeatedly, so the answer depends only on the set of
stored events, never on the order they came in: the same objects give the same answer.

The same answer from CLS (the ``stream_start``/``stream_end`` records) is the query in the README.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from cssai import keys
from cssai.sinks import ObjectSink

FETCHERS = 16


@dataclass
class Session:
    sequence: str
    start: int | None = None  # event_time of its push
    end: int | None = None  # event_time of its stop
    stopped: bool = False
    stop_reason: str | None = None
    node: str | None = None
    user_ip: str | None = None

    @property
    def order(self) -> tuple[int, int, str]:
        placed = self.start if self.start is not None else self.end if self.end is not None else -1
        return placed, _number(self.sequence), self.sequence


@dataclass
class StreamState:
    stream_id: str
    live: bool
    sequence: str
    since: int | None
    ended: int | None
    stop_reason: str | None
    sessions: int
    history: list[Session] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc.pop("history")
        return doc


def states(docs: Iterable[dict[str, Any]]) -> list[StreamState]:
    """The state of every stream in ``docs`` (stored stream objects), sorted by stream id."""
    by_stream: dict[str, dict[str, Session]] = {}
    for doc in docs:
        stream, event, seq = doc.get("stream_id"), doc.get("event"), doc.get("sequence")
        when = doc.get("event_time")
        if not isinstance(stream, str) or event not in ("start", "stop"):
            continue
        sequence = seq if isinstance(seq, str) else "" if seq is None else str(seq)
        when = when if isinstance(when, int) and not isinstance(when, bool) else None
        session = by_stream.setdefault(stream, {}).setdefault(sequence, Session(sequence))
        if event == "start":
            if when is not None:
                session.start = when if session.start is None else min(session.start, when)
            session.node, session.user_ip = doc.get("node"), doc.get("user_ip")
        else:  # a stop ends its session, whatever its time says
            session.stopped = True
            if when is not None:
                session.end = when if session.end is None else max(session.end, when)
            session.stop_reason = doc.get("stop_reason")
    result = []
    for stream, sessions in sorted(by_stream.items()):
        ordered = sorted(sessions.values(), key=lambda s: s.order)
        latest = ordered[-1]
        live = latest.start is not None and not latest.stopped
        result.append(StreamState(stream, live, latest.sequence, latest.start, latest.end,
                                  None if live else latest.stop_reason, len(ordered), ordered))
    return result


def load(objects: ObjectSink, stream: str | None = None) -> list[dict[str, Any]]:
    """Every stored stream object (``streams/{stream}/{date}/…``), fetched 16 at a time."""
    prefix = f"streams/{keys.segment(stream)}/" if stream is not None else "streams/"
    wanted = [k for k in objects.list(prefix) if k.endswith(".json")]
    docs = []
    with ThreadPoolExecutor(max_workers=FETCHERS) as pool:
        for raw in pool.map(objects.get, wanted):
            try:
                doc = json.loads(raw or b"")
            except ValueError:
                continue
            if isinstance(doc, dict):
                docs.append(doc)
    return docs


def _number(sequence: str) -> int:
    return int(sequence) if sequence.isdigit() and len(sequence) < 40 else -1
