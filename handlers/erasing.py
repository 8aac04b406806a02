"""Smart erasing (347): ASR subtitles and the keywords they hit -> transcript + records.

A 6 MB event holds ~16,000 segments: they are validated a chunk at a time (never all held as
models), once for the transcript and the WebVTT, and again while their records are uploaded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Literal

from pydantic import ConfigDict, Field, TypeAdapter, field_validator

from cssai import keys, text
from cssai.writes import LogRecord, Plan, PutObject, json_object, record
from handlers.base import Callback, HandlerContext, TimeField, Tolerant, members, validated_chunks, with_extras

_LOOSE = ConfigDict(extra="allow", allow_inf_nan=False)


class Keyword(Tolerant):
    model_config = _LOOSE

    word: str | None
    begin_time: int | None = TimeField(default=None, description="audio pts, ms")
    end_time: int | None = TimeField(default=None, description="audio pts, ms")


class Segment(Tolerant):
    model_config = _LOOSE

    src_txt: str = ""
    start_pts: int | None = TimeField(default=None)
    end_pts: int | None = TimeField(default=None)
    start_unix_time: int | None = TimeField(default=None)
    end_unix_time: int | None = TimeField(default=None)
    keywords_info: list[Keyword] = Field(default_factory=list)


class ErasingData(Tolerant):
    model_config = _LOOSE
    # subtitle_tmp_res: list[Segment], validated apart in chunks (segments()) to bound memory


class ErasingEvent(Callback):
    event_type: Literal[347]
    channel_id: str | None = None
    task_id: str | None = None
    data: ErasingData = Field(default_factory=ErasingData)

    @field_validator("task_id", mode="before")
    @classmethod
    def _task_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


_SEGMENTS = TypeAdapter(list[Segment])


SEGMENT_CHUNK = 2_000  # as 338's: smaller chunks keep a 6 MB body within memory on Python 3.10 (bench.memory)


def segments(raw: object) -> Iterator[list[Segment]]:
    return validated_chunks(_SEGMENTS, raw, ("data", "subtitle_tmp_res"), "ErasingEvent", chunk=SEGMENT_CHUNK)


def plan(body: dict, ctx: HandlerContext) -> Plan:
    data = body.get("data")
    raw = members(data, "subtitle_tmp_res") if isinstance(data, dict) else []
    event = ErasingEvent.model_validate({**body, "data": without_segments(data)} if "data" in body else body)
    first: Segment | None = None
    words: list[str] = []
    cues: list[str] = ["WEBVTT", ""]
    for chunk in segments(raw):  # one validating pass: nothing but what the objects need is kept
        first = first or (chunk[0] if chunk else None)
        words.extend(k.word for seg in chunk for k in seg.keywords_info)
        cues.extend(_cues(chunk))
    stream = keys.segment(event.stream_id)
    stem = f"{keys.segment(event.task_id)}-{first.start_pts if first else 0}-{ctx.short_id}"
    base = keys.join("transcripts", stream, ctx.date, stem)
    transcript = with_extras({
        "event_id": ctx.event_id,
        "event_type": event.event_type,
        "appid": event.appid,
        "stream_id": event.stream_id,
        "channel_id": event.channel_id,
        "task_id": event.task_id,
        "segments": raw,  # validated above; kept as sent, not copied
        "keyword_hits": words,
    }, event.extras())
    vtt = PutObject(key=f"{base}.vtt", body=text.utf8("\n".join(cues)), content_type="text/vtt; charset=utf-8")
    result = Plan(objects=[json_object(f"{base}.json", transcript), vtt])
    result.streams.append(SegmentRecords(raw, {"stream_id": event.stream_id, "task_id": event.task_id}))
    return result


def without_segments(data: object) -> object:
    """``data`` without its segment list (validated apart, in chunks)."""
    if isinstance(data, dict):
        return {k: v for k, v in data.items() if k != "subtitle_tmp_res"}
    return data


class SegmentRecords:
    """A ``subtitle`` record per segment and a ``keyword_hit`` per hit, made as they are uploaded."""

    def __init__(self, raw_segments: list, common: dict[str, str | None]) -> None:
        self.raw = raw_segments
        self.common = common

    def __len__(self) -> int:
        return sum(1 + len(seg.get("keywords_info") or []) for seg in self.raw)

    def __iter__(self) -> Iterator[LogRecord]:
        common = self.common
        for seg in (seg for chunk in segments(self.raw) for seg in chunk):
            seg_ms = (seg.start_unix_time or 0) * 1000
            yield record(
                seg_ms,
                kind="subtitle",
                text=seg.src_txt,
                start_pts=seg.start_pts,
                end_pts=seg.end_pts,
                start_unix_time=seg.start_unix_time,
                end_unix_time=seg.end_unix_time,
                keyword_count=len(seg.keywords_info),
                **common,
            )
            for hit in seg.keywords_info:
                offset = max(0, (hit.begin_time or 0) - (seg.start_pts or 0)) if hit.begin_time is not None else 0
                yield record(
                    seg_ms + offset,
                    kind="keyword_hit",
                    word=hit.word,
                    begin_time=hit.begin_time,
                    end_time=hit.end_time,
                    text=seg.src_txt,
                    **common,
                )


def webvtt(segs: list[Segment]) -> str:
    """A WebVTT rendering on the audio timeline (pts), for players and reviewers."""
    return "\n".join(["WEBVTT", "", *_cues(segs)])


def _cues(segs: list[Segment]) -> Iterator[str]:
    for seg in segs:
        if seg.start_pts is None or seg.end_pts is None:
            continue
        line = cue_text(seg.src_txt)
        yield from (f"{clock(seg.start_pts)} --> {clock(max(seg.end_pts, seg.start_pts))}", line or "-", "")


_ARROW = re.compile(r"-+>")


def cue_text(value: str) -> str:
    """One line of cue text that a player cannot read as a timing line: never ``-->`` (WebVTT §4.1).

    Every run of dashes before ``>`` becomes ``->`` in one pass, so no ``-->`` can be left behind
    (a plain replace turns ``--->`` into ``-->``).
    """
    return _ARROW.sub("->", " ".join(value.split()))


def clock(ms: int) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"
