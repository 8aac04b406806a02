"""python -m bench.requests_cpu: the receiver's CPU per SDK request, by kind and server latency.

What bounds the per-event CPU: each COS or CLS request goes through the SDK (signing), requests,
urllib3 and http.client. Measured one request at a time in this process, with the servers in
another process (tests/servers.py), as user + sys CPU per request (medians of 5 batches of 20).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

from bench.cpu import Servers
from cssai import runtime
from cssai.writes import PutObject, record


def per_request(fn: Callable[[int], object], batches: int = 5, size: int = 20) -> float:
    fn(-1)
    samples = []
    for b in range(batches):
        started = time.process_time()
        for i in range(size):
            fn(b * size + i)
        samples.append((time.process_time() - started) / size * 1000)
    return statistics.median(samples)


def main(argv: list[str]) -> int:
    servers = Servers()
    try:
        rt = runtime.current()
        objects, logs = rt.executor.objects, rt.executor.logs
        kinds: dict[str, Callable[[int], object]] = {
            "COS put (created)": lambda i: objects.put(PutObject(f"bench/{time.time_ns()}-{i}", b"{}"), "e",
                                                       if_absent=True),
            "COS put (409, exists)": lambda i: objects.put(PutObject("bench/exists", b"{}"), "e", if_absent=True),
            "COS get (200)": lambda i: objects.get("bench/exists"),
            "COS get (404)": lambda i: objects.get(f"bench/missing-{i}"),
            "CLS UploadLog (3 records)": lambda i: logs.upload([record(1, kind="bench", n=str(i))] * 3,
                                                               {"event_id": "bench"}),
        }
        print("| request | 0 ms | 20 ms | 50 ms (server latency) |\n|---|---|---|---|")
        results: dict[str, list[float]] = {name: [] for name in kinds}
        for latency in (0.0, 0.02, 0.05):
            servers.latency(latency)
            for name, fn in kinds.items():
                results[name].append(per_request(fn))
        for name, values in results.items():
            print(f"| {name} | " + " | ".join(f"{v:.2f} ms" for v in values) + " |")
    finally:
        servers.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
