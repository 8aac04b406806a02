"""Quality: control (343), evaluation threshold (344 frames), average score (345) -> alerts, reports, frames.

Doc pages: quality control https://www.tencentcloud.com/document/product/267/73166; evaluation threshold
https://www.tencentcloud.com/document/product/267/73167; average score
https://www.tencentcloud.com/document/product/267/73168.

A 6 MB evaluation holds ~157,000 frames. They are validated in chunks and never all copied: one pass
checks them and sums them up for the alert or report, and the ``quality_frame`` records are made
from the body's own frames, a validated chunk at a time, while they are uploaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal

from pydantic import Field, TypeAdapter
from typing_extensions import TypedDict

from cssai import keys
from cssai.writes import MAX_RECORD_MS, OUT_OF_RANGE, LogRecord, Plan, json_object, record
from handlers.base import INT64, Callback, HandlerContext, TimeField, members, seconds_ms, validated_chunks, with_extras

KNOWN_CLASSES = ("PSNR", "SSIM", "VMAF", "VQA")


class Frame(TypedDict):
    """A TypedDict, not a model: validated into a plain dict, 100,000 of them in well under a second."""

    score: Annotated[float, Field(allow_inf_nan=False)] | None  # null: sent without a score
    time: Annotated[int, Field(ge=0, le=INT64, description="unix milliseconds")] | None


class ControlEvent(Callback):
    """343: a format or content anomaly (``class``: Blur, Mosaic, Silence, VideoResolutionChanged...)."""

    event_type: Literal[343]
    appname: str | None = None
    domain: str | None = None
    event_time: int | None = TimeField(default=None)
    score: float | None = None
    transcode_template_id: int | None = None
    watermark_template_id: int | None = None
    function: str | None = None
    anomaly: str | None = Field(alias="class", min_length=1)


def plan_control(body: dict, ctx: HandlerContext) -> Plan:
    """One alert object under ``alerts/quality/`` and a ``quality_control`` record (an alert)."""
    event = ControlEvent.model_validate(body)
    alert = with_extras({
        "event_id": ctx.event_id, "event_type": event.event_type, "appid": event.appid,
        "stream_id": event.stream_id, "domain": event.domain, "appname": event.appname, "class": event.anomaly,
        "function": event.function, "score": event.score, "event_time": event.event_time,
        "transcode_template_id": event.transcode_template_id, "watermark_template_id": event.watermark_template_id,
        "reason": "quality_control_anomaly",
    }, event.extras())
    name = f"qc-{keys.segment(event.anomaly)}-{event.event_time or 0}-{ctx.short_id}.json"
    plan = Plan(objects=[json_object(keys.join("alerts", "quality", keys.segment(event.stream_id), ctx.date, name),
                                     alert)])
    plan.records.append(record(seconds_ms(ctx.seconds), extras=event.extras(), kind="quality_control",
                               alert="quality_control", **_flat(alert)))
    return plan


class QualityEvent(Callback):
    """344: frames whose score fell under the threshold configured in CSS."""

    event_type: Literal[344, 345]
    appname: str | None = None
    domain: str | None = None
    event_time: int | None = TimeField()
    transcode_template_id: int | None = None
    watermark_template_id: int | None = None
    # frames: list[Frame], validated apart in chunks (validated_frames) to bound memory
    function: str | None = None
    metric: str | None = Field(alias="class", min_length=1)


class AverageEvent(QualityEvent):
    """345: average, max and min score over an evaluation period."""

    average_score: float | None
    max_score: float | None = None
    min_score: float | None = None


_FRAMES = TypeAdapter(list[Frame])


def validated_frames(raw: object) -> Iterator[list[Frame]]:
    return validated_chunks(_FRAMES, raw, ("frames",), "QualityEvent")


class FrameSummary:
    """Count, lowest score and time span of the frames, from one validating pass."""

    def __init__(self, raw: object) -> None:
        self.count = 0
        self.min_score: float | None = None
        self.first_ms: int | None = None
        self.last_ms: int | None = None
        for chunk in validated_frames(raw):
            if not chunk:
                continue
            self.count += len(chunk)
            scores = [f["score"] for f in chunk if f["score"] is not None]
            times = [f["time"] for f in chunk if f["time"] is not None]
            if scores:
                low = min(scores)
                self.min_score = low if self.min_score is None else min(self.min_score, low)
            if times:
                first, last = min(times), max(times)
                self.first_ms = first if self.first_ms is None else min(self.first_ms, first)
                self.last_ms = last if self.last_ms is None else max(self.last_ms, last)


def _validate(model: type[QualityEvent], body: dict) -> tuple[QualityEvent, FrameSummary]:
    fields = {k: v for k, v in body.items() if k != "frames"}  # a shallow copy: the frames are not copied
    event = model.model_validate(fields)
    return event, FrameSummary(members(body, "frames"))


def plan_threshold(body: dict, ctx: HandlerContext) -> Plan:
    event, frames = _validate(QualityEvent, body)
    stream, date = keys.segment(event.stream_id), ctx.date
    alert = {
        **_identity(event, ctx),
        "reason": "frames_below_css_threshold",
        "min_score": frames.min_score,
        "frame_count": frames.count,
        "first_frame_ms": frames.first_ms,
        "last_frame_ms": frames.last_ms,
    }
    name = f"{keys.segment(event.metric)}-{event.event_time}-{ctx.short_id}.json"
    plan = Plan(objects=[json_object(keys.join("alerts", "quality", stream, date, name), alert)])
    plan.records.append(_alert_record(event, alert))
    plan.streams.append(FrameRecords(members(body, "frames"), event))
    return plan


def plan_average(body: dict, ctx: HandlerContext) -> Plan:
    event, frames = _validate(AverageEvent, body)
    stream, date = keys.segment(event.stream_id), ctx.date
    metric = keys.segment(event.metric)
    threshold = ctx.thresholds.get((event.metric or "").upper())
    below = threshold is not None and event.average_score is not None and event.average_score < threshold
    report = {
        **_identity(event, ctx),
        "average_score": event.average_score,
        "max_score": event.max_score,
        "min_score": event.min_score,
        "frame_count": frames.count,
        "threshold": threshold,
        "below_threshold": below,
    }
    name = f"{metric}-{event.event_time}-{ctx.short_id}.json"
    plan = Plan(objects=[json_object(keys.join("reports", "quality", stream, date, name), report)])
    plan.records.append(record(seconds_ms(event.event_time), extras=event.extras(), kind="quality_report",
                               **_flat(report)))
    if below:
        alert = {**report, "reason": "average_below_threshold"}
        avg_name = f"{metric}-avg-{event.event_time}-{ctx.short_id}.json"
        plan.objects.append(json_object(keys.join("alerts", "quality", stream, date, avg_name), alert))
        plan.records.append(_alert_record(event, alert))
    plan.streams.append(FrameRecords(members(body, "frames"), event))
    return plan


def _identity(event: QualityEvent, ctx: HandlerContext) -> dict:
    return with_extras({
        "event_id": ctx.event_id,
        "event_type": event.event_type,
        "appid": event.appid,
        "stream_id": event.stream_id,
        "domain": event.domain,
        "appname": event.appname,
        "class": event.metric,
        "function": event.function,
        "event_time": event.event_time,
        "transcode_template_id": event.transcode_template_id,
    }, event.extras())


def _flat(doc: dict) -> dict:
    """An object's flat members for its record (its extras are added as ``x_…`` by ``record``)."""
    return {k: v for k, v in doc.items() if k not in ("event_id", "event_type") and not isinstance(v, (dict, list))}


def _alert_record(event: QualityEvent, alert: dict) -> LogRecord:
    return record(seconds_ms(event.event_time), extras=event.extras(), kind="quality_alert", **_flat(alert))


class FrameRecords:
    """One ``quality_frame`` record per frame, made a validated chunk at a time as they are uploaded."""

    def __init__(self, raw_frames: list, event: QualityEvent) -> None:
        self.raw = raw_frames
        self.common = {k: v for k, v in (("kind", "quality_frame"), ("stream_id", event.stream_id),
                                          ("class", event.metric)) if v is not None}
        self.default_ms = seconds_ms(event.event_time)  # a frame sent without its time

    def __len__(self) -> int:
        return len(self.raw)

    def __iter__(self) -> Iterator[LogRecord]:
        common = self.common
        for chunk in validated_frames(self.raw):
            for f in chunk:  # the hot loop of a long evaluation: built directly
                ms, score = f["time"], f["score"]
                fields = {**common, "score": str(score), "frame_time_ms": str(ms)}
                if ms is None or score is None:  # null: not sent
                    fields = {k: v for k, v in fields.items() if v != "None"}
                    ms = self.default_ms if ms is None else ms
                if ms > MAX_RECORD_MS:  # as writes.record_time: clamped, the original kept (never negative here)
                    fields[OUT_OF_RANGE] = str(ms)
                    ms = MAX_RECORD_MS
                yield LogRecord(ms, fields)
