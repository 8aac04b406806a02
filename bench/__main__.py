"""python -m bench [--quick] [--no-full-sdk]: print the benchmark tables (medians, min–max)."""

from __future__ import annotations

import argparse
import os
import platform
import sys
from datetime import datetime, timezone

from bench import cold, cpu, memory, scaling, share, size, warm
from bench.common import erasing_segments, fmt, sample, table, threshold_frames


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

    print("\n## 0. Billed time at SCF's share of a core (python -m bench.share)\n")
    try:
        print(share.table(3 if args.quick else 7, 20.0))
    except share.QuotaUnavailableError as exc:
        print(f"no 0.2-core quota can be set here ({exc}): no figures (a full core would hide what SCF bills)")

    rows = []
    for name in ("344", "345", "347", "349"):
        ours, floor = warm.compare(sample(name), runs, per_run)
        ratio = ours.median / floor.median
        rows.append([name, ours, floor, f"{ratio:.1f}×", "yes" if ratio <= 4 else "no"])
    print(table("1. Warm cost per event, discarding sink (µs)",
                ["event", "receiver", "floor: json.loads+md5+sha256", "ratio", "≤ 4×"], rows))

    print("\n## 2. Per event: wall, the receiver's own CPU and requests, COS + CLS in another process "
          f"(medians of {10 if args.quick else 30})\n")
    print(cpu.table(10 if args.quick else 30))

    servers = cpu.Servers()
    try:
        ours, floor = cold.compare(3 if args.quick else 9)
        imported = cold.import_index(3 if args.quick else 9)
    finally:
        servers.stop()
    ratio = ours.median / floor.median
    print(table("3. Cold start: fresh process (ms)", ["import index + handle one 349 (real clients)",
                "import SDKs + pydantic only", "ratio", "≤ 1.2×", "import index alone", "≤ 250 ms"],
                [[ours, floor, f"{ratio:.2f}×", "yes" if ratio <= 1.2 else "no", imported,
                  "yes" if imported.median <= 250 else "no"]]))

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
    print(f"\n## 6. Peak RSS of the whole process at the largest body (of memorySize {memory.memory_size()} MB)\n")
    memory.main([])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
