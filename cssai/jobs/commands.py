"""The jobs as operator commands: ``python index.py forward`` and ``python index.py reconcile``.

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

from cssai import credentials, logs, runtime

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
    p = command("reconcile", "compare with CSS's own records: recover lost callbacks, correct stream state, "
                             "report gaps")
    p.add_argument("--since", type=moment, help="window start, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC); "
                                                "default: now - RECONCILE_LOOKBACK_SECONDS")
    p.add_argument("--until", type=moment, help="window end, same forms (a date alone: its 00:00:00); "
                                                "default: a minute ago")
    p.add_argument("--stream", help="one stream only (its exact name)")
    p.add_argument("--dry-run", action="store_true", help="say what it would recover, reconcile and flag; "
                                                          "write nothing at all")
    p.add_argument("--json", action="store_true", help="the run's summary as JSON")
    p.set_defaults(run=reconcile)


def moment(text: str) -> int:
    """Unix seconds of ``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM:SSZ`` (UTC)."""
    for pattern in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d"):
        try:
            return int(datetime.strptime(text, pattern).replace(tzinfo=timezone.utc).timestamp())
        except ValueError:
            continue
    raise argparse.ArgumentTypeError(f"{text!r} is not YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC)")


def reconcile(args: argparse.Namespace) -> int:
    from cssai.jobs import reconcile as job

    if args.since is not None and args.until is not None and args.since >= args.until:
        raise CommandError(f"--since {_utc(args.since)} is not before --until {_utc(args.until)}", USAGE)
    if args.until is not None and args.until > time.time():
        raise CommandError(f"--until {_utc(args.until)} is in the future (CSS's records end now)", USAGE)
    if args.since is not None and args.until is None and args.since >= time.time() - 60:
        raise CommandError(f"--since {_utc(args.since)} is not before the window's default end, a minute ago", USAGE)
    current = runtime.current()
    if not credentials.current().secret_id or not credentials.current().secret_key:
        raise CommandError("reconcile reads CSS's own records through the live API: set TENCENTCLOUD_SECRETID and "
                           "TENCENTCLOUD_SECRETKEY (keys allowed deploy/cam-policy-operator.json's live: actions)")
    logs.to_stderr(True)  # the recovered callbacks' JSON lines: stdout is the summary's
    try:
        summary = job.run(current, time.monotonic() + NO_DEADLINE, since=args.since, until=args.until,
                          stream=args.stream, dry_run=args.dry_run)
    finally:
        logs.to_stderr(False)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        print(_reconcile_text(summary))
    for problem in ([summary["error"]] if "error" in summary else []) + summary.get("errors", []):
        print(f"error: {problem}", file=sys.stderr)
    if summary.get("stopped"):
        left = f"; {summary['remaining']} stream(s) not checked" if summary.get("remaining") else ""
        print(f"error: stopped {summary['stopped']}{left}: nothing after that was checked; run it again once "
              "fixed (what was stored stays stored)", file=sys.stderr)
    failed = "error" in summary or "skipped" in summary or summary.get("stopped") or summary.get("failed")
    return FAILURE if failed else 0


def _reconcile_text(summary: dict[str, Any]) -> str:
    if "skipped" in summary or "error" in summary:
        return f"reconcile: {summary.get('skipped') or summary.get('error')}"
    recovered = summary.get("recovered") or {}
    by_type = ", ".join(f"{n} of type {t}" for t, n in sorted(recovered.items())) or "none"
    verb = "would recover" if summary.get("dry_run") else "recovered"
    lines = [f"window {summary['window'][0]} .. {summary['window'][1]}: {summary['streams']} stream(s) checked",
             f"{verb}: {by_type}" + (f"; already stored: {summary['already']}" if summary.get("already") else ""),
             f"reconciled starts/ends: {summary['reconciled']}; gaps: {summary['gaps']}",
             "API calls: " + (", ".join(f"{a} {n}" for a, n in sorted(summary["calls"].items())) or "none")]
    lines += [f"clipped: {c}" for c in summary.get("clipped", [])]
    lines += [f"  would {w}" for w in summary.get("would", [])]
    return "\n".join(lines)


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
