"""python -m bench.report_day [OUT_DIR]: a realistic day of one stream, reported from the local sink and from COS.

Archives about 1,500 events of stream ``studio-1`` on 2025-07-10 (345 averages every 5 minutes for
three classes, 344 threshold frames during two bad spells, 347 subtitles with keyword hits, 349
highlights), then times ``report`` over that day from the local folder and from a COS bucket (the
local COS server in another process: listing, then fetching in parallel). Writes the page and chart
(the chart is docs/report-example.png).
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import sample
from bench.memory import servers
from cssai import identity, keys, runtime
from cssai.ops import report
from cssai.writes import PutObject

STREAM = "studio-1"
DAY = 1752105600  # 2025-07-10 00:00:00 UTC


def day_of_events(seed: int = 3) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    base = {"appid": 1234576, "appname": "live", "domain": "push.example.com", "stream_id": STREAM,
            "transcode_template_id": 12345, "function": "Assessment"}
    levels = {"PSNR": (38.0, 2.0), "SSIM": (0.96, 0.01), "VMAF": (86.0, 4.0)}
    bad = [(DAY + 9 * 3600, DAY + 10 * 3600), (DAY + 20 * 3600 + 1800, DAY + 21 * 3600)]
    for t in range(DAY, DAY + 86400, 300):
        dip = any(a <= t < b for a, b in bad)
        for metric, (mean, spread) in levels.items():
            avg = mean - (3.5 * spread if dip else 0) + rng.gauss(0, spread / 3)
            out.append({**base, "event_type": 345, "class": metric, "event_time": t, "frames": [],
                        "average_score": round(avg, 4), "max_score": round(avg + spread, 4),
                        "min_score": round(avg - spread, 4)})
    for a, b in bad:
        for t in range(a, b, 20):
            frames = [{"score": round(rng.uniform(24, 29.9), 2), "time": (t - 20) * 1000 + 1000 * i}
                      for i in range(rng.randint(3, 12))]
            out.append({**base, "event_type": 344, "class": "PSNR", "event_time": t, "frames": frames})
    words = ["flash sale", "link number one", "limited time", "free shipping"]
    seg = sample("347")["data"]["subtitle_tmp_res"][0]
    for n, t in enumerate(range(DAY + 8 * 3600, DAY + 22 * 3600, 150)):
        hit = [{"word": rng.choice(words), "begin_time": 1000, "end_time": 2000}] if n % 3 == 0 else []
        out.append({"event_type": 347, "stream_id": STREAM, "channel_id": STREAM, "task_id": "7735333",
                    "data": {"subtitle_tmp_res": [{**seg, "start_unix_time": t, "end_unix_time": t + 9,
                                                   "start_pts": 0, "end_pts": 9000, "keywords_info": hit}]}})
    item = sample("349")["items"][0]
    for t in range(DAY + 8 * 3600, DAY + 22 * 3600, 1800):
        out.append({"event_type": 349, "appid": 1234, "domain": "push.example.com", "path": "live",
                    "stream_id": STREAM, "items": [{**item, "begin_time": t, "end_time": t + 40,
                                                    "title": f"Clip at {time.strftime('%H:%M', time.gmtime(t))}"}]})
    return out


def archive(rt: runtime.Runtime, bodies: list[dict[str, Any]]) -> None:
    """As the receiver archives them: events/{type}/{date}/{event_id}.json, the body as received."""
    objects = rt.executor.objects
    for body in bodies:
        eid = identity.event_id(body)
        date = identity.day(identity.event_seconds(body))
        key = keys.join("events", str(body["event_type"]), date, f"{eid}.json")
        objects.put(PutObject(key, json.dumps(body).encode()), eid, if_absent=False)


def timed_report(rt: runtime.Runtime, out: Path) -> tuple[float, report.Written]:
    started = time.perf_counter()
    written = report.write(rt, STREAM, "2025-07-10", "2025-07-10", out)
    return time.perf_counter() - started, written


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else Path("reports")
    bodies = day_of_events()
    print(f"{len(bodies)} events of stream {STREAM} on 2025-07-10")
    with tempfile.TemporaryDirectory() as sink:
        os.environ.update(CSS_CALLBACK_KEYS="bench", LOCAL_SINK_DIR=sink, LOG_LEVEL="WARNING")
        runtime.reset()
        rt = runtime.current()
        archive(rt, bodies)
        took, written = timed_report(rt, out)
        print(f"local sink: report in {took:.2f} s ({written.summary_line})")
    proc, env = servers(latency=0.005)
    try:
        os.environ.update(env)
        runtime.reset()
        rt = runtime.current()
        archive(rt, bodies)
        took, written = timed_report(rt, out)
        print(f"COS (5 ms per request, listing then fetching 16 at a time): report in {took:.2f} s")
    finally:
        if proc.stdin:
            proc.stdin.close()
        proc.wait(timeout=10)
        runtime.reset()
    for path in written.files:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
