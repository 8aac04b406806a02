"""Timing helpers and the events the benchmarks feed the receiver."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cssai.writes import CopyObject, LogRecord, PutObject

ROOT = Path(__file__).resolve().parent.parent
KEY = "bench-callback-key"
SAMPLE_FILES = {p.name.split("_", 1)[0]: p.name for p in sorted((ROOT / "samples").glob("*.json"))}


def sample(name: str) -> dict[str, Any]:
    body = json.loads((ROOT / "samples" / SAMPLE_FILES[name]).read_text(encoding="utf-8"))
    body.pop("t", None)
    body.pop("sign", None)
    return body


def highlight_items(count: int) -> dict[str, Any]:
    body = sample("349")
    item = body["items"][0]
    body["items"] = [{**item, "begin_time": item["begin_time"] + 60 * i, "end_time": item["end_time"] + 60 * i}
                     for i in range(count)]
    return body


def erasing_segments(count: int) -> dict[str, Any]:
    body = sample("347")
    seg = body["data"]["subtitle_tmp_res"][0]
    body["data"]["subtitle_tmp_res"] = [
        {**seg, "start_pts": seg["start_pts"] + 10_000 * i, "end_pts": seg["end_pts"] + 10_000 * i,
         "start_unix_time": seg["start_unix_time"] + 10 * i, "end_unix_time": seg["end_unix_time"] + 10 * i}
        for i in range(count)
    ]
    return body


def moderation_results(count: int) -> dict[str, Any]:
    """317 with ``count`` label results (each with two details), the largest list image moderation sends."""
    body = sample("317")
    entry = next(e for e in body["labelResults"] if e.get("Details"))
    body["labelResults"] = [{**entry, "Score": i % 100} for i in range(count)]
    return body


def push_error_entries(count: int) -> dict[str, Any]:
    """321 with ``count`` abnormal_event entries, each with its two occurrences."""
    body = sample("321")
    entry = body["abnormal_event"][0]
    body["abnormal_event"] = [{**entry, "type": 1 + i % 16} for i in range(count)]
    return body


def subtitle_segments(count: int) -> dict[str, Any]:
    """338 with ``count`` live subtitle segments, translated."""
    body = sample("338")
    seg = {**body["data"]["subtitle_tmp_res"][0], "dst_txt": "今天我们将深入学习一元一次方程。"}
    body["data"]["subtitle_tmp_res"] = [
        {**seg, "start_pts": seg["start_pts"] + 4000 * i, "end_pts": seg["end_pts"] + 4000 * i,
         "start_unix_time": seg["start_unix_time"] + 4 * i, "end_unix_time": seg["end_unix_time"] + 4 * i}
        for i in range(count)
    ]
    return body


def threshold_frames(count: int) -> dict[str, Any]:
    body = sample("344")
    body["frames"] = [{"score": 20.0 + (i % 97) / 10, "time": 1752130785280 + 40 * i} for i in range(count)]
    return body


@dataclass(frozen=True)
class Figure:
    median: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{fmt(self.median)} ({fmt(self.low)}–{fmt(self.high)})"


def fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def measure(fn: Callable[[], Any], runs: int, per_run: int) -> Figure:
    """Median and spread over ``runs`` of the mean time of ``per_run`` calls, in µs."""
    fn()  # warm
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        for _ in range(per_run):
            fn()
        samples.append((time.perf_counter() - started) / per_run * 1e6)
    return summarise(samples)


def summarise(samples: Sequence[float]) -> Figure:
    return Figure(statistics.median(samples), min(samples), max(samples))


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = [f"\n## {title}\n", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


class DiscardObjects:
    """An object sink that stores nothing and never has a marker: the pipeline's own cost."""

    concurrent = False

    def get(self, key: str) -> bytes | None:
        return None

    def put(self, obj: PutObject, event_id: str, *, if_absent: bool) -> bool:
        return True

    def copy(self, copy: CopyObject, event_id: str) -> None:
        return None


class DiscardLogs:
    concurrent = False

    def batches(self, records: Iterable[LogRecord]) -> Iterator[Sequence[LogRecord]]:
        batch = list(records)
        if batch:
            yield batch

    def upload(self, records: Sequence[LogRecord], common: Mapping[str, str], *, again: bool = False) -> None:
        return None
