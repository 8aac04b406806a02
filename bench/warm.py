"""Warm in-process cost per event with a discarding sink, against json.loads + md5 + sha256."""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.common import KEY, DiscardLogs, DiscardObjects, Figure, measure
from cssai import pipeline, runtime
from cssai.executor import Executor
from cssai.ops import events
from cssai.settings import load


def discarding_runtime() -> runtime.Runtime:
    os.environ["CSS_CALLBACK_KEYS"] = KEY
    settings = load()
    pool = ThreadPoolExecutor(max_workers=runtime.POOL_SIZE)
    runtime.settle()  # as runtime.build does for a real container
    return runtime.Runtime(settings, Executor(DiscardObjects(), DiscardLogs(), pool, settings.write_attempts))


def floor(event: dict[str, Any]) -> None:
    body = json.loads(event["body"])
    given = hashlib.md5(f"{KEY}{body['t']}".encode()).hexdigest()
    assert given == body["sign"]
    hashlib.sha256(event["body"].encode()).hexdigest()


def compare(body: dict[str, Any], runs: int, per_run: int) -> tuple[Figure, Figure]:
    rt = discarding_runtime()
    event = events.wrap(events.signed(body, KEY), "apigw")
    answer = pipeline.handle(event, {}, rt)
    assert answer["statusCode"] == 200, answer
    product = measure(lambda: pipeline.handle(event, {}, rt), runs, per_run)
    base = measure(lambda: floor(event), runs, per_run)
    rt.executor.pool.shutdown()
    return product, base
