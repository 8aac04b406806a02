"""What the reconcile job costs on the bill: its timer ticks at SCF's 0.2 of a core, side by side.

A warm receiver process in the 0.2-core quota (``bench.share.Quota``) takes timer invocations, with COS, CLS
and CSS's live API (``tests.servers --live-streams N``: N streams that each pushed one session in the last two
hours, their push and stop callbacks kept by CSS as undelivered) in another process outside the quota,
answering after ``--rtt`` ms. Measured, turn about:

- **not due**: a tick when reconcile is paced out (the forward job and one read of its state);
- **first run**: the child process (cold interpreter + live SDK) recovering 2·N callbacks;
- **steady run**: the child over the same window when everything is stored (what every 10 minutes costs);
- **in-process**: the same steady run in the warm process itself, to show what the child's start costs.

Wall and CPU (the process's own and its children's). The calls are paced to 20 a second, so a run of N
streams waits about N/20 s for CSS whatever the CPU. Without root or cgroup v1 it says so and prints nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

from bench.common import KEY, ROOT
from bench.share import Quota, QuotaUnavailableError

PACE_SECONDS = 30  # RECONCILE_EVERY_SECONDS for the run (--pace): a tick right after a run is not due
TIMER = {"Type": "Timer", "TriggerName": "jobs", "Time": "2026-12-05T00:00:00Z", "Message": "forward,reconcile"}
WORKER = """
import json, resource, sys, time
import index
print("ready", flush=True)
def cpu():
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return (own.ru_utime + own.ru_stime) * 1000, (kids.ru_utime + kids.ru_stime) * 1000
for line in sys.stdin:
    command = json.loads(line)
    own, kids = cpu()
    wall = time.perf_counter()
    if command["how"] == "timer":
        answer = index.main_handler(command["event"], {"time_limit_in_ms": 30000})["reconcile"]
    else:
        from cssai import runtime
        from cssai.jobs import reconcile
        answer = reconcile.run(runtime.current(), time.monotonic() + 27)
    own2, kids2 = cpu()
    print(json.dumps({"answer": answer, "wall_ms": (time.perf_counter() - wall) * 1000,
                      "cpu_ms": own2 - own, "child_cpu_ms": kids2 - kids}), flush=True)
"""


def servers(streams: int, rtt_ms: float) -> tuple[subprocess.Popen[str], dict[str, str]]:
    proc = subprocess.Popen([sys.executable, "-m", "tests.servers", "--latency", str(rtt_ms / 1000),
                             "--live-streams", str(streams)], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, json.loads(proc.stdout.readline())


def measure(streams: int, rtt_ms: float, runs: int, pace: int = PACE_SECONDS) -> dict[str, list[dict[str, Any]]]:
    quota = Quota()
    server, server_env = servers(streams, rtt_ms)
    env = {**os.environ, **server_env, "CSS_CALLBACK_KEYS": KEY, "LOG_LEVEL": "WARNING",
           "RECONCILE_EVERY_SECONDS": str(pace)}
    worker = quota.spawn(WORKER, env=env, stdin=subprocess.PIPE)
    found: dict[str, list[dict[str, Any]]] = {"not due": [], "first run": [], "steady run": [], "in-process": []}
    try:
        assert worker.stdout is not None and worker.stdin is not None
        assert worker.stdout.readline().strip() == "ready"

        def ask(how: str) -> dict[str, Any]:
            assert worker.stdin is not None and worker.stdout is not None
            worker.stdin.write(json.dumps({"how": how, "event": TIMER}) + "\n")
            worker.stdin.flush()
            return json.loads(worker.stdout.readline())

        found["first run"].append(ask("timer"))
        for _ in range(runs):
            time.sleep(pace)  # due again
            started = time.monotonic()
            found["steady run"].append(ask("timer"))
            found["not due"].append(ask("timer"))  # at once: paced out
            found["in-process"].append(ask("in-process"))
            assert time.monotonic() - started < pace, "a run took longer than the pace: raise --pace"
    finally:
        if worker.stdin:
            worker.stdin.close()
        worker.wait(timeout=60)
        if server.stdin:
            server.stdin.close()
        server.wait(timeout=30)
        quota.close()
    return found


def median(values: list[float]) -> str:
    return f"{statistics.median(values):.0f} ({min(values):.0f}–{max(values):.0f})"


def table(streams: int, rtt_ms: float, runs: int, pace: int = PACE_SECONDS) -> str:
    found = measure(streams, rtt_ms, runs, pace)
    first = found["first run"][0]["answer"]
    assert sum(first.get("recovered", {}).values()) == 2 * streams, first
    lines = [f"Reconcile at 0.2 of a core, {streams} streams active in the window, COS/CLS/live API at {rtt_ms:g} ms "
             f"per request outside the quota; medians (min–max) of {runs} runs (the first run once), ms", "",
             "| tick | wall | CPU (process) | CPU (child) | API calls | what it did |", "|---|---|---|---|---|---|"]
    for kind, results in found.items():
        answer = results[0]["answer"]
        calls = sum(answer.get("calls", {}).values())
        did = answer.get("skipped") or (f"{answer.get('streams')} streams, recovered "
                                        f"{sum(answer.get('recovered', {}).values())}, already {answer.get('already')}")
        lines.append(f"| {kind} | {median([r['wall_ms'] for r in results])} | "
                     f"{median([r['cpu_ms'] for r in results])} | {median([r['child_cpu_ms'] for r in results])} | "
                     f"{calls} | {did} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reconcile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rtt", type=float, default=20.0, help="ms each COS/CLS/live request waits")
    parser.add_argument("--pace", type=int, default=PACE_SECONDS, help="RECONCILE_EVERY_SECONDS for the run")
    args = parser.parse_args(argv)
    try:
        print(table(args.streams, args.rtt, args.runs, args.pace))
    except QuotaUnavailableError as exc:
        print(f"no 0.2-core quota can be set here, so no figures: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
