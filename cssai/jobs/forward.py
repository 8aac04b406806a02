"""The ``forward`` job: send every due outbox entry, bury the ones too old, and what the CLI shows of them.

Run by the timer (every minute) and by ``python index.py forward --drain``, the same code. Under the job's
lease (``jobs/forward/``), so two runs never send the same entry at the same time; a crash may repeat a send
(at least once: the downstream deduplicates by ``X-CSS-Event-Id``). Each attempt rebuilds the body from
the archive and signs it now. A target that gave no HTTP answer (refused, timed out) gets no further
attempt in this run: its other entries wait for the next, instead of each costing a timeout.
An entry not delivered ``FORWARD_MAX_AGE_SECONDS`` after its event was stored moves to
``outbox-dead/{target}/{event_id}.json``, with an alert under ``alerts/forward/{date it died}/``, a CLS record
``kind: forward_dead`` and a notification (kind ``forward_failed``).
"""

from __future__ import annotations

import contextlib
import time
from concurrent.futures import wait
from dataclasses import dataclass, field, replace
from typing import Any

from cssai import identity, keys
from cssai.executor import LeaseLostError
from cssai.jobs import delivery, inline, rules
from cssai.jobs.lease import JobLease
from cssai.jobs.outbox import DEAD, PENDING, Entry, dead_key
from cssai.runtime import Runtime
from cssai.sinks import SinkError
from cssai.writes import json_object, record

JOB = "forward"
PARALLEL = 8  # entries in flight at once


@dataclass
class Summary:
    job: str = JOB
    entries: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    waiting: int = 0  # not due yet, or their target did not answer earlier in this run
    dead: int = 0
    unreadable: int = 0
    stopped: str = ""
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if v or k in ("job", "entries", "delivered")}
        out["errors"] = self.errors[:10]
        return out


def run(runtime: Runtime, deadline: float, *, every: bool = False) -> dict[str, Any]:
    """Send the due entries (``every``: all of them) until ``deadline`` (monotonic); the summary."""
    lease = JobLease(runtime.executor.objects, JOB)
    try:
        if not lease.acquire():
            return {"job": JOB, "skipped": "another run holds the forward lease"}
    except SinkError as exc:
        return {"job": JOB, "error": f"the lease could not be read or taken: {exc}"}
    try:
        return _send(runtime, lease, deadline, every).as_dict()
    finally:
        lease.release()


def _send(runtime: Runtime, lease: JobLease, deadline: float, every: bool) -> Summary:
    objects, settings = runtime.executor.objects, runtime.settings
    summary = Summary()
    down: set[str] = set()
    try:
        pending = [k for k in objects.list(PENDING) if k.endswith(".json")]
    except SinkError as exc:
        summary.stopped = f"the outbox could not be listed: {exc}"
        return summary
    summary.entries = len(pending)
    for start in range(0, len(pending), PARALLEL):
        if time.monotonic() + settings.forward_timeout_seconds + 1 >= deadline:
            summary.stopped = "deadline: the rest waits for the next run"
            break
        try:
            lease.check()
        except LeaseLostError as exc:
            summary.stopped = str(exc)
            break
        chunk = pending[start:start + PARALLEL]
        futures = [runtime.executor.pool.submit(_one, runtime, key, every, down) for key in chunk]
        wait(futures, timeout=max(0.0, deadline - time.monotonic()))
        for future in futures:
            if not future.done():
                summary.errors.append("an attempt was still running at the deadline")
                continue
            error = future.exception()
            outcome = f"error: {type(error).__name__}: {error}" if error is not None else future.result()
            _count(summary, outcome)
    return summary


def _count(summary: Summary, outcome: str) -> None:
    kind = outcome.split(":", 1)[0]
    if kind == "delivered":
        summary.sent += 1
        summary.delivered += 1
    elif kind == "failed":
        summary.sent += 1
        summary.failed += 1
        summary.errors.append(outcome)
    elif kind in ("waiting", "dead", "unreadable"):
        setattr(summary, kind, getattr(summary, kind) + 1)
    else:
        summary.errors.append(outcome)


def _one(runtime: Runtime, key: str, every: bool, down: set[str]) -> str:
    objects, settings = runtime.executor.objects, runtime.settings
    entry = Entry.read(objects.get(key))
    if entry is None:
        return "unreadable: " + key
    now = time.time()
    if now - entry.stored >= settings.forward_max_age_seconds:
        bury(runtime, entry, now)
        return "dead"
    if (not every and entry.due > now) or entry.target in down:
        return "waiting"
    raw = objects.get(entry.archive)
    if raw is None:
        answer = delivery.Answer(False, None, 0.0, f"the archived event {entry.archive} is missing")
    else:
        body, headers = delivery.prepared(entry, raw, settings, now)
        answer = delivery.post(inline.connections(settings.forward_timeout_seconds), entry.url, body, headers)
        if answer.status is None:
            down.add(entry.target)
    outcome = delivery.settle(entry, answer, objects, runtime.executor.logs, settings, time.time())
    return f"{outcome.split(' ', 1)[0]}: {entry.target} {entry.event_id[:16]}: {outcome}"


def bury(runtime: Runtime, entry: Entry, now: float) -> None:
    """Past its age: to ``outbox-dead/``, with an alert object, a ``forward_dead`` record and a notification."""
    objects = runtime.executor.objects
    dead = replace(entry, died=now)
    objects.put(json_object(dead_key(entry.target, entry.event_id), dead.__dict__), entry.event_id, if_absent=False)
    date = identity.day(int(now))
    alert = {"event_id": entry.event_id, "event_type": entry.event_type, "target": entry.target,
             "url": rules.mask(entry.url), "attempts": entry.attempts, "last_error": entry.last_error,
             "last_status": entry.last_status, "stored": entry.stored, "died": now, "archive": entry.archive}
    objects.put(json_object(keys.join("alerts", "forward", date, f"{entry.target}-{entry.event_id}.json"), alert),
                entry.event_id, if_absent=True)
    rec = record(int(now * 1000), kind="forward_dead", alert="forward_failed", target=entry.target,
                 url=rules.mask(entry.url), attempts=entry.attempts, last_error=entry.last_error,
                 last_status=entry.last_status, event_id=entry.event_id, event_type=str(entry.event_type))
    with contextlib.suppress(SinkError):
        runtime.executor.logs.upload([rec], {"event_id": entry.event_id, "event_type": str(entry.event_type)})
    objects.delete(entry.key)
    if runtime.notifier is not None:
        runtime.notifier.notify([rec], entry.event_id, time.monotonic() + 5)


def retry_dead(runtime: Runtime) -> int:
    """Every dead entry back to pending, its age restarted and due now."""
    objects = runtime.executor.objects
    moved = 0
    now = time.time()
    for key in [k for k in objects.list(DEAD) if k.endswith(".json")]:
        entry = Entry.read(objects.get(key))
        if entry is None:
            continue
        again = replace(entry, stored=now, due=now, died=None)
        objects.put(again.put(), entry.event_id, if_absent=False)
        objects.delete(key)
        moved += 1
    return moved


def targets(runtime: Runtime) -> list[dict[str, Any]]:
    """Per target: masked URL, pending and dead counts, the oldest pending (unix seconds), the last error."""
    objects = runtime.executor.objects
    found: dict[str, dict[str, Any]] = {}
    configured = {rule.target: rule.url for rule in runtime.settings.forward_targets}
    for target, url in configured.items():
        found[target] = _row(target, url)
    for prefix, column in ((PENDING, "pending"), (DEAD, "dead")):
        for key in [k for k in objects.list(prefix) if k.endswith(".json")]:
            entry = Entry.read(objects.get(key))
            if entry is None:
                continue
            row = found.setdefault(entry.target, _row(entry.target, entry.url))
            row[column] += 1
            if column == "pending":
                row["oldest"] = int(min(row["oldest"] or entry.stored, entry.stored))
                if entry.last_error and entry.due >= row["_latest"]:
                    row["last_error"], row["_latest"] = entry.last_error, entry.due
    rows = sorted(found.values(), key=lambda r: (-r["pending"], r["target"]))
    for row in rows:
        row.pop("_latest")
    return rows


def _row(target: str, url: str) -> dict[str, Any]:
    return {"target": target, "url": rules.mask(url), "pending": 0, "dead": 0, "oldest": None, "last_error": "",
            "_latest": 0.0}
