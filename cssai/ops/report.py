"""``python index.py report``: one stream's day as a page and a chart: its sessions (push to stop),
recordings, screenshots, moderation hits, quality-control and quality alerts, push and recording
errors, live summaries and subtitles, keyword hits and highlights.

Reads the archive (``events/``) from the configured object sink, so it works on the local folder
and on a COS prefix alike (listing, then fetching in parallel). Every event is validated with its
family's model first: one that fails, or whose times are absurd, is skipped and counted on the page,
never a crash. The page is self-contained: the chart and any copied covers are embedded; nothing is
fetched from the network to render it, and URLs from the (unsigned) callbacks are shown as text.
"""

from __future__ import annotations

import base64
import html
import io
import json
import statistics
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from cssai import identity, keys, streams
from cssai.runtime import Runtime

WIDTH_PX, DPI = 1200, 100
EARLIEST_MS = 946_684_800_000  # 2000-01-01: anything before is an odd time, skipped
LATEST_MS = 4_102_444_800_000  # 2100-01-01
MAX_LABELLED_HITS = 25
FETCHERS = 16


class NothingToReportError(Exception):
    """No archived event of the stream in the range (the CLI exits 1 with this message)."""


@dataclass
class StreamData:
    stream: str
    frames: dict[str, list[tuple[int, float]]] = field(default_factory=lambda: defaultdict(list))  # 344: below CSS's
    alerts: dict[str, list[tuple[int, float]]] = field(default_factory=lambda: defaultdict(list))  # 344 events
    averages: dict[str, list[tuple[int, float]]] = field(default_factory=lambda: defaultdict(list))  # 345
    keyword_hits: list[tuple[int, str]] = field(default_factory=list)
    highlights: list[dict[str, Any]] = field(default_factory=list)
    families: Counter[int] = field(default_factory=Counter)
    session_docs: list[dict[str, Any]] = field(default_factory=list)  # 1/0, as cssai.streams reads them
    recordings: list[dict[str, Any]] = field(default_factory=list)
    screenshots: int = 0
    moderation: list[dict[str, Any]] = field(default_factory=list)
    controls: list[dict[str, Any]] = field(default_factory=list)  # 343
    push_errors: Counter[str] = field(default_factory=Counter)  # type -> occurrences
    recording_errors: list[dict[str, Any]] = field(default_factory=list)
    summaries: list[dict[str, Any]] = field(default_factory=list)
    subtitles: list[tuple[int, str, str]] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    first_ms: int | None = None
    last_ms: int | None = None

    def seen(self, ms: int) -> None:
        self.first_ms = ms if self.first_ms is None else min(self.first_ms, ms)
        self.last_ms = ms if self.last_ms is None else max(self.last_ms, ms)

    @property
    def empty(self) -> bool:
        return not self.families


@dataclass(frozen=True)
class Written:
    files: tuple[Path, ...]
    summary_line: str


def collect(runtime: Runtime, stream: str, since: str | None, until: str | None) -> StreamData:
    """Everything archived for ``stream`` with an event date in [since, until] (inclusive).

    With either date given, ``undated`` events are left out: their date is unknown.
    """
    objects = runtime.executor.objects
    wanted = []
    for key in objects.list("events/"):
        parts = key.split("/")
        if len(parts) != 4:
            continue
        date = parts[2]
        if (since or until) and date == identity.UNDATED:
            continue
        if (since and date < since) or (until and date > until):
            continue
        wanted.append(key)
    data = StreamData(stream)
    with ThreadPoolExecutor(max_workers=FETCHERS) as pool:  # COS: one request per object, so in parallel
        for raw in pool.map(objects.get, wanted):
            try:
                body = json.loads(raw or b"")
            except ValueError:
                continue
            if isinstance(body, dict) and body.get("stream_id", body.get("streamId")) == stream:
                _add(data, body, runtime.settings.thresholds)
    for table in (data.frames, data.alerts, data.averages):
        for metric, points in table.items():
            table[metric] = sorted(set(points))  # a redelivered or overlapping 344 repeats frames
    data.keyword_hits.sort()
    data.highlights.sort(key=lambda item: item["begin_time"])
    return data


def _add(data: StreamData, body: dict[str, Any], thresholds: dict[str, float]) -> None:
    """Validate with the family's own model; an event that fails is skipped and counted."""
    kind = body.get("event_type")
    try:
        if kind in (344, 345):
            _quality(data, body, thresholds)
        elif kind == 347:
            _erasing(data, body)
        elif kind == 349:
            _highlight(data, body)
        elif kind in FAMILY_READERS:
            FAMILY_READERS[kind](data, body)
        else:
            data.skipped["unknown event type"] += 1
            return
    except _OddTimeError:
        data.skipped["odd times"] += 1
        return
    except Exception:  # a ValidationError, or anything odd in an archived body
        data.skipped["failed validation"] += 1
        return
    data.families[kind] += 1  # type: ignore[index]


class _OddTimeError(Exception):
    pass


def _ms(value: int) -> int:
    if not EARLIEST_MS <= value <= LATEST_MS:
        raise _OddTimeError
    return value


def _quality(data: StreamData, body: dict[str, Any], thresholds: dict[str, float]) -> None:
    from handlers.quality import AverageEvent, QualityEvent, validated_frames

    model = QualityEvent if body["event_type"] == 344 else AverageEvent
    event = model.model_validate({k: v for k, v in body.items() if k != "frames"})
    metric = event.metric.upper()
    frames = [(_ms(f["time"]), f["score"]) for chunk in validated_frames(body.get("frames", [])) for f in chunk]
    at = _ms(event.event_time * 1000)
    if isinstance(event, AverageEvent):
        data.averages[metric].append((at, event.average_score))
        limit = thresholds.get(metric)
        if limit is not None and event.average_score < limit:
            data.alerts[metric].append((at, event.average_score))
    elif frames:  # 344 frames are the ones CSS found below its threshold
        data.frames[metric].extend(frames)
        data.alerts[metric].append((at, min(score for _, score in frames)))
    for ms, _ in frames or [(at, 0.0)]:
        data.seen(ms)


def _erasing(data: StreamData, body: dict[str, Any]) -> None:
    from handlers.erasing import segments

    for chunk in segments((body.get("data") or {}).get("subtitle_tmp_res", [])):
        for seg in chunk:
            if seg.start_unix_time is None:
                continue
            start = _ms(seg.start_unix_time * 1000)
            data.seen(start)
            for hit in seg.keywords_info:
                offset = max(0, (hit.begin_time or 0) - (seg.start_pts or 0)) if hit.begin_time is not None else 0
                data.keyword_hits.append((start + offset, hit.word))


def _highlight(data: StreamData, body: dict[str, Any]) -> None:
    from handlers.highlight import clip_stems, items

    short_id = identity.event_id(body)[:16]
    date = identity.day(identity.event_seconds(body))
    validated = [item for chunk in items(body.get("items", [])) for item in chunk]
    stems = clip_stems(data.stream, date, [(i.begin_time, i.end_time) for i in validated], short_id)
    for item, stem in zip(validated, stems, strict=True):
        data.seen(_ms(item.begin_time * 1000))
        data.highlights.append({**item.model_dump(), "_stem": stem})


def _session(data: StreamData, body: dict[str, Any]) -> None:
    from handlers.stream import StreamEvent, stop_reason

    event = StreamEvent.model_validate(body)
    if event.event_time is not None:
        data.seen(_ms(event.event_time * 1000))
    data.session_docs.append({"stream_id": data.stream, "event": "start" if event.event_type == 1 else "stop",
                              "sequence": event.sequence, "event_time": event.event_time,
                              "stop_reason": stop_reason(event.errcode, event.sub_errcode)[0]})


def _recording(data: StreamData, body: dict[str, Any]) -> None:
    from handlers.recording import RecordingFile

    event = RecordingFile.model_validate(body)
    if event.end_time is not None:
        data.seen(_ms(event.end_time * 1000))
    data.recordings.append(event.model_dump())


def _recording_error(data: StreamData, body: dict[str, Any]) -> None:
    from handlers.recording import EXCEPTION_TYPES, RECORD_FAILURES, RecordingException, RecordingStatus

    if body.get("event_type") == 332:
        status = RecordingStatus.model_validate(body)
        if status.record_event in RECORD_FAILURES:
            data.recording_errors.append({"time": status.event_time, "what": status.record_event})
        when = status.event_time
    else:
        exception = RecordingException.model_validate(body)
        if (exception.exception_level or "").lower() == "error":
            meaning = EXCEPTION_TYPES.get(exception.exception.type or 0, "unknown exception type")
            data.recording_errors.append({"time": exception.timestamp,
                                          "what": f"{exception.exception.type}: {meaning}"})
        when = exception.timestamp
    if when is not None:
        data.seen(_ms(when * 1000))


def _screenshot(data: StreamData, body: dict[str, Any]) -> None:
    from handlers.snapshot import Screenshot

    event = Screenshot.model_validate(body)
    if event.create_time is not None:
        data.seen(_ms(event.create_time * 1000))
    data.screenshots += 1


def _moderation(data: StreamData, body: dict[str, Any]) -> None:
    from handlers.moderation import ALERTING, IMAGE_LISTS, AudioModeration, ImageModeration

    if body.get("event_type") == 317:
        image = ImageModeration.model_validate({k: v for k, v in body.items() if k not in IMAGE_LISTS})
        when, media, suggestion, label = image.screenshot_time or image.send_time, "image", image.suggestion, \
            image.label
        detail = image.img or ""
    else:
        audio = AudioModeration.model_validate({k: v for k, v in body.items() if k != "data" and
                                                not isinstance(v, list)})
        when, media, suggestion, label = identity.event_seconds(body), "audio", audio.suggestion, audio.label
        detail = audio.asr_text or ""
    if when is not None:
        data.seen(_ms(when * 1000))
    data.moderation.append({"time": when, "media": media, "suggestion": suggestion or "", "label": label or "",
                            "detail": detail, "alert": (suggestion or "").lower() in ALERTING})


def _control(data: StreamData, body: dict[str, Any]) -> None:
    from handlers.quality import ControlEvent

    event = ControlEvent.model_validate(body)
    if event.event_time is not None:
        data.seen(_ms(event.event_time * 1000))
    data.controls.append({"time": event.event_time, "class": event.anomaly, "score": event.score})


def _push_error(data: StreamData, body: dict[str, Any]) -> None:
    from handlers.stream import PUSH_ERROR_TYPES, PushErrorEvent, entries

    event = PushErrorEvent.model_validate({k: v for k, v in body.items() if k != "abnormal_event"})
    if event.data_time is not None:
        data.seen(_ms(event.data_time))
    for chunk in entries(body.get("abnormal_event", [])):
        for entry in chunk:
            data.push_errors[f"{entry.type}: {PUSH_ERROR_TYPES.get(entry.type or 0, 'unknown type')}"] += \
                entry.count or 0


def _summary(data: StreamData, body: dict[str, Any]) -> None:
    from handlers.summary import SummaryEvent

    event = SummaryEvent.model_validate(body)
    if event.begin_time is not None:
        data.seen(_ms(event.begin_time * 1000))
    data.summaries.append(event.model_dump())


def _subtitles(data: StreamData, body: dict[str, Any]) -> None:
    from handlers.subtitles import segments

    for chunk in segments((body.get("data") or {}).get("subtitle_tmp_res", [])):
        for seg in chunk:
            if seg.steady_state is False or seg.start_unix_time is None:
                continue
            start = _ms(seg.start_unix_time * 1000)
            data.seen(start)
            data.subtitles.append((start, seg.src_txt, seg.dst_txt or ""))


FAMILY_READERS = {1: _session, 0: _session, 100: _recording, 332: _recording_error, 341: _recording_error,
                  200: _screenshot, 317: _moderation, 315: _moderation, 343: _control, 321: _push_error,
                  348: _summary, 338: _subtitles}
MAX_SUBTITLES = 300  # the page lists the last ones; CLS holds them all


def summary(data: StreamData, thresholds: dict[str, float], tz: ZoneInfo) -> list[tuple[str, str]]:
    """The page's summary: (label, value) rows."""
    names = {344: "344 threshold", 345: "345 average", 347: "347 erasing", 349: "349 highlight", 1: "1 push",
             0: "0 stop", 321: "321 push error", 100: "100 recording", 332: "332 recording status",
             341: "341 recording exception", 200: "200 screenshot", 317: "317 image moderation",
             315: "315 audio moderation", 343: "343 quality control", 338: "338 live subtitles",
             348: "348 live summary"}
    rows = [("period covered", f"{_fmt(data.first_ms, tz)} to {_fmt(data.last_ms, tz)}"),
            ("events", ", ".join(f"{names[k]}: {n}" for k, n in sorted(data.families.items())) or "none")]
    for metric in sorted(set(data.frames) | set(data.averages)):
        limit = thresholds.get(metric)
        frames = [score for _, score in data.frames.get(metric, [])]
        averages = [score for _, score in data.averages.get(metric, [])]
        parts = [f"{len(data.alerts.get(metric, []))} alert(s)"]
        if frames:  # two series that mean different things: never averaged together
            parts.append(f"{len(frames)} frame(s) below CSS's threshold (344), lowest {min(frames):g}")
        if averages:
            parts.append(f"{len(averages)} period average(s) (345), mean {statistics.fmean(averages):.4g}, "
                         f"lowest {min(averages):g}")
        rows.append((metric, "; ".join(parts) + (f"; alert threshold {limit:g}" if limit is not None else "")))
    words = Counter(word for _, word in data.keyword_hits)
    rows.append(("keyword hits", ", ".join(f"{w} × {n}" for w, n in words.most_common()) or "none"))
    rows.append(("highlights", str(len(data.highlights))))
    if data.session_docs:
        (stream_state,) = streams.states(data.session_docs)
        rows.append(("sessions", f"{stream_state.sessions}; the latest is {'live' if stream_state.live else 'ended'}"))
    for label, count in (("recordings", len(data.recordings)), ("screenshots", data.screenshots),
                         ("moderation hits", sum(m["alert"] for m in data.moderation)),
                         ("quality-control alerts", len(data.controls)),
                         ("push errors", sum(data.push_errors.values())),
                         ("recording errors", len(data.recording_errors)), ("live summaries", len(data.summaries)),
                         ("live subtitles", len(data.subtitles))):
        if count:
            rows.append((label, str(count)))
    rows.append(("events skipped", ", ".join(f"{why}: {n}" for why, n in data.skipped.items()) or "none"))
    return rows


def chart(data: StreamData, thresholds: dict[str, float], tz: ZoneInfo) -> bytes:
    """A PNG: a panel per metric class that has data, then the keyword/highlight timeline if any."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import dates as mdates
    from matplotlib import pyplot as plt

    metrics = sorted(set(data.frames) | set(data.averages))
    timeline = bool(data.keyword_hits or data.highlights)
    panels = len(metrics) + timeline
    if not panels:
        panels, metrics = 1, []
    ratios = [3] * len(metrics) + [2] * timeline or [1]
    fig, axes = plt.subplots(panels, 1, figsize=(WIDTH_PX / DPI, 2.6 * panels + 1), dpi=DPI, sharex=True,
                             gridspec_kw={"height_ratios": ratios}, squeeze=False)
    axes = [a[0] for a in axes]
    for ax, metric in zip(axes, metrics, strict=False):
        if data.frames.get(metric):
            ax.plot(*_xy(data.frames[metric], tz), ".", ms=3, color="tab:blue",
                    label=f"{metric} frames below CSS's threshold (344)")
        if data.averages.get(metric):
            ax.plot(*_xy(data.averages[metric], tz), "s-", ms=5, lw=1, color="tab:green",
                    label=f"{metric} average (345)")
        if data.alerts.get(metric):  # one style for every alert, drawn above the series
            ax.plot(*_xy(data.alerts[metric], tz), "x", color="red", ms=8, mew=2, zorder=5, label="alert raised")
        limit = thresholds.get(metric)
        if limit is not None and data.averages.get(metric):
            ax.axhline(limit, color="red", ls="--", lw=1, label=f"alert threshold {limit:g}")
        ax.set_ylabel(metric)
        ax.margins(y=0.15)
        ax.yaxis.get_major_formatter().set_useOffset(False)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, borderaxespad=0)  # off the data
        ax.grid(alpha=0.3)
    if timeline:
        _timeline(axes[-1], data, tz)
    span = x_range(data)
    if span is not None:  # the data's own span, whatever it is
        axes[-1].set_xlim(_when(span[0], tz), _when(span[1], tz))
    locator = mdates.AutoDateLocator(tz=tz)
    axes[-1].xaxis.set_major_locator(locator)
    axes[-1].xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=tz))
    axes[-1].set_xlabel(f"time ({tz.key})")
    fig.suptitle(f"Stream {data.stream}")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    plt.close(fig)
    return buffer.getvalue()


def x_range(data: StreamData) -> tuple[float, float] | None:
    """The chart's time axis in ms: the data's span with a margin, at least a minute (one event included)."""
    if data.first_ms is None or data.last_ms is None:
        return None
    pad = max((data.last_ms - data.first_ms) * 0.03, 30_000)
    return data.first_ms - pad, data.last_ms + pad


def _timeline(ax: Any, data: StreamData, tz: ZoneInfo) -> None:
    for item in data.highlights:
        ax.axvspan(_when(item["begin_time"] * 1000, tz), _when(item["end_time"] * 1000, tz), color="gold", alpha=0.6)
    if data.highlights:
        ax.plot([], [], "s", color="gold", label=f"highlights ({len(data.highlights)})")
    if data.keyword_hits:
        words = sorted({w for _, w in data.keyword_hits})
        rows = {w: i for i, w in enumerate(words)}
        xs = [_when(ms, tz) for ms, _ in data.keyword_hits]
        ys = [rows[w] for _, w in data.keyword_hits]
        ax.plot(xs, ys, "|", ms=14, mew=2, color="purple", label=f"keyword hits ({len(xs)})")
        if len(words) <= MAX_LABELLED_HITS:
            ax.set_yticks(range(len(words)), [w[:40] for w in words], fontsize=8)
        ax.set_ylim(-1, len(words))
    else:
        ax.set_yticks([])
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, borderaxespad=0)
    ax.grid(alpha=0.3, axis="x")


def _xy(points: list[tuple[int, float]], tz: ZoneInfo) -> tuple[list[datetime], list[float]]:
    return [_when(t, tz) for t, _ in points], [v for _, v in points]


def _when(ms: float, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).astimezone(tz)


def _fmt(ms: int | None, tz: ZoneInfo) -> str:
    return "-" if ms is None else _when(ms, tz).strftime("%Y-%m-%d %H:%M:%S %Z")


def page(data: StreamData, png: bytes, runtime: Runtime, tz: ZoneInfo, source: str = "") -> str:
    """A self-contained HTML page: summary, chart, highlights, keyword hits; every text escaped."""
    esc = html.escape
    objects = runtime.executor.objects
    rows = []
    for item in data.highlights:
        cover = next((c for c in (objects.get(f"{item['_stem']}{ext}") for ext in (".jpg", ".png")) if c), None)
        image = (f'<img alt="cover" src="data:image/jpeg;base64,{base64.b64encode(cover).decode()}">' if cover
                 else f'<span class="url">{esc(str(item.get("cov_img_store_url") or "no cover"))}</span>')
        words = ", ".join(esc(str(w)) for w in item.get("key_words") or [])
        video = esc(str(item.get("video_store_url", "")))
        rows.append(f"<tr><td>{image}</td><td><b>{esc(str(item.get('title', '')))}</b><br>"
                    f"{esc(str(item.get('summary', '')))}<br><small>{esc(_fmt(item['begin_time'] * 1000, tz))} · "
                    f'{words}</small><br><span class="url">{video}</span></td></tr>')
    hits = "".join(f"<li>{esc(_fmt(ms, tz))}: {esc(word)}</li>" for ms, word in data.keyword_hits)
    facts = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>"
                    for k, v in summary(data, runtime.settings.thresholds, tz))
    alerts = sorted((ms, metric, score) for metric, points in data.alerts.items() for ms, score in points)
    sections = _table("Quality alerts", ("time", "class", "lowest score"),
                      [(_fmt(ms, tz), metric, f"{score:g}") for ms, metric, score in alerts])
    sections += "".join(_sections(data, tz))
    generated = datetime.now(timezone.utc).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z")
    if data.highlights:
        sections += f"<h2>Highlights ({len(data.highlights)})</h2><table>{''.join(rows)}</table>"
    if data.keyword_hits:
        sections += f"<h2>Keyword hits ({len(data.keyword_hits)})</h2><ul>{hits}</ul>"
    chart_uri = base64.b64encode(png).decode()
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Stream report: {esc(data.stream)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1250px}} img{{max-width:240px}}
td,th{{vertical-align:top;padding:4px 8px;text-align:left}} .summary th{{color:#555;font-weight:normal}}
.url{{color:#666;font-size:small;word-break:break-all}} td:first-child{{min-width:110px}}
table.list{{border-collapse:collapse}} table.list td,table.list th{{border-bottom:1px solid #ddd}}</style></head>
<body><h1>Stream report: {esc(data.stream)}</h1>
<p class="url">generated {esc(generated)} from {esc(source)}</p>
<table class="summary">{facts}</table>
<img style="max-width:100%" alt="quality chart" src="data:image/png;base64,{chart_uri}">
{sections}
</body></html>
"""


def _seconds(value: int | None, tz: ZoneInfo) -> str:
    return "-" if value is None else _fmt(value * 1000, tz)


def _table(title: str, head: tuple[str, ...], rows: list[tuple[object, ...]]) -> str:
    """A section: its heading, a header row and escaped cells; nothing at all when there are no rows."""
    if not rows:
        return ""
    esc = html.escape
    header = "".join(f"<th>{esc(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f'<h2>{esc(title)} ({len(rows)})</h2><table class="list"><tr>{header}</tr>{body}</table>'


def _recording_row(r: dict[str, Any], tz: ZoneInfo) -> tuple[object, ...]:
    duration = f"{r['duration']} s" if r.get("duration") is not None else "-"
    size = f"{r['file_size']:,} bytes" if isinstance(r.get("file_size"), int) else "-"
    return (r.get("file_id") or r.get("record_file_id") or "", r.get("file_format") or "",
            _seconds(r.get("start_time"), tz), _seconds(r.get("end_time"), tz), duration, size,
            r.get("video_url") or "")


def _sections(data: StreamData, tz: ZoneInfo) -> list[str]:
    """The other families' sections, in the order an operator reads a stream's day."""
    out = []
    if data.session_docs:
        (stream_state,) = streams.states(data.session_docs)
        out.append(_table("Sessions", ("sequence", "push", "stop", "duration", "stop reason"), [
            (s.sequence, _seconds(s.start, tz), _seconds(s.end, tz) if s.stopped else "live",
             f"{(s.end - s.start) // 60} min {(s.end - s.start) % 60} s" if s.start is not None and s.end is not None
             else "-", s.stop_reason or "") for s in stream_state.history]))
    out.append(_table("Recordings", ("file", "format", "start", "end", "duration", "size", "URL (not fetched)"),
                      [_recording_row(r, tz) for r in sorted(data.recordings, key=lambda r: r.get("end_time") or 0)]))
    out.append(_table("Moderation", ("time", "media", "suggestion", "label", "what"), [
        (_seconds(m["time"], tz), m["media"], m["suggestion"], m["label"], m["detail"][:200])
        for m in sorted(data.moderation, key=lambda m: m["time"] or 0)]))
    out.append(_table("Quality-control alerts (343)", ("time", "anomaly", "score"), [
        (_seconds(c["time"], tz), c["class"], "-" if c["score"] is None else f"{c['score']:.4g}")
        for c in sorted(data.controls, key=lambda c: c["time"] or 0)]))
    out.append(_table("Push errors (321)", ("type", "occurrences"), data.push_errors.most_common()))
    out.append(_table("Recording errors", ("time", "what"), [
        (_seconds(e["time"], tz), e["what"]) for e in sorted(data.recording_errors, key=lambda e: e["time"] or 0)]))
    out.append(_table("Live summaries (348)", ("from", "to", "title", "summary", "key words"), [
        (_seconds(s.get("begin_time"), tz), _seconds(s.get("end_time"), tz), s.get("title", ""),
         s.get("summary", ""), ", ".join(s.get("key_words") or []))
        for s in sorted(data.summaries, key=lambda s: s.get("begin_time") or 0)]))
    shown = sorted(data.subtitles)[-MAX_SUBTITLES:]
    out.append(_table("Live subtitles (338)" + (f", the last {MAX_SUBTITLES}" if len(data.subtitles) > MAX_SUBTITLES
                                                  else ""), ("time", "text", "translation"),
                      [(_fmt(ms, tz), text, translation) for ms, text, translation in shown]))
    return out


# The family folders filed per stream ({folder}/{stream}/{date}/...): where the stream ids already stored are.
STREAM_FOLDERS = ("streams/", "recordings/", "snapshots/", "moderation/", "highlights/", "transcripts/",
                  "summaries/", "alerts/quality/", "reports/quality/", "alerts/push/", "alerts/recording/")
MAX_LISTED_KEYS = 20_000  # per folder: enough to name the streams, bounded on a large bucket


def known_streams(objects: Any) -> list[str]:
    """The stream ids that have objects, as sent (key segments decoded), sorted: for "no such stream"."""
    found: set[str] = set()
    for folder in STREAM_FOLDERS:
        for count, key in enumerate(objects.list(folder)):
            if count >= MAX_LISTED_KEYS:
                break
            segment = key[len(folder):].split("/", 1)[0]
            if segment and segment != keys.EMPTY:
                found.add(unquote(segment))
    return sorted(found)


def source(runtime: Runtime) -> str:
    """Where the archive was read: the COS bucket and prefix, or the local folder."""
    settings = runtime.settings
    if settings.cos_bucket:
        return f"cos://{settings.cos_bucket}/{settings.cos_prefix}events/"
    return f"{Path(settings.local_sink_dir) / 'cos' / 'events'}"


def write(runtime: Runtime, stream: str, since: str | None, until: str | None, out_dir: Path,
          tz_name: str = "UTC") -> Written:
    tz = ZoneInfo(tz_name)
    data = collect(runtime, stream, since, until)
    if data.empty:
        skipped = sum(data.skipped.values())
        why = f" ({skipped} event(s) skipped: {dict(data.skipped)})" if skipped else ""
        raise NothingToReportError(f"no archived event of stream {stream!r} between {since or 'the start'} and "
                              f"{until or 'the end'}{why}: check --stream and the dates")
    png = chart(data, runtime.settings.thresholds, tz)
    out_dir.mkdir(parents=True, exist_ok=True)
    first = _when(data.first_ms or 0, tz).strftime("%Y-%m-%d")
    last = _when(data.last_ms or 0, tz).strftime("%Y-%m-%d")
    stem = out_dir / f"{keys.segment(stream)}_{since or first}_{until or last}"
    png_path, html_path = stem.with_suffix(".png"), stem.with_suffix(".html")
    png_path.write_bytes(png)
    html_path.write_text(page(data, png, runtime, tz, source(runtime)), encoding="utf-8")
    counts = sum(data.families.values())
    return Written((html_path, png_path), f"{counts} event(s) of stream {stream!r}, "
                   f"{sum(data.skipped.values())} skipped, from {_fmt(data.first_ms, tz)} to {_fmt(data.last_ms, tz)}")
