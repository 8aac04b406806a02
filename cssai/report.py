"""``python index.py report``: one stream's quality, keyword hits and highlights as a page and a chart.

Reads the archive (``events/``) from the configured object sink, so it works on the local
folder and on a COS prefix alike. The page is self-contained: the chart and any copied
covers are embedded; nothing is fetched from the network to render it, and URLs from the
(unsigned) callbacks are shown as text, never loaded.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cssai import identity, keys
from cssai.runtime import Runtime

WIDTH_PX, HEIGHT_PX, DPI = 1200, 800, 100


@dataclass
class StreamData:
    stream: str
    series: dict[str, list[tuple[int, float]]] = field(default_factory=lambda: defaultdict(list))
    averages: dict[str, list[tuple[int, float]]] = field(default_factory=lambda: defaultdict(list))
    alerts: dict[str, list[tuple[int, float]]] = field(default_factory=lambda: defaultdict(list))
    keyword_hits: list[tuple[int, str]] = field(default_factory=list)
    highlights: list[dict[str, Any]] = field(default_factory=list)


def collect(runtime: Runtime, stream: str, since: str | None, until: str | None) -> StreamData:
    """Everything archived for ``stream`` with an event date in [since, until] (YYYY-MM-DD, inclusive)."""
    data = StreamData(stream)
    thresholds = runtime.settings.thresholds
    objects = runtime.executor.objects
    for key in objects.list("events/"):
        parts = key.split("/")
        if len(parts) != 4 or (since and parts[2] < since) or (until and parts[2] > until):
            continue
        raw = objects.get(key)
        try:
            body = json.loads(raw or b"")
        except ValueError:
            continue
        if isinstance(body, dict) and body.get("stream_id") == stream:
            _add(data, body, thresholds)
    for table in (data.series, data.averages, data.alerts):
        for metric, points in table.items():
            table[metric] = sorted(set(points))  # a 344 alert repeats frames a 345 report also carries
    data.keyword_hits.sort()
    data.highlights.sort(key=lambda item: item.get("begin_time", 0))
    return data


def _add(data: StreamData, body: dict[str, Any], thresholds: dict[str, float]) -> None:
    kind, metric = body.get("event_type"), str(body.get("class", ""))
    frames = [f for f in body.get("frames") or []
              if isinstance(f, dict) and _num(f.get("score")) and _num(f.get("time"))]
    if kind in (344, 345):
        data.series[metric].extend((int(f["time"]), float(f["score"])) for f in frames)
    if kind == 344:
        data.alerts[metric].extend((int(f["time"]), float(f["score"])) for f in frames)
    if kind == 345 and _num(body.get("average_score")) and _num(body.get("event_time")):
        point = (int(body["event_time"]) * 1000, float(body["average_score"]))
        data.averages[metric].append(point)
        limit = thresholds.get(metric.upper())
        if limit is not None and point[1] < limit:
            data.alerts[metric].append(point)
    if kind == 347:
        for seg in (body.get("data") or {}).get("subtitle_tmp_res") or []:
            if not isinstance(seg, dict) or not _num(seg.get("start_unix_time")):
                continue
            for hit in seg.get("keywords_info") or []:
                if isinstance(hit, dict):
                    offset = max(0, int(hit.get("begin_time") or 0) - int(seg.get("start_pts") or 0))
                    data.keyword_hits.append((int(seg["start_unix_time"]) * 1000 + offset, str(hit.get("word", ""))))
    if kind == 349:
        short_id = identity.event_id(body)[:16]
        for item in body.get("items") or []:
            if isinstance(item, dict):
                name = f"{item.get('begin_time')}-{item.get('end_time')}-{short_id}"
                stem = keys.join("highlights", keys.segment(data.stream), identity.day(item.get("begin_time")), name)
                data.highlights.append({**item, "_stem": stem})


def _num(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def chart(data: StreamData, thresholds: dict[str, float]) -> bytes:
    """A PNG (1200 × 800): a panel per metric class with its threshold and alerts, then the timeline."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    metrics = sorted(set(data.series) | set(data.averages)) or ["(no quality data)"]
    fig, axes = plt.subplots(len(metrics) + 1, 1, figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, sharex=True,
                             gridspec_kw={"height_ratios": [3] * len(metrics) + [1.5]})
    for ax, metric in zip(axes, metrics, strict=False):
        if data.series.get(metric):
            ax.plot(*_xy(data.series[metric]), ".-", ms=3, lw=0.8, label=f"{metric} frames")
        if data.averages.get(metric):
            ax.plot(*_xy(data.averages[metric]), "s", ms=6, label=f"{metric} 345 average")
        if data.alerts.get(metric):
            ax.plot(*_xy(data.alerts[metric]), "x", color="red", ms=7, label="alert")
        limit = thresholds.get(metric.upper())
        if limit is not None:
            ax.axhline(limit, color="red", ls="--", lw=1, label=f"threshold {limit}")
        ax.set_ylabel(metric)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper right", fontsize=7)
        ax.grid(alpha=0.3)
    timeline = axes[-1]
    for item in data.highlights:
        if _num(item.get("begin_time")) and _num(item.get("end_time")):
            timeline.axvspan(_when(item["begin_time"] * 1000), _when(item["end_time"] * 1000), color="gold", alpha=0.5)
    for ms, word in data.keyword_hits:
        timeline.axvline(_when(ms), color="purple", lw=1)
        timeline.text(_when(ms), 0.5, word[:20], rotation=90, fontsize=6, va="center")
    timeline.set_yticks([])
    timeline.set_ylabel("hits / clips")
    fig.suptitle(f"Stream {data.stream}")
    fig.autofmt_xdate()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    plt.close(fig)
    return buffer.getvalue()


def _xy(points: list[tuple[int, float]]) -> tuple[list[datetime], list[float]]:
    return [_when(t) for t, _ in points], [v for _, v in points]


def _when(ms: float) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def page(data: StreamData, png: bytes, runtime: Runtime) -> str:
    """A self-contained HTML page: chart and copied covers embedded, every text escaped."""
    esc = html.escape
    rows = []
    objects = runtime.executor.objects
    for item in data.highlights:
        stem = item["_stem"]
        cover = next((c for c in (objects.get(f"{stem}{ext}") for ext in (".jpg", ".png")) if c), None)
        image = (f'<img alt="cover" src="data:image/jpeg;base64,{base64.b64encode(cover).decode()}">' if cover
                 else f'<span class="url">{esc(str(item.get("cov_img_store_url") or "no cover"))}</span>')
        words = ", ".join(esc(str(w)) for w in item.get("key_words") or [])
        begin = _when(item.get("begin_time", 0) * 1000).strftime("%Y-%m-%d %H:%M:%S")
        rows.append(f"<tr><td>{image}</td><td><b>{esc(str(item.get('title', '')))}</b><br>"
                    f"{esc(str(item.get('summary', '')))}<br><small>{begin} UTC · {words}</small><br>"
                    f'<span class="url">{esc(str(item.get("video_store_url", "")))}</span></td></tr>')
    hits = "".join(f"<li>{_when(ms):%Y-%m-%d %H:%M:%S} UTC: {esc(word)}</li>" for ms, word in data.keyword_hits)
    chart_uri = base64.b64encode(png).decode()
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Stream report: {esc(data.stream)}</title>
<style>body{{font-family:sans-serif;margin:2em}} img{{max-width:240px}} td{{vertical-align:top;padding:6px}}
.url{{color:#666;font-size:small;word-break:break-all}}</style></head>
<body><h1>Stream report: {esc(data.stream)}</h1>
<img style="max-width:100%" alt="quality chart" src="data:image/png;base64,{chart_uri}">
<h2>Highlights ({len(data.highlights)})</h2><table>{"".join(rows)}</table>
<h2>Keyword hits ({len(data.keyword_hits)})</h2><ul>{hits}</ul>
</body></html>
"""


def write(runtime: Runtime, stream: str, since: str | None, until: str | None, out_dir: Path) -> tuple[Path, Path]:
    data = collect(runtime, stream, since, until)
    png = chart(data, runtime.settings.thresholds)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"report-{keys.segment(stream)}-{since or 'start'}-{until or 'end'}"
    png_path, html_path = stem.with_suffix(".png"), stem.with_suffix(".html")
    png_path.write_bytes(png)
    html_path.write_text(page(data, png, runtime), encoding="utf-8")
    return html_path, png_path
