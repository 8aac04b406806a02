"""Billed time at the CPU SCF really gives: the receiver in a 0.2-core quota, COS/CLS outside it.

SCF gives CPU in proportion to memory (1280 MB = 1 core, so ``memorySize: 256`` is about 0.2 of a core;
SCF's billing docs, "函数算力支持" / Function Computing Power Support) and bills memory × wall time per
ms (https://cloud.tencent.com/document/product/583/12284). Here a cgroup-v1 CPU quota reproduces the
share (as root: ``cpu.cfs_quota_us`` 20000 per ``cpu.cfs_period_us`` 100000, the pid in ``cgroup.procs``):

- **cold**: a new process (put in the quota before Python starts) that imports ``index`` and answers one
  fresh 349, beside the floor measured in the same run: a process in the same quota that starts Python,
  imports json, ssl and http.client and waits 3 round trips to the same servers;
- **warm**: a warm receiver process in the quota answering fresh events, duplicates it stored itself,
  and duplicates stored by another container.

COS and CLS are the local servers (``tests/servers.py``) in another process, outside the quota,
answering after ``--rtt`` ms. Medians over ``--runs``. Without root or cgroup v1 it says so and prints
no figure: figures from a full core would hide exactly what this measures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from bench.common import KEY, ROOT, sample
from bench.memory import running_servers
from cssai.ops import events

CPU_ROOT = Path("/sys/fs/cgroup/cpu")
QUOTA_US, PERIOD_US = 20_000, 100_000

FLOOR = """
import json, ssl, http.client, sys, time, urllib.parse
started = float(sys.argv[1])
url = urllib.parse.urlsplit(sys.argv[2])
for _ in range(3):
    conn = http.client.HTTPConnection(url.hostname, url.port)
    conn.request("GET", "/floor")
    conn.getresponse().read()
    conn.close()
print(json.dumps({"wall_ms": (time.time() - started) * 1000}))
"""
COLD = """
import json, os, sys, time
started = float(sys.argv[1])
import index
answer = index.main_handler(json.loads(os.environ["SHARE_EVENT"]), {"time_limit_in_ms": 30000})
print(json.dumps({"wall_ms": (time.time() - started) * 1000, "status": answer["statusCode"],
                  "cpu_ms": time.process_time() * 1000}))
"""
WARM = """
import json, sys, time
import index
print("ready", flush=True)
for line in sys.stdin:
    event = json.loads(line)
    cpu, wall = time.process_time(), time.perf_counter()
    answer = index.main_handler(event, {"time_limit_in_ms": 30000})
    print(json.dumps({"status": answer["statusCode"], "wall_ms": (time.perf_counter() - wall) * 1000,
                      "cpu_ms": (time.process_time() - cpu) * 1000}), flush=True)
"""


class QuotaUnavailableError(Exception):
    """No CPU quota can be set here (not root, or no cgroup v1 cpu controller)."""


class Quota:
    """A cgroup-v1 cpu group with 0.2 of a core; processes are started inside it."""

    def __init__(self) -> None:
        if not (CPU_ROOT / "cgroup.procs").exists():
            raise QuotaUnavailableError(f"no cgroup v1 cpu controller at {CPU_ROOT}")
        self.path = CPU_ROOT / f"cssai-share-{os.getpid()}"
        try:
            self.path.mkdir(exist_ok=True)
            (self.path / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (self.path / "cpu.cfs_quota_us").write_text(str(QUOTA_US))
        except OSError as exc:
            raise QuotaUnavailableError(f"cannot create {self.path}: {exc.strerror} (this needs root)") from None

    def spawn(self, code: str, *args: str, env: dict[str, str], stdin: Any = None) -> subprocess.Popen[str]:
        """``python -c code`` whose process joins the group before Python starts (sh writes its pid, then execs)."""
        shell = f'echo $$ > {self.path}/cgroup.procs && exec "$0" "$@"'
        return subprocess.Popen(["sh", "-c", shell, sys.executable, "-c", code, *args], cwd=ROOT, env=env,
                                stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def close(self) -> None:
        with contextlib.suppress(OSError):  # a group with a process still in it stays; nothing to undo
            self.path.rmdir()


def fresh_event(n: int) -> dict[str, Any]:
    body = {**sample("349"), "stream_id": f"share-{uuid.uuid4().hex[:12]}-{n}"}
    return events.wrap(events.signed(body, KEY), "url")


def cold(quota: Quota, env: dict[str, str], runs: int, server_url: str) -> tuple[list[float], list[float], list[float]]:
    ours, floor, cpu = [], [], []
    for n in range(runs):  # interleaved: the machine's noise hits both alike
        started = time.time()
        proc = quota.spawn(FLOOR, str(started), server_url, env=env)
        floor.append(json.loads(proc.communicate(timeout=120)[0].strip().splitlines()[-1])["wall_ms"])
        started = time.time()
        proc = quota.spawn(COLD, str(started), env={**env, "SHARE_EVENT": json.dumps(fresh_event(n))})
        result = json.loads(proc.communicate(timeout=120)[0].strip().splitlines()[-1])
        assert result["status"] == 200, result
        ours.append(result["wall_ms"])
        cpu.append(result["cpu_ms"])
    return ours, floor, cpu


def warm(quota: Quota, env: dict[str, str], runs: int) -> dict[str, tuple[list[float], list[float]]]:
    here = quota.spawn(WARM, env=env, stdin=subprocess.PIPE)
    other = quota.spawn(WARM, env=env, stdin=subprocess.PIPE)
    results: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in ("fresh", "same", "other")}
    try:
        for proc in (here, other):
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"

        def ask(proc: subprocess.Popen[str], event: dict[str, Any]) -> dict[str, Any]:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(json.dumps(event) + "\n")
            proc.stdin.flush()
            return json.loads(proc.stdout.readline())

        ask(here, fresh_event(-1))  # warm: connections, the handler's module
        ask(other, fresh_event(-2))
        for n in range(runs):
            event = fresh_event(n)
            for kind, proc in (("fresh", here), ("same", here), ("other", other)):
                answer = ask(proc, event)
                assert answer["status"] == 200, answer
                results[kind][0].append(answer["wall_ms"])
                results[kind][1].append(answer["cpu_ms"])
    finally:
        for proc in (here, other):
            if proc.stdin:
                proc.stdin.close()
            proc.wait(timeout=30)
    return results


def forwarding(quota: Quota, env: dict[str, str], rules: str, runs: int) -> dict[str, tuple[list[float], list[float]]]:
    """A fresh event without and with one forward target, side by side: two warm processes, turn about."""
    plain = quota.spawn(WARM, env=env, stdin=subprocess.PIPE)
    forwarding = quota.spawn(WARM, env={**env, "FORWARD_RULES": rules}, stdin=subprocess.PIPE)
    results: dict[str, tuple[list[float], list[float]]] = {"without": ([], []), "with": ([], [])}
    procs = (("without", plain), ("with", forwarding))
    try:
        for _, proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        for n in range(-2, runs):  # two rounds of warming up: connections to COS, CLS and the downstream
            for kind, proc in procs:
                assert proc.stdin is not None and proc.stdout is not None
                proc.stdin.write(json.dumps(fresh_event(n * 2 + (kind == "with"))) + "\n")
                proc.stdin.flush()
                answer = json.loads(proc.stdout.readline())
                assert answer["status"] == 200, answer
                if n >= 0:
                    results[kind][0].append(answer["wall_ms"])
                    results[kind][1].append(answer["cpu_ms"])
    finally:
        for _, proc in procs:
            if proc.stdin:
                proc.stdin.close()
            proc.wait(timeout=30)
    return results


def median(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} ({min(values):.1f}–{max(values):.1f})"


def table(runs: int, rtt_ms: float) -> str:
    quota = Quota()
    try:
        with running_servers(rtt_ms / 1000) as server_env:
            env = {**os.environ, **server_env, "CSS_CALLBACK_KEYS": KEY, "LOG_LEVEL": "WARNING"}
            ours, floor, cold_cpu = cold(quota, env, runs, server_env["COS_ENDPOINT_URL"])
            hot = warm(quota, env, runs * 3)
            side = forwarding(quota, env, server_env["BENCH_FORWARD_RULES"], runs * 3)
    finally:
        quota.close()
    ratio = statistics.median(ours) / statistics.median(floor)
    lines = [f"Receiver at 0.2 of a core (cgroup v1 quota {QUOTA_US} µs / {PERIOD_US} µs), COS and CLS in another "
             f"process outside it, {rtt_ms:g} ms per request; medians (min–max) of {runs} cold and {runs * 3} warm "
             "runs, ms", "",
             "| measure | wall | receiver CPU | goal |", "|---|---|---|---|",
             f"| cold: new process → first answer (349) | {median(ours)} | {median(cold_cpu)} | ≤ 3× floor: "
             f"{ratio:.2f}× |",
             f"| floor: Python + json/ssl/http.client + 3 round trips | {median(floor)} | | |"]
    budget = 3 * rtt_ms + 10
    for kind, label in (("fresh", "warm, fresh event"), ("same", "warm, duplicate it stored itself"),
                        ("other", "warm, duplicate stored by another container")):
        wall, cpu = hot[kind]
        goal = f"≤ {budget:g} (3 RTT + 10)" if kind == "fresh" else ""
        lines.append(f"| {label} | {median(wall)} | {median(cpu)} | {goal} |")
    lines += ["", "Forwarding (side by side, the downstream in the servers' process at the same latency):", "",
              "| warm, fresh event | wall | receiver CPU | floor |", "|---|---|---|---|"]
    for kind, label in (("without", "without forwarding"), ("with", "with one forward target (css signing)")):
        wall, cpu = side[kind]
        floor = f"+{rtt_ms:g} (one round trip)" if kind == "with" else ""
        lines.append(f"| {label} | {median(wall)} | {median(cpu)} | {floor} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.share", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--rtt", type=float, default=20.0, help="ms each COS/CLS request waits")
    args = parser.parse_args(argv)
    try:
        print(table(args.runs, args.rtt))
    except QuotaUnavailableError as exc:
        print(f"bench.share: no 0.2-core quota can be set here ({exc}): no figures, since a full core would "
              "hide what SCF bills", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
