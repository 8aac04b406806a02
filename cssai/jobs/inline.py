"""The first attempt of an event's forwards, inside the callback's own deadline, after it is stored.

CSS gets its 200 whatever the downstream does: the entries are already durable, and the ``forward`` job
finishes what this attempt could not. Runs only when there is time left for a whole attempt.
"""

from __future__ import annotations

import time
from concurrent.futures import wait
from functools import lru_cache

from cssai.jobs import delivery, rules
from cssai.jobs.outbox import Entry
from cssai.runtime import Runtime
from cssai.sinks.transport import Connections

RESERVE_SECONDS = 1.0  # kept for settling the entries after the answer comes


@lru_cache(maxsize=4)
def connections(timeout: float) -> Connections:
    """Keep-alive connections to the downstreams, one set per container (per timeout)."""
    return Connections(timeout)


def attempt(runtime: Runtime, entries: list[Entry], raw: bytes, answer_by: float) -> list[str]:
    """One attempt per entry, concurrently; what happened to each, for the callback's log line."""
    settings = runtime.settings
    timeout = settings.forward_timeout_seconds
    if answer_by - time.monotonic() < timeout + RESERVE_SECONDS:
        return [f"{e.target}: not attempted (too little time left; the forward job sends it)" for e in entries]
    executor = runtime.executor
    futures = [executor.pool.submit(_one, runtime, entry, raw) for entry in entries]
    done, _ = wait(futures, timeout=max(0.0, answer_by - time.monotonic()))
    return [f.result() if f in done else f"{e.target}: still running at the deadline" for f, e in
            zip(futures, entries, strict=True)]


def _one(runtime: Runtime, entry: Entry, raw: bytes) -> str:
    settings = runtime.settings
    now = time.time()
    body, headers = delivery.prepared(entry, raw, settings, now)
    answer = delivery.post(connections(settings.forward_timeout_seconds), entry.url, body, headers)
    outcome = delivery.settle(entry, answer, runtime.executor.objects, runtime.executor.logs, settings, time.time())
    return f"{entry.target} ({rules.mask(entry.url)}): {outcome}"
