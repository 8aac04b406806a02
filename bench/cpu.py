"""What a user pays for, per event: wall time, the receiver's own CPU, and requests.

The COS and CLS servers run in another process (tests/servers.py), each answering after a fixed
latency, so their work is not counted: the receiver's CPU is ``time.process_time()`` of this
process (user + sys, every thread) around ``main_handler``. Fresh events are new each time;
duplicates are redeliveries of a stored event, to the container that stored it (it remembers) or
to another warm container. Floors: a fresh store needs 3 round trips (claim + objects; CLS;
marker), a duplicate elsewhere 2 (claim + objects, refused; marker read).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.common import KEY, ROOT, fmt, sample
from cssai import pipeline, runtime
from cssai.ops import events

SAMPLES = ("344", "345", "347", "349")


@dataclass(frozen=True)
class Cost:
    wall_ms: float
    cpu_ms: float
    requests: float


class Servers:
    """tests/servers.py in its own process; the receiver in this one is pointed at it."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.servers"], cwd=ROOT, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.env = json.loads(self._line())
        os.environ.update({**self.env, "CSS_CALLBACK_KEYS": KEY, "LOG_LEVEL": "WARNING"})
        runtime.reset()

    def _line(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline()

    def _ask(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return json.loads(self._line())

    def latency(self, seconds: float) -> None:
        self._ask(f"latency {seconds}")

    def requests(self) -> int:
        counts = self._ask("counts")
        return counts["cos"] + counts["cls"]

    def stop(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=10)
        runtime.reset()


def one(servers: Servers, event: dict[str, Any], rt: runtime.Runtime) -> Cost:
    before = servers.requests()
    cpu, wall = time.process_time(), time.perf_counter()
    answer = pipeline.handle(event, {"time_limit_in_ms": 30000}, rt)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert answer["statusCode"] == 200, answer
    time.sleep(0.02)  # let stray threads settle before counting requests
    return Cost(wall * 1000, cpu * 1000, servers.requests() - before)


def median(costs: list[Cost]) -> Cost:
    return Cost(*(statistics.median(getattr(c, f) for c in costs) for f in ("wall_ms", "cpu_ms", "requests")))


def measure(servers: Servers, name: str, runs: int, here: runtime.Runtime,
            other: runtime.Runtime) -> tuple[Cost, Cost, Cost]:
    """Fresh events; redeliveries to the container that stored them; redeliveries to another warm one."""
    fresh: Callable[[int], dict[str, Any]] = lambda n: events.wrap(  # noqa: E731
        events.signed({**sample(name), "bench_seq": f"{time.time_ns()}-{n}"}, KEY), "url")
    one(servers, fresh(-1), here)  # warm: connections, handler module
    one(servers, fresh(-2), other)
    costs = [one(servers, fresh(n), here) for n in range(runs)]
    stored = fresh(runs)
    one(servers, stored, here)
    again = lambda: events.wrap(events.signed(json.loads(stored["body"]), KEY), "url")  # noqa: E731
    same = [one(servers, again(), here) for _ in range(runs)]
    elsewhere = [one(servers, again(), other) for _ in range(runs)]
    return median(costs), median(same), median(elsewhere)


def table(runs: int = 30, rtts: tuple[float, ...] = (0.0, 0.02)) -> str:
    servers = Servers()
    here = runtime.current()
    other = runtime.build(here.settings)  # another warm container: its own clients and memory
    rows = ["| event | RTT | fresh: wall / receiver CPU / requests (floor) | duplicate, same container "
            "| duplicate, another container (floor) |", "|---|---|---|---|---|"]
    try:
        for rtt in rtts:
            servers.latency(rtt)
            for name in SAMPLES:
                fresh, same, other_dup = measure(servers, name, runs, here, other)
                rows.append(f"| {name} | {rtt * 1000:.0f} ms | {_cell(fresh)} ({3 * rtt * 1000:.0f} ms) | "
                            f"{_cell(same)} | {_cell(other_dup)} ({2 * rtt * 1000:.0f} ms) |")
    finally:
        other.executor.pool.shutdown(wait=False)
        servers.stop()
    return "\n".join(rows)


def _cell(cost: Cost) -> str:
    return f"{fmt(cost.wall_ms)} ms / {fmt(cost.cpu_ms)} ms / {cost.requests:g}"


if __name__ == "__main__":
    print(table(int(sys.argv[1]) if len(sys.argv) > 1 else 30))
