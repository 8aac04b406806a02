"""The timer trigger's entry: ``{"Type": "Timer", "TriggerName", "Time", "Message"}`` (doc 583/9708) runs the jobs.

Recognised only as the invocation's own event: an HTTP request whose body looks like a timer event is an
HTTP request like any other (authenticated as a callback, so refused unsigned). ``Message`` (the trigger's
``argument`` in serverless.yml, CreateTrigger's CustomArgument) names the jobs, comma-separated; empty or
``all`` runs every job: ``forward``, then ``reconcile`` (paced by RECONCILE_EVERY_SECONDS, and run in a
process of its own so its live SDK never stays in a container that serves callbacks). Timers invoke
asynchronously and SCF may retry, so runs overlap: each job holds its own lease (``cssai.jobs.lease``). The
answer is a plain JSON-able summary, never raised.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from cssai import logs, runtime
from cssai.settings import SettingsError

JOBS = ("forward", "reconcile")
DEFAULT_BUDGET_SECONDS = 25.0
MARGIN_SECONDS = 3.0


def is_timer(event: object) -> bool:
    return (isinstance(event, dict) and event.get("Type") == "Timer" and "TriggerName" in event
            and "httpMethod" not in event and "event_type" not in event)


def named(message: object) -> tuple[list[str], list[str]]:
    """(jobs to run, unknown names) from the trigger's Message."""
    text = message.strip() if isinstance(message, str) else ""
    if text in ("", "all"):
        return list(JOBS), []
    asked = [part.strip() for part in text.split(",") if part.strip()]
    return [j for j in JOBS if j in asked], [a for a in asked if a not in JOBS]


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    started = time.monotonic()
    answer: dict[str, Any] = {"trigger": str(event.get("TriggerName", ""))[:100], "time": event.get("Time")}
    try:
        current = runtime.current()
    except SettingsError as exc:
        logs.ensure()
        logs.event("configuration error", logging.ERROR, outcome="failed", variable=exc.variable, error=exc.problem)
        return {**answer, "error": f"receiver misconfigured: {exc}"}
    jobs, unknown = named(event.get("Message"))
    if unknown:
        answer["unknown"] = unknown
    deadline = started + _budget(context)
    for job in jobs:
        try:
            result = RUNNERS[job](current, deadline, timer=True)
        except Exception as exc:  # a job's bug must not stop the other job, nor raise to SCF
            result = {"job": job, "error": f"{type(exc).__name__}: {str(exc)[:300]}"}
        answer[job] = result
        level = logging.ERROR if "error" in result else logging.INFO
        logs.event("job", level, **result, duration_ms=round((time.monotonic() - started) * 1000, 1))
    return answer


def _budget(context: Any) -> float:
    limit = context.get("time_limit_in_ms") if isinstance(context, dict) else getattr(context, "time_limit_in_ms",
                                                                                     None)
    if isinstance(limit, (int, float)) and not isinstance(limit, bool) and limit > 0:
        return max(1.0, limit / 1000 - MARGIN_SECONDS)
    return DEFAULT_BUDGET_SECONDS


def _forward(current: runtime.Runtime, deadline: float, *, timer: bool) -> dict[str, Any]:
    from cssai.jobs import forward

    return forward.run(current, deadline)


def _reconcile(current: runtime.Runtime, deadline: float, *, timer: bool) -> dict[str, Any]:
    """Paced here (one small read); when due, run in a process of its own (cssai/jobs/isolated.py)."""
    from cssai.jobs import isolated, pace

    why = pace.not_due(current.settings, pace.read(current.executor.objects), time.time())
    if why is not None:
        return {"job": "reconcile", "skipped": why}
    return isolated.reconcile(deadline)


RUNNERS: dict[str, Callable[..., dict[str, Any]]] = {"forward": _forward, "reconcile": _reconcile}
