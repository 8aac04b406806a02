"""Runs a plan through the sinks: concurrent, retried, bounded by the event's deadline.

Order, and why:
1. read the event's marker, claim the event (create-if-absent), and put every
   object create-if-absent, all at once. A redelivery finds the marker and writes
   nothing new (its puts are refused); a delivery that finds a live claim of another
   one still storing the event answers 503 instead of racing it;
2. upload the CLS records, only when the marker was absent and the claim is ours;
3. write the marker last, so it exists only when everything before it succeeded.
On failure the claim is released, so CSS's retry can proceed at once. A CLS duplicate
is possible only when an upload succeeded but the marker did not follow (marker write
failed, deadline passed, CLS's answer was lost), or when two deliveries take over the
same expired claim at the same instant.

Network sinks run each step's writes concurrently on a pool built once per
container; local sinks (``concurrent = False``) run them inline, where a thread
hand-off would cost more than the write.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from cssai.sinks import LogSink, ObjectSink, SinkError
from cssai.writes import Plan, PutObject

BACKOFF_SECONDS = 0.05
Action = Callable[[], Any]


class DeadlineExceededError(Exception):
    """The event could not be stored before its deadline (answered 503)."""


class InFlightError(Exception):
    """Another delivery of the same event holds a live claim (answered 503: CSS retries later)."""


@dataclass(frozen=True)
class Outcome:
    duplicate: bool
    status: int


LEASE_MARGIN_SECONDS = 5.0
RELEASE_BUDGET_SECONDS = 1.0


def marker_key(event_id: str) -> str:
    return f"markers/{event_id[:2]}/{event_id}.json"


def claim_key(event_id: str) -> str:
    return f"markers/{event_id[:2]}/{event_id}.claim.json"


def _claim(event_id: str, until: float) -> PutObject:
    return PutObject(claim_key(event_id), f'{{"until":{until:.3f}}}'.encode())


class Executor:
    def __init__(self, objects: ObjectSink, logs: LogSink, pool: ThreadPoolExecutor, attempts: int) -> None:
        self.objects = objects
        self.logs = logs
        self.pool = pool
        self.attempts = attempts
        self.inline = not (getattr(objects, "concurrent", True) or getattr(logs, "concurrent", True))

    def commit(self, plan: Plan, event_id: str, status: int, deadline: float, *, force: bool = False) -> Outcome:
        """Store ``plan`` once; on a redelivery return the status first answered.

        A marker that recorded a 422 does not stop an event that now validates (a fix was
        deployed): it is stored and the marker updated. ``force`` (replay) stores again
        whatever a marker says, overwriting objects and uploading the records anew.
        """
        marker = marker_key(event_id)
        lease = time.time() + (deadline - time.monotonic()) + LEASE_MARGIN_SECONDS
        checks: list[Action] = [
            (lambda: None) if force else (lambda: self.objects.get(marker)),
            _put(self.objects, _claim(event_id, lease), event_id, if_absent=not force),
        ]
        writes = [_put(self.objects, o, event_id, if_absent=not force) for o in plan.objects]
        writes += [_bind(self.objects.copy, c, event_id) for c in plan.copies]
        if self.inline:
            previous, claimed = self._run(checks, deadline)
            pending: list[Future[Any]] = []
        else:  # the object puts share the checks' round trip
            started = [self.pool.submit(self._retry, a, deadline) for a in checks + writes]
            pending = started[2:]
            try:
                previous, claimed = self._gather(started[:2], deadline)
            except BaseException:
                wait([started[1]], timeout=max(0.0, deadline - time.monotonic()))
                if _succeeded(started[1]):  # the marker read failed but our claim landed
                    self._release(event_id)
                raise
        stored = _stored_status(previous, status) if previous is not None else None
        duplicate = stored is not None and (stored == 200 or status == 422)
        if duplicate or not claimed:
            # Let refused or repeated puts finish, so that nothing is writing once we answer.
            wait(pending, timeout=max(0.0, deadline - time.monotonic()))
        if duplicate:
            return Outcome(duplicate=True, status=stored or status)
        if not claimed:  # with a marker present, the claim's holder has finished: no lease to respect
            self._take_over(event_id, lease, deadline, respect_lease=previous is None)
        try:
            if self.inline:
                self._run(writes, deadline)
            else:
                self._gather(pending, deadline)
            self._run([_bind(self.logs.upload, b) for b in self.logs.batches(plan.records)], deadline)
            done = f'{{"event_id":"{event_id}","status":{status},"writes":{plan.size}}}'.encode()
            self._run([_put(self.objects, PutObject(marker, done), event_id, if_absent=False)], deadline)
        except BaseException:
            self._release(event_id)
            raise
        return Outcome(duplicate=False, status=status)

    def _take_over(self, event_id: str, lease: float, deadline: float, *, respect_lease: bool) -> None:
        """Proceed over a claim only when it has expired (its holder died) or was released."""
        if respect_lease:
            held = self._run([lambda: self.objects.get(claim_key(event_id))], deadline)[0]
            if _claim_until(held) > time.time():
                raise InFlightError("another delivery of this event is being stored")
        self._run([_put(self.objects, _claim(event_id, lease), event_id, if_absent=False)], deadline)

    def _release(self, event_id: str) -> None:
        """Best effort: mark the claim expired so that CSS's retry need not wait for the lease."""
        with contextlib.suppress(SinkError, DeadlineExceededError):  # else the lease expires by itself
            release = _put(self.objects, _claim(event_id, 0), event_id, if_absent=False)
            self._run([release], time.monotonic() + RELEASE_BUDGET_SECONDS)

    def _run(self, actions: Sequence[Action], deadline: float) -> list[Any]:
        if self.inline:
            return [self._retry(a, deadline) for a in actions]
        return self._gather([self.pool.submit(self._retry, a, deadline) for a in actions], deadline)

    def _gather(self, futures: list[Future[Any]], deadline: float) -> list[Any]:
        done, pending = wait(futures, timeout=max(0.0, deadline - time.monotonic()), return_when=FIRST_EXCEPTION)
        for future in done:
            error = future.exception()
            if error is not None:
                raise error
        if pending:
            raise DeadlineExceededError(f"{len(pending)} write(s) still running at the deadline")
        return [f.result() for f in futures]

    def _retry(self, action: Action, deadline: float) -> Any:
        for attempt in range(1, self.attempts + 1):
            if time.monotonic() >= deadline:
                raise DeadlineExceededError("deadline reached before a write could start")
            try:
                return action()
            except SinkError as exc:
                pause = BACKOFF_SECONDS * 2 ** (attempt - 1)
                if not exc.transient or attempt == self.attempts or time.monotonic() + pause >= deadline:
                    raise
                time.sleep(pause)
        raise AssertionError("unreachable")


def _put(objects: ObjectSink, obj: PutObject, event_id: str, *, if_absent: bool = True) -> Action:
    return lambda: objects.put(obj, event_id, if_absent=if_absent)


def _bind(fn: Callable[..., Any], *args: object) -> Action:
    return lambda: fn(*args)


def _succeeded(future: Future[Any]) -> bool:
    return future.done() and future.exception() is None and bool(future.result())


def _claim_until(claim: bytes | None) -> float:
    try:
        until = json.loads(claim or b"{}").get("until", 0)
    except (ValueError, AttributeError):
        return 0.0
    return float(until) if isinstance(until, (int, float)) else 0.0


def _stored_status(marker: bytes, default: int) -> int:
    try:
        status = json.loads(marker).get("status")
    except (ValueError, AttributeError):
        return default
    return status if status in (200, 422) else default
