"""Cold start: a fresh process that imports index and handles one event, against one that only imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from bench.common import KEY, ROOT, Figure, sample, summarise
from cssai.ops import events

IMPORTS_ONLY = (
    "import pydantic, qcloud_cos, google.protobuf;"
    "from tencentcloud.common.common_client import CommonClient"
)
HANDLE_ONE = (
    "import json, os, sys; import index;"
    "a = index.main_handler(json.loads(os.environ['BENCH_EVENT']), {});"
    "sys.exit(0 if a['statusCode'] == 200 else 1)"
)


def run(code: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True)
    return (time.perf_counter() - started) * 1000


def compare(runs: int) -> tuple[Figure, Figure]:
    """Interleaved, so machine noise hits both alike. Needs the servers' env to be set (bench.cpu.Servers)."""
    env = dict(os.environ)
    ours, floor = [], []
    for n in range(runs):
        body = {**sample("349"), "cold_seq": n, "cold_pid": os.getpid(), "cold_t": time.time()}
        env["BENCH_EVENT"] = json.dumps(events.wrap(events.signed(body, KEY), "apigw"))
        floor.append(run(IMPORTS_ONLY, env))
        ours.append(run(HANDLE_ONE, env))
    return summarise(ours), summarise(floor)


IMPORT_INDEX = "import time; t = time.perf_counter(); import index; print((time.perf_counter() - t) * 1000)"


def import_index(runs: int) -> Figure:
    """The absolute time of ``import index`` in a fresh process (what SCF's first invocation pays first)."""
    times = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", IMPORT_INDEX], cwd=ROOT, check=True, capture_output=True,
                             text=True).stdout
        times.append(float(out.strip().splitlines()[-1]))
    return summarise(times)


def main(runs: int = 9) -> str:
    """python -m bench.cold [RUNS]: the cold-start row of python -m bench, alone."""
    from bench.cpu import Servers

    servers = Servers()
    try:
        ours, floor = compare(runs)
        imported = import_index(runs)
    finally:
        servers.stop()
    return (f"import index + handle one 349: {ours} ms; SDKs + pydantic only: {floor} ms; "
            f"ratio {ours.median / floor.median:.2f}×; import index alone: {imported} ms")


if __name__ == "__main__":
    print(main(int(sys.argv[1]) if len(sys.argv) > 1 else 9))
