"""The jobs as operator commands: ``python index.py forward`` (``reconcile`` is to come, issue 25).

The same code paths as the timer; registered into the CLI's parser by ``register`` so that the CLI module
only lists them. Output: a table for people, ``--json`` for scripts; failures on stderr; exit 1 when
something was not done.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from cssai import runtime

FAILURE, USAGE = 1, 2
NO_DEADLINE = 3600.0  # an operator's run is bounded by the work, not by SCF's time limit


class CommandError(Exception):
    def __init__(self, message: str, status: int = FAILURE) -> None:
        super().__init__(message)
        self.status = status


def register(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    p = command("forward", "the forward outbox per target; --drain sends what is due now")
    p.add_argument("--json", action="store_true",
                   help='{"targets": [{"target", "url", "pending", "dead", "oldest", "last_error"}]}')
    p.add_argument("--drain", action="store_true", help="send every due entry now (the timer's job)")
    p.add_argument("--all", action="store_true", help="with --drain: every pending entry, due or not")
    p.add_argument("--retry-dead", action="store_true", help="move dead entries back to pending, their age restarted")
    p.set_defaults(run=forward)


def forward(args: argparse.Namespace) -> int:
    from cssai.jobs import forward as job

    if args.all and not args.drain:
        raise CommandError("--all goes with --drain (send every pending entry now, due or not)", USAGE)
    current = runtime.current()
    if not current.settings.forward_targets and not args.retry_dead:
        print("FORWARD_RULES is not set: nothing is forwarded (entries made earlier are still listed)",
              file=sys.stderr)
    status = 0
    if args.retry_dead:
        moved = job.retry_dead(current)
        print(f"{moved} dead entr{'y' if moved == 1 else 'ies'} back to pending", file=sys.stderr)
    if args.drain:
        summary = job.run(current, time.monotonic() + NO_DEADLINE, every=args.all)
        print(json.dumps(summary, ensure_ascii=False), file=sys.stderr)
        if "skipped" in summary or "error" in summary or summary.get("failed"):
            status = FAILURE
    rows = job.targets(current)
    if args.json:
        print(json.dumps({"targets": rows}, ensure_ascii=False, indent=2))
        return status
    if not rows:
        print("no forward target and no entry")
        return status
    print(f"{'target':<17} {'pending':>7} {'dead':>5}  {'oldest (UTC)':<20} url / last error")
    for row in rows:
        print(f"{row['target']:<17} {row['pending']:>7} {row['dead']:>5}  {_utc(row['oldest']):<20} {row['url']}")
        if row["last_error"]:
            print(f"{'':<53}last error: {row['last_error']}")
    return status


def _utc(seconds: Any) -> str:
    if seconds is None:
        return "-"
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
