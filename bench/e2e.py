"""Wall time per event against the tests' local COS and CLS servers, each answering after 20 ms.

The product's executor (concurrent steps) beside the same plan executed write by write.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable
from typing import Any

from bench.common import KEY, Figure, summarise
from cssai import events, identity, pipeline, runtime
from cssai.executor import marker_key
from cssai.writes import PutObject
from tests.fake_cls import ClsServer
from tests.fake_cos import CosServer

SECRET_ID, SECRET_KEY = "AKIDbench", "bench-secret"
_unique = itertools.count()


class Servers:
    def __init__(self, latency: float) -> None:
        self.cos = CosServer(SECRET_ID, SECRET_KEY).start()
        self.cls = ClsServer(SECRET_ID, SECRET_KEY).start()
        self.cos.latency = self.cls.latency = latency
        os.environ.update({
            "CSS_CALLBACK_KEYS": KEY, "COS_BUCKET": "bench-1250000000", "COS_REGION": "ap-guangzhou",
            "COS_ENDPOINT_URL": self.cos.url, "CLS_TOPIC_ID": "bench-topic", "CLS_REGION": "ap-guangzhou",
            "CLS_ENDPOINT_URL": self.cls.url, "TENCENTCLOUD_SECRETID": SECRET_ID,
            "TENCENTCLOUD_SECRETKEY": SECRET_KEY, "LOG_LEVEL": "WARNING",
        })
        runtime.reset()
        self.runtime = runtime.current()

    def stop(self) -> None:
        runtime.reset()
        self.cos.stop()
        self.cls.stop()


def fresh(body: dict[str, Any]) -> dict[str, Any]:
    """The same shape with a new identity, so each timing stores a new event."""
    return {**body, "bench_seq": next(_unique)}


def product(rt: runtime.Runtime, body: dict[str, Any]) -> None:
    answer = pipeline.handle(events.wrap(events.signed(body, KEY), "apigw"), {}, rt)
    assert answer["statusCode"] == 200, answer


def write_by_write(rt: runtime.Runtime, body: dict[str, Any]) -> None:
    """The same plan, one request at a time: marker read, each object, each upload, marker."""
    signed = events.signed(body, KEY)
    raw = events.wrap(signed, "apigw")["body"].encode()
    eid = identity.event_id(signed)
    plan, _status, _ = pipeline.route(signed, eid, raw, rt)
    objects, logs = rt.executor.objects, rt.executor.logs
    assert objects.get(marker_key(eid)) is None
    for obj in plan.objects:
        objects.put(obj, eid, if_absent=True)
    for batch in logs.batches(plan.all_records()):
        logs.upload(batch, plan.common)
    objects.put(PutObject(marker_key(eid), b'{"status":200}'), eid, if_absent=False)


def timed(fn: Callable[[], None], runs: int) -> Figure:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return summarise(samples)


def compare(servers: Servers, body: dict[str, Any], runs: int) -> tuple[Figure, Figure]:
    rt = servers.runtime
    product(rt, fresh(body))  # warm connections
    ours = timed(lambda: product(rt, fresh(body)), runs)
    base = timed(lambda: write_by_write(rt, fresh(body)), runs)
    return ours, base


def duplicate(servers: Servers, body: dict[str, Any], runs: int) -> Figure:
    rt = servers.runtime
    stored = fresh(body)
    product(rt, stored)
    return timed(lambda: product(rt, stored), runs)
