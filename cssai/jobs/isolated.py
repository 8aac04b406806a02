"""The timer's reconcile run, in a process of its own, so the live SDK never stays in a callback's container.

SCF may hand a timer invocation to a warm container that then serves callbacks. Importing the live SDK
(tencentcloud.live's models, 1.7 MB of source) adds ~17 MB that Python never gives back; with it loaded, the
largest live-subtitles body (338) peaked at up to 157 MB, 61% of ``memorySize: 256``, past the 60% bound
(``python -m bench.memory``, the "after the timer's jobs" column). A child interpreter (``python -m
cssai.jobs.reconcile``) takes it instead: its memory is freed when it exits, a crash in it cannot take the
container down, and an instance serves one invocation at a time, so no callback shares the memory with it.
What it costs: the child's start, ~1.5 s at SCF's 0.2 of a core, once per RECONCILE_EVERY_SECONDS (a
paced-out tick reads the state in-process and starts nothing).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]  # the function's code folder (index.py, cssai/)
EXIT_MARGIN_SECONDS = 2.0  # the child stops at its own deadline; this is for its exit


def reconcile(deadline: float) -> dict[str, Any]:
    """Run the reconcile job in a child until ``deadline`` (monotonic); its summary."""
    budget = deadline - time.monotonic()
    if budget < 3:
        return {"job": "reconcile", "skipped": "too little time left in this invocation"}
    command = [sys.executable, "-m", "cssai.jobs.reconcile", "--timer", "--seconds", f"{budget:.1f}"]
    # the parent's working directory (a relative LOCAL_SINK_DIR means the same folder), the code on the path
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    try:
        done = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=None,  # noqa: S603 (argv is ours)
                              timeout=budget + EXIT_MARGIN_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        return {"job": "reconcile", "error": f"the reconcile process ran past its {budget:.0f} s and was stopped"}
    except OSError as exc:
        return {"job": "reconcile", "error": f"the reconcile process could not start: {exc}"}
    lines = done.stdout.decode("utf-8", "replace").strip().splitlines()
    try:
        summary = json.loads(lines[-1])
    except (IndexError, ValueError):
        return {"job": "reconcile", "error": f"the reconcile process exited {done.returncode} without a summary"}
    return summary if isinstance(summary, dict) else {"job": "reconcile", "error": "unreadable summary"}
