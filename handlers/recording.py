"""Recordings: the recording file (100), recording status (332) and recording exceptions (341).

Doc pages: recording file https://www.tencentcloud.com/document/product/267/38082; recording status
https://www.tencentcloud.com/document/product/267/58590 (for a relay recording, ``stream_id`` is the relay
task's id); recording exception https://www.tencentcloud.com/document/product/267/68622 (CN
https://cloud.tencent.com/document/product/267/117052: repeated exceptions are merged, so a callback
can be up to 2 minutes late).

Every event is one object under ``recordings/{stream}/{date}/``; a failure (332 ``record_start_failed``
or ``record_error``, 341 at level ``error``) is also filed under ``alerts/recording/{stream}/{date}/`` and
its record carries ``alert=recording_error``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from cssai import keys
from cssai.writes import Plan, record
from handlers.base import (
    LOOSE,
    Callback,
    HandlerContext,
    TimeField,
    Tolerant,
    embedded_json,
    filed,
    identified,
    seconds_ms,
)

RECORD_FAILURES = frozenset({"record_start_failed", "record_error"})
RECORD_EVENTS = ("record_start_succeeded", "record_start_failed", "record_paused", "record_resumed",
                 "record_error", "record_ended")
# record_detail codes (267/58590)
FILE_FORMATS = {1: "flv", 2: "hls", 3: "mp4", 4: "aac", 5: "mp3"}
# exception.type -> what it means (267/68622, CN 267/117052)
EXCEPTION_TYPES = {
    -8: "audio timestamp jump", -9: "video timestamp jump", -10: "audio and video timestamps out of sync",
    -11: "invalid video timestamp", -16: "pull failed", -17: "no audio in an audio recording",
    -18: "no video in a video recording", -22: "audio timestamp does not change",
    -23: "video timestamp does not change", -24: "invalid audio timestamp", -100: "push resolution changed",
    -104: "writing frames to the file failed", -120: "video codec changed: a new file was started",
    -130: "abnormal video frames dropped", -131: "abnormal audio frames dropped", -132: "abnormal GOP length",
    -200: "audio timestamps increase unevenly", -201: "video timestamps increase unevenly",
}


class RecordingFile(Callback):
    """100: a recording file. Real payloads have no ``event_time`` (its date comes from ``end_time``) and add
    ``video_id`` and ``record_temp_id``; ``callback_ext`` is JSON inside a string."""

    event_type: Literal[100]
    app: str | None = None
    appname: str | None = None
    channel_id: str | None = None
    file_id: str | None = None
    record_file_id: str | None = None
    file_format: str | None = None
    task_id: str | None = None
    start_time: int | None = TimeField(default=None)
    end_time: int | None = TimeField(default=None)
    start_time_usec: int | None = None
    end_time_usec: int | None = None
    duration: int | None = Field(default=None, description="seconds")
    file_size: int | None = Field(default=None, ge=0, description="bytes")
    stream_param: str | None = None
    video_url: str | None = None
    media_start_time: int | None = None
    record_bps: int | None = None
    callback_ext: Any = None


def plan_file(body: dict, ctx: HandlerContext) -> Plan:
    event = RecordingFile.model_validate(body)
    content_start = (event.end_time - event.duration if event.end_time is not None and event.duration is not None
                     else None)
    doc = identified(event, ctx, event.stream_id, app=event.app, appname=event.appname, channel_id=event.channel_id,
                     file_id=event.file_id, record_file_id=event.record_file_id, file_format=event.file_format,
                     task_id=event.task_id, start_time=event.start_time, end_time=event.end_time,
                     content_start_time=content_start, start_time_usec=event.start_time_usec,
                     end_time_usec=event.end_time_usec, duration=event.duration, file_size=event.file_size,
                     record_bps=event.record_bps, media_start_time=event.media_start_time,
                     stream_param=event.stream_param, video_url=event.video_url,  # kept as text: never fetched
                     callback_ext=embedded_json(event.callback_ext))
    ident = event.file_id or event.record_file_id or str(event.end_time or 0)
    name = f"file-{keys.segment(ident)}-{ctx.short_id}.json"
    plan = Plan(objects=[filed("recordings", event.stream_id, ctx, name, doc)])
    ext = doc["callback_ext"] if isinstance(doc["callback_ext"], dict) else {}
    plan.records.append(record(
        seconds_ms(ctx.seconds), extras=event.extras(),
        kind="recording_file", stream_id=event.stream_id, file_id=event.file_id,
        record_file_id=event.record_file_id, file_format=event.file_format, task_id=event.task_id,
        start_time=event.start_time, end_time=event.end_time, duration=event.duration, file_size=event.file_size,
        video_url=event.video_url, session_id=_text(ext.get("session_id")), video_codec=_text(ext.get("video_codec")),
        resolution=_text(ext.get("resolution")), app=event.app, appname=event.appname,
    ))
    return plan


class RecordingStatus(Callback):
    """332: a recording task's state changed. ``seq`` (not ``sequence``) and ``session_id`` (the recording task)."""

    event_type: Literal[332]
    appname: str | None = None
    domain: str | None = None
    event_time: int | None = TimeField(default=None)
    record_event: str | None = None
    record_detail: Any = None
    session_id: str | None = None
    seq: str | None = None
    task_id: str | None = None


def plan_status(body: dict, ctx: HandlerContext) -> Plan:
    event = RecordingStatus.model_validate(body)
    detail = embedded_json(event.record_detail)
    failed = event.record_event in RECORD_FAILURES
    doc = identified(event, ctx, event.stream_id, event_time=event.event_time, record_event=event.record_event,
                     failed=failed, record_detail=detail, session_id=event.session_id, seq=event.seq,
                     task_id=event.task_id, domain=event.domain, appname=event.appname)
    name = f"status-{event.event_time or 0}-{keys.segment(event.record_event)}-{ctx.short_id}.json"
    plan = Plan(objects=[filed("recordings", event.stream_id, ctx, name, doc)])
    if failed:
        plan.objects.append(filed("alerts/recording", event.stream_id, ctx, name, doc))
    detail_fields = detail if isinstance(detail, dict) else {}
    file_format = detail_fields.get("file_format")
    plan.records.append(record(
        seconds_ms(ctx.seconds), extras=event.extras(),
        kind="recording_status", alert="recording_error" if failed else None,
        stream_id=event.stream_id, record_event=event.record_event, session_id=event.session_id, seq=event.seq,
        task_id=event.task_id, domain=event.domain, appname=event.appname,
        file_format=FILE_FORMATS.get(file_format, _text(file_format)) if file_format is not None else None,
    ))
    return plan


class RecordingExceptionDetail(Tolerant):
    model_config = LOOSE

    type: int | None = None
    occurs: int | None = None
    desc: str | None = None


class RecordingException(Callback):
    """341: exceptions during a recording, merged over up to 2 minutes; none is sent when nothing is wrong."""

    event_type: Literal[341]
    session_id: str | None = None
    file_format: str | None = None
    timestamp: int | None = TimeField(default=None)
    exception_level: str | None = None
    exception: RecordingExceptionDetail = Field(default_factory=RecordingExceptionDetail)
    domain: str | None = None
    path: str | None = None

    @field_validator("exception", mode="before")
    @classmethod
    def _exception_as_text(cls, value: object) -> object:
        """Accept the object as JSON inside a string too, as 100/332/314 send theirs."""
        parsed = embedded_json(value)
        return parsed if isinstance(parsed, dict) else value


def plan_exception(body: dict, ctx: HandlerContext) -> Plan:
    event = RecordingException.model_validate(body)
    error = (event.exception_level or "").lower() == "error"
    meaning = EXCEPTION_TYPES.get(event.exception.type or 0, "unknown exception type")
    doc = identified(event, ctx, event.stream_id, timestamp=event.timestamp, session_id=event.session_id,
                     file_format=event.file_format, exception_level=event.exception_level,
                     exception=event.exception.model_dump(), exception_meaning=meaning, domain=event.domain,
                     path=event.path)
    name = f"exception-{event.timestamp or 0}-{keys.segment(event.exception.type)}-{ctx.short_id}.json"
    plan = Plan(objects=[filed("recordings", event.stream_id, ctx, name, doc)])
    if error:
        plan.objects.append(filed("alerts/recording", event.stream_id, ctx, name, doc))
    plan.records.append(record(
        seconds_ms(ctx.seconds), extras=event.extras(),
        kind="recording_exception", alert="recording_error" if error else None,
        stream_id=event.stream_id, session_id=event.session_id, file_format=event.file_format,
        exception_level=event.exception_level, exception_type=event.exception.type,
        exception_meaning=meaning, occurs=event.exception.occurs, desc=event.exception.desc,
        domain=event.domain, path=event.path,
    ))
    return plan


def _text(value: object) -> str | None:
    return None if value is None else str(value)
