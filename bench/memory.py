"""Peak memory of the whole receiver process for the largest body each family can have.

SCF kills a function whose process exceeds ``memorySize``. Each measurement is a fresh process
(as a cold container): it imports the receiver, reads the SCF event the way the runtime does
(one JSON document holding the 6 MB body as a string), handles it against COS and CLS servers
running in another process, and reports its peak RSS: ``VmHWM`` from ``/proc/self/status``, the
high-water mark of this process's own memory (``ru_maxrss`` would carry the parent's across exec).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.common import (
    KEY,
    ROOT,
    erasing_segments,
    highlight_items,
    moderation_results,
    push_error_entries,
    subtitle_segments,
    threshold_frames,
)
from cssai import text
from cssai.ops import events
from cssai.settings import SCF_MAX_SYNC_BODY

BUILDERS: dict[str, Callable[[int], dict[str, Any]]] = {
    "344": threshold_frames, "345": lambda n: {**threshold_frames(n), "event_type": 345, "average_score": 25.0},
    "347": erasing_segments, "349": highlight_items,
    "317": moderation_results, "321": push_error_entries, "338": subtitle_segments,
}
# What a timer tick leaves loaded in a container (the reconcile job itself runs in a child: cssai/jobs/isolated.py)
AFTER_JOBS = "cssai.jobs.timer,cssai.jobs.forward,cssai.jobs.isolated,cssai.jobs.pace"
CHILD = """
import importlib, json, os, sys, time
def hwm():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
import index
for name in filter(None, os.environ.get("BENCH_PRELOAD", "").split(",")):
    importlib.import_module(name)  # what an earlier invocation of this container left loaded (the timer's jobs)
with open(sys.argv[1], encoding="utf-8") as handle:
    event = json.load(handle)  # as the SCF runtime hands it over
base = hwm()
started = time.perf_counter()
answer = index.main_handler(event, {"time_limit_in_ms": 30000})
took = time.perf_counter() - started
print(json.dumps({"status": answer["statusCode"], "base_kb": base, "peak_kb": hwm(), "seconds": took}))
"""


def largest(kind: str, limit: int = SCF_MAX_SYNC_BODY) -> dict[str, Any]:
    """The body of ``kind`` with the most content whose signed JSON still fits under ``limit`` bytes."""
    build = BUILDERS[kind]
    low, high = 1, 400_000
    while low < high:  # the largest count that fits
        mid = (low + high + 1) // 2
        if len(text.json_utf8(events.signed(build(mid), KEY))) <= limit - 256:  # as events.wrap sends it
            low = mid
        else:
            high = mid - 1
    return build(low)


def measure(kind: str, server_env: dict[str, str], *, forward: bool = False,
            after_jobs: bool = False) -> dict[str, Any]:
    """Peak RSS of a fresh process handling ``kind``'s largest body (``forward``: with one forward target;
    ``after_jobs``: in a container whose timer already loaded both jobs and the live SDK)."""
    body = largest(kind)
    if forward:  # another event than the one stored without forwarding (that one would be a duplicate)
        body = {**body, "event_type": body["event_type"], "forwarded_run": 1}
    if after_jobs:  # and another again
        body = {**body, "after_jobs_run": 1}
    event = events.wrap(events.signed(body, KEY), "url")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as handle:
        json.dump(event, handle)
    try:
        env = {**os.environ, **server_env, "CSS_CALLBACK_KEYS": KEY, "LOG_LEVEL": "WARNING"}
        if forward:
            env["FORWARD_RULES"] = server_env["BENCH_FORWARD_RULES"]
        if after_jobs:
            env["BENCH_PRELOAD"] = AFTER_JOBS
        run = subprocess.run([sys.executable, "-c", CHILD, handle.name], cwd=ROOT, env=env, capture_output=True,
                             text=True, check=True)
    finally:
        Path(handle.name).unlink()
    result = json.loads(run.stdout.strip().splitlines()[-1])
    result.update(kind=kind, body_bytes=len(event["body"].encode()), items=_count(body))
    return result


def _count(body: dict[str, Any]) -> str:
    if "labelResults" in body:
        return f"{len(body['labelResults']):,} label results"
    if "abnormal_event" in body:
        return f"{len(body['abnormal_event']):,} push errors"
    if "frames" in body:
        return f"{len(body['frames']):,} frames"
    if "items" in body:
        return f"{len(body['items']):,} items"
    return f"{len(body['data']['subtitle_tmp_res']):,} segments"


def counts(proc: subprocess.Popen[str]) -> dict[str, int]:
    """Requests the servers of ``servers()`` have answered so far: cos, cls, forwarded."""
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("counts\n")
    proc.stdin.flush()
    return json.loads(proc.stdout.readline())


def servers(latency: float = 0.0) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """The local COS and CLS servers in their own process (tests/servers.py)."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.servers", "--latency", str(latency)], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, json.loads(proc.stdout.readline())


@contextlib.contextmanager
def running_servers(latency: float = 0.0) -> Iterator[dict[str, str]]:
    """The local COS and CLS servers in their own process for the block; their settings as the value."""
    proc, env = servers(latency)
    try:
        yield env
    finally:
        if proc.stdin:
            proc.stdin.close()
        proc.wait(timeout=10)


def memory_size() -> int:
    """``memorySize`` from serverless.yml: what SCF gives the function."""
    text = (ROOT / "serverless.yml").read_text(encoding="utf-8")
    return int(next(line.split(":", 1)[1].split("#")[0] for line in text.splitlines()
                    if line.strip().startswith("memorySize:")))


def main(argv: list[str]) -> int:
    """python -m bench.memory [MEMORY_MB]: peak RSS per family at the largest body (default: serverless.yml's)."""
    memory_mb = int(argv[0]) if argv else memory_size()
    with running_servers() as env:
        print(f"| family | body | content | status | wall | process before handling | peak RSS | of {memory_mb} MB "
              "| with one forward target | after the timer's jobs loaded |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for kind in BUILDERS:
            r = measure(kind, env)
            f = measure(kind, env, forward=True)
            j = measure(kind, env, forward=True, after_jobs=True)
            peak, fpeak, jpeak = r["peak_kb"] / 1024, f["peak_kb"] / 1024, j["peak_kb"] / 1024
            print(f"| {kind} | {r['body_bytes'] / 2**20:.2f} MiB | {r['items']} | {r['status']} | "
                  f"{r['seconds']:.2f} s | {r['base_kb'] / 1024:.0f} MB | {peak:.0f} MB | "
                  f"{100 * peak / memory_mb:.0f}% | {fpeak:.0f} MB, {100 * fpeak / memory_mb:.0f}% ({f['status']}) | "
                  f"{jpeak:.0f} MB, {100 * jpeak / memory_mb:.0f}% ({j['status']}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
