"""python -m bench.stages [EVENT]: where the warm per-event time goes, stage by stage (µs, medians)."""

from __future__ import annotations

import json
import sys
import time

from bench.common import KEY, sample
from bench.warm import discarding_runtime, floor
from cssai import body, gateway, identity, logs, pipeline
from cssai.ops import events
from cssai.signature import verify


def main(argv: list[str]) -> int:
    name = argv[0] if argv else "345"
    logs.configure("WARNING")
    rt = discarding_runtime()
    event = events.wrap(events.signed(sample(name), KEY), "apigw")
    request = gateway.parse(event, rt.settings.max_body_bytes)
    parsed = body.parse_object(request.body)
    event_id = identity.event_id(parsed)
    plan, status, _ = pipeline.route(parsed, event_id, request.body, rt)
    stages = [
        ("floor: json.loads + md5 + sha256", lambda: floor(event)),
        ("json.loads alone", lambda: json.loads(request.body)),
        ("gateway: read the SCF event", lambda: gateway.parse(event, rt.settings.max_body_bytes)),
        ("strict parse (no NaN, no duplicate keys)", lambda: body.parse_object(request.body)),
        ("verify t and sign", lambda: verify(parsed, rt.settings.callback_keys, time.time())),
        ("event_id: canonical JSON + sha256", lambda: identity.event_id(parsed)),
        ("route: validate + plan (objects, records)", lambda: pipeline.route(parsed, event_id, request.body, rt)),
        ("commit to a discarding sink", lambda: rt.executor.commit(plan, event_id, status, time.monotonic() + 10)),
        ("whole handle()", lambda: pipeline.handle(event, {}, rt)),
    ]
    print(f"| stage ({name}) | µs |\n|---|---|")
    for label, fn in stages:
        runs = []
        for _ in range(7):
            started = time.perf_counter()
            for _ in range(2000):
                fn()
            runs.append((time.perf_counter() - started) / 2000 * 1e6)
        print(f"| {label} | {sorted(runs)[3]:.1f} |")
    rt.executor.pool.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
