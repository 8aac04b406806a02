"""Pure: which starts and ends the stored callbacks lack, compared with CSS's sessions and online list.

**Matching a session without ``sequence``** (DescribeLiveStreamEventList has none). A CSS session of stream X
that started at S (and ended at E) is matched against X's stored start/stop objects (callbacks, recovered
callbacks, and earlier reconciled objects alike):
- its start: a stored start whose ``event_time`` is within ``TOLERANCE_SECONDS`` of S (the closest);
- its end: a stored stop with that start's ``sequence`` (a stop ends its session whatever its time), else a
  stored stop within ``TOLERANCE_SECONDS`` of E;
- its ``sequence``: the matched start's, else the matched stop's, else ``reconcile-{S}`` (made up, never a
  number: a callback that comes later with the real sequence is merged by ``cssai.streams`` by the same
  start-time rule).
What is not matched becomes a reconciled start at S or a reconciled end at E (``basis: "session_list"``).
**Not online.** A stream the stored objects show live, that CSS does not list online, whose latest object is
dated more than ``QUIET_SECONDS`` ago, gets a reconciled end for its latest session (``basis:
"online_list"``), at the end CSS reported for that session if any, else at the time it was found.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from cssai import identity, keys
from cssai.jobs.css_records import CssSession
from cssai.writes import LogRecord, PutObject, json_object, record

TOLERANCE_SECONDS = 5  # a push callback's event_time and CSS's StreamStartTime: the same second in practice
QUIET_SECONDS = 120  # DESIGN.md: no callback received or dated in the last 120 s before an end is made up
SOURCE = "reconcile"


@dataclass(frozen=True)
class Correction:
    """A start or end the stored callbacks lack, to be written as a reconciled stream object and a gap."""

    stream: str
    event: str  # start | stop
    sequence: str
    time: int
    basis: str  # session_list | online_list
    session: CssSession | None = None
    estimated: bool = False  # the end time is when the job found the stream offline, not CSS's

    @property
    def identity(self) -> str:
        text = f"{self.stream}\n{self.event}\n{self.sequence}\n{self.time}"
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

    def doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"stream_id": self.stream, "event": self.event, "sequence": self.sequence,
                               "event_time": self.time, "source": SOURCE, "basis": self.basis,
                               "reconcile_id": self.identity}
        if self.estimated:
            doc["end_estimated"] = True
        if self.session is not None:
            doc["css_session"] = {"start": self.session.start, "end": self.session.end,
                                  "domain": self.session.domain, "app": self.session.app,
                                  "stop_reason": self.session.stop_reason, "client_ip": self.session.client_ip}
        return doc

    def stream_object(self) -> PutObject:
        """``streams/{stream}/{date}/{time}-{sequence}-{event}-r{id}.json``: named as a callback's, keyed by content."""
        name = f"{self.time}-{keys.segment(self.sequence)}-{self.event}-r{self.identity[:16]}.json"
        return json_object(keys.join("streams", keys.segment(self.stream), identity.day(self.time), name),
                           self.doc())

    def stream_record(self) -> LogRecord:
        """The ``stream_start``/``stream_end`` record a callback would have made, marked ``source: reconcile``."""
        return record(self.time * 1000, kind="stream_start" if self.event == "start" else "stream_end",
                      stream_id=self.stream, sequence=self.sequence, event_time=self.time, source=SOURCE,
                      basis=self.basis)

    def gap(self) -> dict[str, Any]:
        what = "start" if self.event == "start" else "end"
        how = ("CSS's session list" if self.basis == "session_list" else "CSS's online list (stream not online)")
        return {"gap": f"stream_{what}", "stream_id": self.stream, "time": self.time, "sequence": self.sequence,
                "detail": f"no {what} callback for this session; {what} made up from {how}",
                "id": self.identity, "reconciled": self.stream_object().key}


def session_corrections(stream: str, css: list[CssSession], docs: list[dict[str, Any]]) -> list[Correction]:
    """The starts and ends of ``css`` (one stream's sessions) that ``docs`` (its stored objects) lack."""
    starts = [d for d in docs if d.get("event") == "start" and _time(d) is not None]
    stops = [d for d in docs if d.get("event") == "stop"]
    out = []
    for session in css:
        start = _closest(starts, session.start)
        sequence = _sequence(start) if start is not None else None
        stop = None
        if sequence is not None:
            stop = next((d for d in stops if _sequence(d) == sequence), None)
        if stop is None and session.end is not None:
            stop = _closest([d for d in stops if _time(d) is not None], session.end)
        if sequence is None and stop is not None:
            sequence = _sequence(stop)
        sequence = sequence if sequence is not None else f"reconcile-{session.start}"
        if start is None:
            out.append(Correction(stream, "start", sequence, session.start, "session_list", session))
        if stop is None and session.end is not None:
            out.append(Correction(stream, "stop", sequence, session.end, "session_list", session))
    return out


def offline_end(stream: str, sequence: str, docs: list[dict[str, Any]], css: list[CssSession], now: int,
                latest_start: int | None) -> Correction | None:
    """A reconciled end for a stream shown live that CSS does not list online; None while it may be in flight."""
    times = [t for t in (_time(d) for d in docs) if t is not None]
    if times and max(times) > now - QUIET_SECONDS:
        return None
    ended = None
    if latest_start is not None:
        near = [s for s in css if abs(s.start - latest_start) <= TOLERANCE_SECONDS and s.end is not None]
        ended = near[0] if near else None
    if ended is not None and ended.end is not None:
        return Correction(stream, "stop", sequence, ended.end, "online_list", ended)
    return Correction(stream, "stop", sequence, now, "online_list", None, estimated=True)


def _closest(docs: list[dict[str, Any]], when: int) -> dict[str, Any] | None:
    near = [d for d in docs if abs((_time(d) or 0) - when) <= TOLERANCE_SECONDS]
    return min(near, key=lambda d: abs((_time(d) or 0) - when)) if near else None


def _time(doc: dict[str, Any]) -> int | None:
    value = doc.get("event_time")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _sequence(doc: dict[str, Any]) -> str:
    value = doc.get("sequence")
    return value if isinstance(value, str) else "" if value is None else str(value)
