"""``python index.py streams``: which streams are live, from the stored push (1) and stop (0) objects.

The rule (DESIGN.md, "Stream state"; CSS's own advice, https://cloud.tencent.com/document/product/267/90746):
a session is a ``(stream, sequence)`` pair; a stop ends only the session with its ``sequence``; a stream
is live when its latest session has a start and no end. "Latest" is by the session's start time; a
session whose push never arrived (only its stop did) is placed by its stop time. Ties go to the larger
sequence. Callbacks arrive out of order and repeatedly, so the answer depends only on the set of
stored events, never on the order they came in: the same objects give the same answer.

Objects the reconcile job made up (``source: "reconcile"``, cssai/jobs/corrections.py) count only where no
callback says the same: a callback's start or stop time wins over a reconciled one, and a made-up session
(``sequence`` ``reconcile-{start}``) whose start is within a few seconds of a callback's session is that
session. ``reconciled`` is true when the latest session's start or end is a made-up one.

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
    start_made: bool = False  # the start is a reconciled one (no push callback)
    end_made: bool = False  # the stop is a reconciled one (no interruption callback)

    @property
    def reconciled(self) -> bool:
        return self.start_made or self.end_made

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
    reconciled: bool = False
    history: list[Session] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc.pop("history")
        return doc


def states(docs: Iterable[dict[str, Any]]) -> list[StreamState]:
    """The state of every stream in ``docs`` (stored stream objects), sorted by stream id."""
    by_stream: dict[str, dict[str, _Seen]] = {}
    for doc in docs:
        stream, event, seq = doc.get("stream_id"), doc.get("event"), doc.get("sequence")
        when = doc.get("event_time")
        if not isinstance(stream, str) or event not in ("start", "stop"):
            continue
        sequence = seq if isinstance(seq, str) else "" if seq is None else str(seq)
        when = when if isinstance(when, int) and not isinstance(when, bool) else None
        seen = by_stream.setdefault(stream, {}).setdefault(sequence, _Seen())
        seen.add(event, when, doc, made=doc.get("source") == MADE_UP)
    result = []
    for stream, seen in sorted(by_stream.items()):
        ordered = sorted(_merged({seq: s.session(seq) for seq, s in seen.items()}).values(), key=lambda s: s.order)
        latest = ordered[-1]
        live = latest.start is not None and not latest.stopped
        result.append(StreamState(stream, live, latest.sequence, latest.start, latest.end,
                                  None if live else latest.stop_reason, len(ordered), latest.reconciled, ordered))
    return result


MADE_UP = "reconcile"
MADE_UP_PREFIX = "reconcile-"
MERGE_SECONDS = 5  # cssai/jobs/corrections.TOLERANCE_SECONDS: the rule that matched the session


@dataclass
class _Seen:
    """One session's objects, callbacks apart from reconciled ones."""

    starts: list[int] = field(default_factory=list)
    made_starts: list[int] = field(default_factory=list)
    stops: list[int] = field(default_factory=list)
    made_stops: list[int] = field(default_factory=list)
    stopped: bool = False
    made_stopped: bool = False
    stop_reason: str | None = None
    node: str | None = None
    user_ip: str | None = None

    def add(self, event: str, when: int | None, doc: dict[str, Any], made: bool) -> None:
        if event == "start":
            if when is not None:
                (self.made_starts if made else self.starts).append(when)
            if not made:
                self.node, self.user_ip = doc.get("node"), doc.get("user_ip")
        elif made:
            self.made_stopped = True
            if when is not None:
                self.made_stops.append(when)
        else:  # a stop ends its session, whatever its time says
            self.stopped = True
            if when is not None:
                self.stops.append(when)
            self.stop_reason = doc.get("stop_reason")

    def session(self, sequence: str) -> Session:
        start = min(self.starts) if self.starts else min(self.made_starts) if self.made_starts else None
        end_made = not self.stopped and self.made_stopped
        ends = self.made_stops if end_made else self.stops
        return Session(sequence, start, max(ends) if ends else None, self.stopped or self.made_stopped,
                       "reconciled" if end_made else self.stop_reason, self.node, self.user_ip,
                       start_made=not self.starts and bool(self.made_starts), end_made=end_made)


def _merged(sessions: dict[str, Session]) -> dict[str, Session]:
    """A made-up session (``reconcile-{start}``) whose start is within ``MERGE_SECONDS`` of a callback's
    session is that session: its made-up end fills the callback session's missing one. A made-up session
    still open is ended by the first callback session after it that has a stop and no start (its push never
    came, its stop came after the job made the start up)."""
    for sequence, made in list(sessions.items()):
        if not sequence.startswith(MADE_UP_PREFIX) or made.start is None:
            continue
        twin = next((s for q, s in sessions.items() if not q.startswith(MADE_UP_PREFIX) and s.start is not None
                     and abs(s.start - made.start) <= MERGE_SECONDS), None)
        if twin is not None:
            if not twin.stopped and made.stopped:
                twin.stopped, twin.end, twin.end_made, twin.stop_reason = True, made.end, True, "reconciled"
            del sessions[sequence]
            continue
        if made.stopped:
            continue
        # a made-up start still open, and a callback session that has only its stop, after it: one session
        ends = [s for q, s in sessions.items() if not q.startswith(MADE_UP_PREFIX) and s.start is None
                and s.stopped and s.end is not None and s.end >= made.start]
        if ends:
            twin = min(ends, key=lambda s: s.end or 0)
            twin.start, twin.start_made = made.start, True
            del sessions[sequence]
    return sessions


def load(objects: ObjectSink, stream: str | None = None, *, folder: str | None = None) -> list[dict[str, Any]]:
    """Every stored stream object (``streams/{stream}/{date}/…``; one stream's, or one folder's: a stream id
    already sanitised), fetched 16 at a time."""
    if folder is None and stream is not None:
        folder = keys.segment(stream)
    prefix = f"streams/{folder}/" if folder is not None else "streams/"
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
