"""The function's entry: ``main_handler(event, context)`` for SCF (index.py re-exports it)."""

from __future__ import annotations

import logging
from typing import Any

from cssai import gateway, logs, pipeline, runtime
from cssai.jobs import timer
from cssai.settings import SettingsError


def main_handler(event: Any, context: Any) -> dict[str, Any]:
    """Answer one callback (or run the scheduled jobs on a timer event). Never raises: every failure becomes a
    documented status (a timer's answer: a JSON summary)."""
    if timer.is_timer(event):
        try:
            return timer.handle(event, context)
        except Exception as exc:  # the jobs catch their own: this is a last resort
            return {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
    try:
        return pipeline.handle(event, context, runtime.current())
    except SettingsError as exc:  # one JSON line on stdout (SCF's log topic) naming the variable
        logs.ensure()
        logs.event("configuration error", logging.ERROR, outcome="failed", status=503, variable=exc.variable,
                   error=exc.problem)
        return gateway.error(503, f"receiver misconfigured: {exc}")
    except Exception as exc:  # last resort: a bug must still answer, and CSS will retry
        logs.ensure()
        logs.event("unexpected error", logging.ERROR, outcome="failed", status=503, error=type(exc).__name__)
        return gateway.error(503, "internal error, retry later")
