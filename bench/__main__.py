"""python -m bench [--quick] [--no-full-sdk]: print the benchmark tables (medians, min–max)."""

from __future__ import annotations

import argparse
import os
import platform
import sys
from datetime import datetime, timezone

from bench import cold, e2e, scaling, size, warm
from bench.common import erasing_segments, fmt, highlight_items, sample, table, threshold_frames


def machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu)
    except OSError:
        pass
    return f"{datetime.now(timezone.utc):%Y-%m-%d}, {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few runs (a smoke test, not figures)")
    parser.add_argument("--no-full-sdk", action="store_true", help="skip installing the full SDK for the size row")
    args = parser.parse_args(argv)
    runs = 3 if args.quick else 9
    per_run = 20 if args.quick else 300
    os.environ["LOG_LEVEL"] = "WARNING"
    print(f"# Benchmarks\n\n{machine()}; medians of {runs} runs, (min–max)")

    rows = []
    for name in ("344", "345", "347", "349"):
        ours, floor = warm.compare(sample(name), runs, per_run)
        ratio = ours.median / floor.median
        rows.append([name, ours, floor, f"{ratio:.1f}×", "yes" if ratio <= 4 else "no"])
    print(table("1. Warm cost per event, discarding sink (µs)",
                ["event", "receiver", "floor: json.loads+md5+sha256", "ratio", "≤ 4×"], rows))

    servers = e2e.Servers(latency=0.02)
    try:
        cases = [("344", sample("344")), ("345", sample("345")), ("347", sample("347")), ("349", sample("349")),
                 ("349 × 10 items", highlight_items(10)), ("347 × 50 segments", erasing_segments(50))]
        rows = []
        e2e_runs = 3 if args.quick else 7
        for label, body in cases:
            ours, base = e2e.compare(servers, body, e2e_runs)
            rows.append([label, ours, base, f"{base.median / ours.median:.1f}×", "yes" if ours.median <= 60 else "no"])
        dup = e2e.duplicate(servers, sample("349"), e2e_runs)
        rows.append(["duplicate 349", dup, "1 round trip = 20 ms", "", "yes" if dup.median <= 40 else "no"])
        print(table("2. End to end against local COS + CLS answering after 20 ms (ms)",
                    ["event", "receiver", "write by write", "speed-up", "≤ 60 ms"], rows))
        servers.cos.latency = servers.cls.latency = 0
        ours, floor = cold.compare(3 if args.quick else 7)
        ratio = ours.median / floor.median
        print(table("3. Cold start: fresh process (ms)", ["import index + handle one 349 (real clients)",
                    "import SDKs + pydantic only", "ratio", "≤ 1.2×"],
                    [[ours, floor, f"{ratio:.2f}×", "yes" if ratio <= 1.2 else "no"]]))
    finally:
        servers.stop()

    ours_mb = size.package_mb()
    full = "skipped" if args.no_full_sdk else f"{fmt(size.full_sdk_mb())} MB (the SDK alone)"
    print(table("4. Deployable size", ["package (requirements.txt + code)", "full tencentcloud-sdk-python", "≤ 50 MB"],
                [[f"{fmt(ours_mb)} MB", full, "yes" if ours_mb <= 50 else "no"]]))

    rows = []
    frames = (10, 1_000, 10_000) if args.quick else (10, 100, 1_000, 10_000, 100_000)
    for count in frames:
        took, peak = scaling.one(threshold_frames(count), runs)
        rows.append([f"344 × {count:,} frames", took, f"{took.median * 1000 / count:.2f}", f"{peak:.1f}"])
    for count in ((1, 100) if args.quick else (1, 10, 100, 1_000)):
        took, peak = scaling.one(erasing_segments(count), runs)
        rows.append([f"347 × {count:,} segments", took, f"{took.median * 1000 / count:.2f}", f"{peak:.1f}"])
    print(table("5. Scaling, discarding sink (ms per event)", ["event", "ms", "µs per frame/segment", "peak MB"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
