"""The ``reconcile`` job: what CSS kept but never delivered, and the stream state its callbacks left wrong.

Run by the timer (at most once per ``RECONCILE_EVERY_SECONDS``; sooner when the last run left work for the
next; in a process of its own, cssai/jobs/isolated.py, as ``python -m cssai.jobs.reconcile``) and by
``python index.py reconcile``, the same code. Over the window ``[now - RECONCILE_LOOKBACK_SECONDS,
now - 60 s]`` (or the one given):

1. **Streams to check**: every stream CSS reports a session for in the window (DescribeLiveStreamEventList),
   and every stream the stored objects show live (read from the object names under ``streams/``, so a run
   does not fetch the whole history).
2. **Recover**, per stream: every callback attempt CSS kept (DescribeCallbackRecordsList) whose ``Request``
   is a callback object not stored yet goes through the delivery path (``pipeline.store``, ``recovered``;
   no t/sign check: it came from CSS's authenticated API). One that was not delivered and cannot be read is
   a gap.
3. **Correct state**, per stream: the starts and ends the stored objects lack (cssai/jobs/corrections.py),
   and an end for a stream shown live that CSS does not list online (DescribeLiveStreamOnlineList).
4. **Report**: every gap once: ``alerts/delivery/{stream}/{date}/…`` (its existence is what makes a second
   run quiet), a CLS ``delivery_gap`` record and a ``delivery_gap`` notification.

A run holds the job's lease (``jobs/reconcile/``), spends at most ``RECONCILE_MAX_CALLS`` live API calls (a
timer's run; an operator's covers the window it was given) and the time it has, and keeps a cursor (the
window and the last stream done) in ``jobs/reconcile/state.json`` so the next run finishes the window.
``dry_run`` reads everything and writes nothing at all (no lease, no state, no record).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from cssai import executor, identity, keys, logs, pipeline, streams
from cssai.body import BodyError, parse_object
from cssai.jobs import corrections, css_records, pace
from cssai.jobs.corrections import Correction
from cssai.jobs.css_records import Attempt, CssSession
from cssai.jobs.lease import JobLease
from cssai.jobs.live_api import LiveApi, LiveApiError, OutOfCallsError, utc
from cssai.runtime import Runtime
from cssai.sinks import SinkError
from cssai.writes import PutObject, json_bytes, json_object, record

JOB = pace.JOB
SETTLE_SECONDS = 60  # the window ends a minute ago: CSS is still trying the last minute's callbacks
ONLINE_EVERY_SECONDS = 60  # DescribeLiveStreamOnlineList: "once a minute is recommended" (267/20472)
AFTER_END_SECONDS = 1800  # CSS retries for ~12 minutes; recording files are called back after the end
STORE_SECONDS = 15.0  # each recovered callback's own deadline, as a delivery's
MAX_DETAIL = 300
DONE, MORE, FAILED = "done", "more", "failed"
OPERATOR_MAX_CALLS = 100_000  # an operator's run covers the window it was given, paced at 20 calls/s


@dataclass
class Summary:
    job: str = JOB
    window: list[str] = field(default_factory=list)
    streams: int = 0  # checked in this run
    recovered: dict[str, int] = field(default_factory=dict)  # per event type
    already: int = 0  # attempts whose event was stored
    invalid: int = 0  # recovered, but dead-lettered (422)
    failed: int = 0  # could not be stored now: the next run tries again
    reconciled: int = 0
    gaps: int = 0
    calls: dict[str, int] = field(default_factory=dict)
    throttled: int = 0
    clipped: list[str] = field(default_factory=list)
    remaining: int = 0  # streams left for the next run
    stopped: str = ""
    dry_run: bool = False
    would: list[str] = field(default_factory=list)  # dry run: what it would do
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        keep = ("job", "window", "streams", "recovered", "already", "invalid", "failed", "reconciled", "gaps",
                "calls", "remaining")
        out = {k: v for k, v in self.__dict__.items() if v or k in keep}
        out["api_calls"] = sum(self.calls.values())
        out["errors"] = self.errors[:10]
        if self.dry_run:
            out["would"] = self.would[:200]
        return out


@dataclass
class Window:
    start: int
    end: int
    after: str = ""  # streams up to this one (sorted) are done


def run(runtime: Runtime, deadline: float, *, since: int | None = None, until: int | None = None,
        stream: str | None = None, dry_run: bool = False, timer: bool = False) -> dict[str, Any]:
    """One run (the timer's, paced; or an operator's): its summary, also logged and recorded in CLS."""
    settings, objects = runtime.settings, runtime.executor.objects
    now = time.time()
    state = pace.read(objects)
    why = pace.not_due(settings, state, now) if timer else None
    if why is not None:
        return {"job": JOB, "skipped": why}
    window = _window(settings, state, now, since, until, resume=timer)
    lease = None if dry_run else JobLease(objects, JOB)
    try:
        if lease is not None and not lease.acquire():
            return {"job": JOB, "skipped": "another run holds the reconcile lease"}
    except SinkError as exc:
        return {"job": JOB, "error": f"the lease could not be read or taken: {exc}"}
    summary = Summary(window=[utc(window.start), utc(window.end)], dry_run=dry_run)
    api = LiveApi(settings, settings.reconcile_max_calls if timer else OPERATOR_MAX_CALLS, deadline)
    ended = FAILED  # what the state says if the run dies of something unexpected
    try:
        ended = Run(runtime, api, summary, window, dry_run, lease).go(stream, state, now)
    finally:
        summary.calls, summary.throttled = dict(api.calls), api.throttled
        if lease is not None:
            with contextlib.suppress(SinkError):
                if timer or (since is None and until is None and stream is None):
                    _write_state(objects, state, now, window, ended)
            lease.release()
    result = summary.as_dict()
    logs.event("reconcile", logging.ERROR if summary.errors or summary.stopped else logging.INFO, **result)
    if not dry_run:
        with contextlib.suppress(SinkError):
            runtime.executor.logs.upload([_run_record(summary, now)], {"event_id": f"reconcile-run-{int(now)}",
                                                                         "event_type": "reconcile"})
    return result


class Run:
    """One run's work; stops (leaving the cursor) when its calls, its time or the lease run out."""

    def __init__(self, runtime: Runtime, api: LiveApi, summary: Summary, window: Window, dry_run: bool,
                 lease: JobLease | None) -> None:
        self.runtime, self.api, self.summary, self.window = runtime, api, summary, window
        self.dry_run, self.lease = dry_run, lease
        self.objects = runtime.executor.objects
        self.seen: set[str] = set()  # event ids handled in this run (CSS keeps every retry of one callback)

    def go(self, only: str | None, state: dict[str, Any], now: float) -> str:
        """DONE (the whole window), MORE (the calls, the time or the lease ran out: the next run goes on at once)
        or FAILED (an API or storage error: the next run goes on when it is due)."""
        window, summary = self.window, self.summary
        try:
            sessions, clipped = css_records.sessions(self.api, window.start, window.end, now, only)
            if clipped is not None:
                summary.clipped.append(f"sessions from {utc(clipped)} (DescribeLiveStreamEventList keeps 60 days)")
            live = self._live(only)
        except (LiveApiError, OutOfCallsError, SinkError) as exc:
            summary.stopped = f"before any stream: {exc}"
            return MORE if isinstance(exc, OutOfCallsError) else FAILED
        try:
            online = self._online(state, now) if window.end >= now - 2 * SETTLE_SECONDS else None
        except LiveApiError as exc:  # recovery and the session list do not need it: go on without
            summary.errors.append(f"no end made up from the online list this run: {exc}")
            online = None
        except OutOfCallsError as exc:
            summary.stopped = f"before any stream: {exc}"
            return MORE
        by_stream: dict[str, list[CssSession]] = {}
        for session in sessions:
            by_stream.setdefault(session.stream, []).append(session)
        names = sorted(set(by_stream) | set(live) if only is None else {only})
        todo = [n for n in names if n > window.after]
        for position, name in enumerate(todo):
            try:
                if self.lease is not None:
                    self.lease.check()
                self._stream(name, by_stream.get(name, []), name in live, online, now)
            except LiveApiError as exc:
                if not exc.refusal:  # the service or the way to it: the next run tries this stream again
                    summary.stopped = f"at stream {name!r}: {exc}"
                    summary.remaining = len(todo) - position
                    return FAILED
                summary.errors.append(f"stream {name!r} skipped: {exc}")  # asking again would be refused again
            except (OutOfCallsError, SinkError, executor.LeaseLostError) as exc:
                summary.stopped = f"at stream {name!r}: {exc}"
                summary.remaining = len(todo) - position
                return MORE if isinstance(exc, (OutOfCallsError, executor.LeaseLostError)) else FAILED
            else:
                summary.streams += 1
            window.after = name
        return DONE

    def _live(self, only: str | None) -> set[str]:
        """Streams the stored objects show live, from one listing of their names; one object of each is read,
        for the stream's own name (its folder is the sanitised id)."""
        prefix = f"streams/{keys.segment(only)}/" if only is not None else "streams/"
        by_folder: dict[str, list[str]] = {}
        named = []
        for key in self.objects.list(prefix):
            doc = _named(key)
            if doc is not None:
                by_folder.setdefault(key.split("/")[1], []).append(key)
                named.append(doc)
        found: set[str] = set()
        for state in streams.states(named):
            if not state.live:
                continue
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                doc = json.loads(self.objects.get(by_folder[state.stream_id][-1]) or b"{}")
                if isinstance(doc.get("stream_id"), str):
                    found.add(doc["stream_id"])
        return found

    def _stored(self, name: str) -> list[dict[str, Any]]:
        """A stream's start/stop objects as their names tell them: one listing, not a read per object (a stream
        pushed around the clock has thousands). A sequence its name had to encode is read from the object."""
        found = []
        for key in self.objects.list(f"streams/{keys.segment(name)}/"):
            doc = _named(key)
            if doc is None:
                continue
            if "%" in doc["sequence"] or "~" in doc["sequence"]:
                with contextlib.suppress(ValueError, TypeError):
                    doc["sequence"] = json.loads(self.objects.get(key) or b"{}").get("sequence")
            found.append({**doc, "stream_id": name})
        return found

    def _online(self, state: dict[str, Any], now: float) -> set[str] | None:
        if now - float(state.get("online_polled") or 0) < ONLINE_EVERY_SECONDS:
            self.summary.notes.append("online list polled under a minute ago: no end made up from it this run")
            return None
        found = css_records.online(self.api)
        state["online_polled"] = now
        return found

    def _intervals(self, sessions: list[CssSession], live: bool) -> list[tuple[int, int]]:
        """Where a stream's callbacks can be: its sessions (from a minute before the start to ``AFTER_END_SECONDS``
        after the end, when late recording callbacks and CSS's retries come), within the window; the whole
        window for a stream shown live or without a session in it. One call per day of each, not per day of
        the window."""
        window = self.window
        if live or not sessions:
            return [(window.start, window.end)]
        spans = sorted((max(window.start, s.start - SETTLE_SECONDS),
                        min(window.end, (s.end if s.end is not None else window.end) + AFTER_END_SECONDS))
                       for s in sessions)
        merged: list[tuple[int, int]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            elif start < end:
                merged.append((start, end))
        return merged

    def _stream(self, name: str, sessions: list[CssSession], live: bool, online: set[str] | None,
                now: float) -> None:
        attempts, clipped = css_records.attempts(self.api, name, self._intervals(sessions, live), now)
        if clipped is not None and not any("DescribeCallbackRecordsList" in c for c in self.summary.clipped):
            self.summary.clipped.append(f"callback records from {utc(clipped)} (DescribeCallbackRecordsList keeps "
                                        "14 days)")
        extra_docs = []
        for attempt in attempts:
            extra_docs.extend(self._recover(attempt))
        docs = self._stored(name) + extra_docs
        found = corrections.session_corrections(name, sessions, docs)
        state = streams.states(docs + [c.doc() for c in found])
        current = next((s for s in state if s.stream_id == name), None)
        if online is not None and current is not None and current.live and name not in online:
            end = corrections.offline_end(name, current.sequence, docs, sessions, int(now), current.since)
            if end is not None:
                found.append(end)
        for correction in found:
            self._correct(correction)

    def _recover(self, attempt: Attempt) -> list[dict[str, Any]]:
        """Store the attempt's callback if it is not stored; a gap if it was lost and cannot be read. The stream
        objects it would make (a dry run's view of what storing it would change)."""
        try:
            body = parse_object(attempt.request.encode("utf-8", "surrogatepass"))
        except (BodyError, UnicodeError):
            body = None
        if body is None or "event_type" not in body:
            if not attempt.delivered:
                self._gap(_lost(attempt))
            return []
        event_id = identity.event_id(body)
        if event_id in self.seen:
            return []
        self.seen.add(event_id)
        if self.objects.get(executor.marker_key(event_id)) is not None:
            self.summary.already += 1
            return []
        raw = attempt.request.encode("utf-8", "surrogatepass")
        event_type = str(body.get("event_type"))
        if self.dry_run:
            plan, status, _ = pipeline.route(body, event_id, raw, self.runtime)
            self.summary.would.append(f"recover {event_type} {event_id[:16]} for {attempt.stream}")
            self.summary.recovered[event_type] = self.summary.recovered.get(event_type, 0) + 1
            return [json.loads(o.body) for o in plan.objects if o.key.startswith("streams/")] if status == 200 else []
        fields: dict[str, Any] = {}
        answer_by = min(self.api.deadline, time.monotonic() + STORE_SECONDS)  # never past the run's own end
        result = pipeline.store(body, raw, self.runtime, answer_by, fields, recovered=True)
        logs.event("callback", result.level, **fields, outcome=result.outcome, status=result.status)
        if result.status == 200 and result.outcome == "stored":
            self.summary.recovered[event_type] = self.summary.recovered.get(event_type, 0) + 1
        elif result.status == 422:
            self.summary.invalid += 1
        elif result.status == 200:
            self.summary.already += 1
        else:
            self.summary.failed += 1
            self.summary.errors.append(f"{event_id[:16]}: {fields.get('error', '')}"[:MAX_DETAIL])
        return []

    def _correct(self, correction: Correction) -> None:
        self.summary.reconciled += 1
        gap = correction.gap()
        if self.dry_run:
            self.summary.would.append(f"reconcile {correction.event} of {correction.stream} at "
                                      f"{utc(correction.time)} ({correction.basis})")
            self.summary.gaps += 1
            return
        self._gap(gap, correction.time, correction.stream_record())
        self.objects.put(correction.stream_object(), correction.identity, if_absent=True)

    def _gap(self, gap: dict[str, Any], when: int | None = None, *also: Any) -> None:
        """Alert once: CLS record and notification first, the alert object last (it marks the gap as told)."""
        when = gap.get("time") if when is None else when
        seconds = when if isinstance(when, int) else None
        key = keys.join("alerts", "delivery", keys.segment(gap["stream_id"]), identity.day(seconds),
                        f"{seconds or 0}-{keys.segment(gap['gap'])}-{gap['id'][:16]}.json")
        if self.dry_run:
            self.summary.gaps += 1
            self.summary.would.append(f"gap {gap['gap']} on {gap['stream_id']}: {gap['detail']}"[:MAX_DETAIL])
            return
        if self.objects.get(key) is not None:
            return
        self.summary.gaps += 1
        rec = record((seconds or 0) * 1000, kind="delivery_gap", alert="delivery_gap", gap=gap["gap"],
                     stream_id=gap["stream_id"], detail=gap["detail"], sequence=gap.get("sequence"),
                     missed_event_type=gap.get("event_type"), result_code=gap.get("result_code"))
        common = {"event_id": f"gap-{gap['id'][:32]}", "event_type": "reconcile"}
        self.runtime.executor.logs.upload([rec, *also], common)
        if self.runtime.notifier is not None:
            self.runtime.notifier.notify([rec], common["event_id"], time.monotonic() + 5)
        self.objects.put(json_object(key, gap), gap["id"], if_absent=True)


def _lost(attempt: Attempt) -> dict[str, Any]:
    """A gap for an attempt CSS could not deliver and whose body cannot be read back."""
    digest = hashlib.sha256(f"{attempt.stream}\n{attempt.event_type}\n{attempt.event_time}\n{attempt.request}"
                            .encode("utf-8", "surrogatepass")).hexdigest()
    return {"gap": f"callback_{attempt.event_type if attempt.event_type is not None else 'unknown'}",
            "stream_id": attempt.stream, "time": attempt.event_time, "event_type": attempt.event_type,
            "result_code": attempt.result_code, "id": digest,
            "detail": (f"CSS could not deliver a type {attempt.event_type} callback (result {attempt.result_code}, "
                       f"answer {attempt.response[:80]!r}) and its body cannot be read back: "
                       f"{attempt.request[:120]!r}")[:MAX_DETAIL]}


def _named(key: str) -> dict[str, Any] | None:
    """A stream object's event as its name tells it: ``streams/{stream}/{date}/{time}-{seq}-{event}-{id}.json``."""
    parts = key.split("/")
    if len(parts) != 4 or not parts[3].endswith(".json"):
        return None
    head, event, tail = ([*parts[3][:-5].rsplit("-", 2), "", ""])[:3]
    when, _, sequence = head.partition("-")
    if event not in ("start", "stop") or not when.isdigit():
        return None
    made = corrections.SOURCE if tail.startswith("r") and len(tail) == 17 else None
    return {"stream_id": parts[1], "event": event, "sequence": sequence, "event_time": int(when), "source": made}


def _window(settings: Any, state: dict[str, Any], now: float, since: int | None, until: int | None,
            resume: bool) -> Window:
    cursor = state.get("cursor") if resume else None
    if isinstance(cursor, dict) and isinstance(cursor.get("start"), int) and isinstance(cursor.get("end"), int):
        return Window(cursor["start"], cursor["end"], str(cursor.get("after") or ""))
    end = int(now) - SETTLE_SECONDS if until is None else until
    start = end - settings.reconcile_lookback_seconds if since is None else since
    return Window(start, end)


def _write_state(objects: Any, state: dict[str, Any], now: float, window: Window, ended: str) -> None:
    """Done: paced from now. More to do: the cursor, due at once. Failed: the cursor, due when paced from now
    (an error that lasts, such as a role without the live actions, costs a run per RECONCILE_EVERY_SECONDS)."""
    doc = {**state, "last_run": state.get("last_run", 0) if ended == MORE else now,
           "cursor": None if ended == DONE else window.__dict__, "resume_now": ended == MORE}
    objects.put(PutObject(pace.STATE_KEY, json_bytes(doc)), f"job-{JOB}", if_absent=False)


def _run_record(summary: Summary, now: float) -> Any:
    recovered = sum(summary.recovered.values())
    return record(int(now * 1000), kind="reconcile_run", window_start=summary.window[0], window_end=summary.window[1],
                  streams=summary.streams, recovered=recovered,
                  recovered_by_type=",".join(f"{k}:{v}" for k, v in sorted(summary.recovered.items())),
                  already=summary.already, invalid=summary.invalid, failed=summary.failed,
                  reconciled=summary.reconciled, gaps=summary.gaps, api_calls=sum(summary.calls.values()),
                  throttled=summary.throttled, remaining=summary.remaining, stopped=summary.stopped or None)


def main(argv: list[str]) -> int:
    """``python -m cssai.jobs.reconcile --timer --seconds S``: the timer's run in its own process
    (cssai/jobs/isolated.py); its summary as the last line on stdout, the JSON log lines on stderr."""
    import argparse

    from cssai import runtime

    parser = argparse.ArgumentParser(prog="python -m cssai.jobs.reconcile")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--timer", action="store_true")
    args = parser.parse_args(argv)
    logs.to_stderr(True)
    deadline = time.monotonic() + args.seconds
    try:
        summary = run(runtime.current(), deadline, timer=args.timer)
    except Exception as exc:  # answered as the in-process job would be: a summary, never a traceback
        summary = {"job": JOB, "error": f"{type(exc).__name__}: {str(exc)[:300]}"}
    print(json.dumps(summary, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
