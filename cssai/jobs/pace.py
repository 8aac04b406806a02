"""The reconcile job's pace and cursor: ``jobs/reconcile/state.json``, read without loading the job itself.

The timer fires every minute; the job runs at most once per ``RECONCILE_EVERY_SECONDS``, sooner when the last
run ran out of calls or time (``resume_now``). The timer checks this in its own process before it starts
the job's (cssai/jobs/isolated.py), so a tick that is not due costs one small read.
"""

from __future__ import annotations

import json
from typing import Any

from cssai.jobs.lease import PREFIX
from cssai.settings import Settings
from cssai.sinks import ObjectSink, SinkError

JOB = "reconcile"
STATE_KEY = f"{PREFIX}{JOB}/state.json"


def read(objects: ObjectSink) -> dict[str, Any]:
    try:
        doc = json.loads(objects.get(STATE_KEY) or b"{}")
    except (ValueError, SinkError):
        return {}
    return doc if isinstance(doc, dict) else {}


def not_due(settings: Settings, state: dict[str, Any], now: float) -> str | None:
    """Why a timer run should not run now, or None when it should."""
    if settings.reconcile_every_seconds == 0:
        return "RECONCILE_EVERY_SECONDS is 0: reconciling is off"
    resume_now = bool(state.get("cursor")) and state.get("resume_now") is True
    if not resume_now and now - float(state.get("last_run") or 0) < settings.reconcile_every_seconds:
        return "not due (RECONCILE_EVERY_SECONDS)"
    return None
