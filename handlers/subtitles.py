"""Live subtitles (338): recognised (and translated) sentences of a stream, beside smart erasing (347).

Doc page: https://www.tencentcloud.com/document/product/267/73170 (sent only while a subtitle stream is
pulled; 3 attempts in all). A sentence may arrive several times as it is revised: ``steady_state``
true means it will not change again (the docs' sample misspells it ``stead_state``; both are read).

Like 347: a transcript (JSON, every segment as sent) and a WebVTT of the sentences that are not marked
unsteady, under ``transcripts/{stream}/{date}/live-…``, and one ``live_subtitle`` record per segment,
made a validated chunk at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from pydantic import AliasChoices, Field, TypeAdapter

from cssai import keys, text
from cssai.writes import LogRecord, Plan, PutObject, json_object, record
from handlers.base import LOOSE, Callback, HandlerContext, TimeField, Tolerant, members, validated_chunks, with_extras
from handlers.erasing import clock, cue_text, without_segments


class LiveSegment(Tolerant):
    model_config = LOOSE

    src_txt: str = ""
    dst_txt: str | None = None
    start_pts: int | None = TimeField(default=None)
    end_pts: int | None = TimeField(default=None)
    start_unix_time: int | None = TimeField(default=None)
    end_unix_time: int | None = TimeField(default=None)
    steady_state: bool | None = Field(default=None, validation_alias=AliasChoices("steady_state", "stead_state"))


class SubtitleData(Tolerant):
    model_config = LOOSE
    # subtitle_tmp_res: list[LiveSegment], validated apart in chunks (segments()) to bound memory


class SubtitleEvent(Callback):
    event_type: Literal[338]
    channel_id: str | None = None
    task_id: str | None = None
    data: SubtitleData = Field(default_factory=SubtitleData)


_SEGMENTS = TypeAdapter(list[LiveSegment])
SEGMENT_CHUNK = 2_000  # smaller chunks keep a 6 MB body within memory (bench.memory)


def segments(raw: object) -> Iterator[list[LiveSegment]]:
    return validated_chunks(_SEGMENTS, raw, ("data", "subtitle_tmp_res"), "SubtitleEvent", chunk=SEGMENT_CHUNK)


def plan(body: dict, ctx: HandlerContext) -> Plan:
    data = body.get("data")
    raw = members(data, "subtitle_tmp_res") if isinstance(data, dict) else []
    event = SubtitleEvent.model_validate({**body, "data": without_segments(data)} if "data" in body else body)
    first: LiveSegment | None = None
    cues: list[str] = ["WEBVTT", ""]
    for chunk in segments(raw):
        first = first or (chunk[0] if chunk else None)
        cues.extend(_cues(chunk))
    stem = f"live-{keys.segment(event.task_id)}-{first.start_pts if first and first.start_pts else 0}-{ctx.short_id}"
    base = keys.join("transcripts", keys.segment(event.stream_id), ctx.date, stem)
    transcript = with_extras({
        "event_id": ctx.event_id, "event_type": event.event_type, "appid": event.appid,
        "stream_id": event.stream_id, "channel_id": event.channel_id, "task_id": event.task_id,
        "segments": raw,  # validated above; kept as sent, not copied
    }, event.extras())
    vtt = PutObject(key=f"{base}.vtt", body=text.utf8("\n".join(cues)), content_type="text/vtt; charset=utf-8")
    result = Plan(objects=[json_object(f"{base}.json", transcript), vtt])
    result.streams.append(LiveSubtitleRecords(raw if isinstance(raw, list) else [], event))
    return result


def _cues(segs: list[LiveSegment]) -> Iterator[str]:
    for seg in segs:
        if seg.start_pts is None or seg.end_pts is None or seg.steady_state is False:
            continue
        lines = [cue_text(seg.src_txt) or "-"]
        if seg.dst_txt:
            lines.append(cue_text(seg.dst_txt) or "-")
        yield from (f"{clock(seg.start_pts)} --> {clock(max(seg.end_pts, seg.start_pts))}", *lines, "")


class LiveSubtitleRecords:
    """One ``live_subtitle`` record per segment, made a validated chunk at a time as they are uploaded."""

    def __init__(self, raw_segments: list, event: SubtitleEvent) -> None:
        self.raw = raw_segments
        self.event = event

    def __len__(self) -> int:
        return len(self.raw)

    def __iter__(self) -> Iterator[LogRecord]:
        event = self.event
        for seg in (seg for chunk in segments(self.raw) for seg in chunk):
            yield record(
                (seg.start_unix_time or 0) * 1000, kind="live_subtitle", stream_id=event.stream_id,
                task_id=event.task_id, text=seg.src_txt, translation=seg.dst_txt, steady_state=seg.steady_state,
                start_pts=seg.start_pts, end_pts=seg.end_pts, start_unix_time=seg.start_unix_time,
                end_unix_time=seg.end_unix_time,
            )
