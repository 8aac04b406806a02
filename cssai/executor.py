"""Runs a plan through the sinks: concurrent, retried, bounded by the event's deadline.

Order, and why:
1. read the event's marker, and in parallel put every object create-if-absent
   (a redelivery finds the marker and writes nothing new; its puts are refused);
2. upload the CLS records, only when the marker was absent;
3. write the marker last, so it exists only when everything before it succeeded.
A CLS duplicate is possible only when an upload succeeded but the marker did not
follow (marker write failed, deadline passed, or CLS's answer was lost).

Network sinks run each step's writes concurrently on a pool built once per
container; local sinks (``concurrent = False``) run them inline, where a thread
hand-off would cost more than the write.
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class Outcome:
    duplicate: bool
    status: int


def marker_key(event_id: str) -> str:
    return f"markers/{event_id[:2]}/{event_id}.json"


class Executor:
    def __init__(self, objects: ObjectSink, logs: LogSink, pool: ThreadPoolExecutor, attempts: int) -> None:
        self.objects = objects
        self.logs = logs
        self.pool = pool
        self.attempts = attempts
        self.inline = not (getattr(objects, "concurrent", True) or getattr(logs, "concurrent", True))

    def commit(self, plan: Plan, event_id: str, status: int, deadline: float) -> Outcome:
        """Store ``plan`` once; on a redelivery return the status first answered."""
        marker = marker_key(event_id)
        read: Action = lambda: self.objects.get(marker)  # noqa: E731
        writes = [_put(self.objects, o, event_id) for o in plan.objects]
        writes += [_bind(self.objects.copy, c, event_id) for c in plan.copies]
        if self.inline:
            previous = self._retry(read, deadline)
            if previous is None:
                self._run(writes, deadline)
        else:
            seen = self.pool.submit(self._retry, read, deadline)
            pending = [self.pool.submit(self._retry, w, deadline) for w in writes]
            previous = self._gather([seen], deadline)[0]
            if previous is None:
                self._gather(pending, deadline)
            else:
                # Already stored: the puts were refused as existing. Let them finish (same round
                # trip) so that nothing is still writing once we answer; their errors do not matter.
                wait(pending, timeout=max(0.0, deadline - time.monotonic()))
        if previous is not None:
            return Outcome(duplicate=True, status=_stored_status(previous, status))
        self._run([_bind(self.logs.upload, b) for b in self.logs.batches(plan.records)], deadline)
        done = PutObject(marker, f'{{"event_id":"{event_id}","status":{status},"writes":{plan.size}}}'.encode())
        self._run([_put(self.objects, done, event_id, if_absent=False)], deadline)
        return Outcome(duplicate=False, status=status)

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


def _stored_status(marker: bytes, default: int) -> int:
    try:
        status = json.loads(marker).get("status")
    except (ValueError, AttributeError):
        return default
    return status if status in (200, 422) else default
