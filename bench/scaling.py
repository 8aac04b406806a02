"""Per-frame and per-segment cost and peak memory as events grow (discarding sink, warm)."""

from __future__ import annotations

import time
import tracemalloc
from typing import Any

from bench.common import KEY, Figure, summarise
from bench.warm import discarding_runtime
from cssai import pipeline
from cssai.ops import events


def one(body: dict[str, Any], runs: int) -> tuple[Figure, float]:
    rt = discarding_runtime()
    event = events.wrap(events.signed(body, KEY), "apigw")
    assert pipeline.handle(event, {}, rt)["statusCode"] == 200
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        pipeline.handle(event, {}, rt)
        samples.append((time.perf_counter() - started) * 1000)
    tracemalloc.start()
    pipeline.handle(event, {}, rt)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rt.executor.pool.shutdown()
    return summarise(samples), peak / 1e6
