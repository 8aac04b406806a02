"""Moderation: image moderation ("porn detection", 317) and audio moderation (315).

Doc pages: image https://www.tencentcloud.com/document/product/267/38084; audio
https://www.tencentcloud.com/document/product/267/58643. Only suspicious results are sent by default.

317 names its stream ``streamId``/``channelId`` (camelCase), sends ``score`` as an array (once a scalar,
and misspelled ``socre`` in the docs' own samples), and still carries legacy scores (``pornScore``...)
for compatibility; its result lists (``labelResults``, ``objectResults``, ``ocrResults``, ``libResults``)
can be long, so they are validated a chunk at a time and kept as sent. 315's ``seq`` is a number.

One object per event under ``moderation/{stream}/{date}/`` and one ``moderation`` record (``media``,
``suggestion``, ``label``, ``score``); ``suggestion`` Block or Review adds ``alert=moderation``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from pydantic import AliasChoices, Field, TypeAdapter, model_validator

from cssai import keys
from cssai.writes import Plan, record
from handlers.base import (
    LOOSE,
    Callback,
    Envelope,
    HandlerContext,
    TimeField,
    Tolerant,
    filed,
    seconds_ms,
    validated_chunks,
    with_extras,
)

ALERTING = frozenset({"block", "review"})
IMAGE_LISTS = ("labelResults", "objectResults", "ocrResults", "libResults")
AUDIO_LISTS = ("text_results", "moan_results")  # documented as lists of results; the other lists are kept as sent
UNDOCUMENTED_LISTS = ("language_results", "recognition_results", "speaker_results")


class Result(Tolerant):
    """One entry of a result list. The docs' tables say ``label``; the samples say ``Label``: both kept."""

    model_config = LOOSE

    HitFlag: int | None = None
    Scene: str | None = None
    Suggestion: str | None = None
    Label: str | None = None
    SubLabel: str | None = None
    Score: float | None = None


_RESULTS = TypeAdapter(list[Result])


def results(raw: object, where: str, title: str) -> Iterator[list[Result]]:
    return validated_chunks(_RESULTS, raw, (where,), title)


class ImageModeration(Envelope):
    event_type: Literal[317]
    stream_id: str | None = Field(default=None, validation_alias=AliasChoices("streamId", "stream_id"))
    channel_id: str | None = Field(default=None, validation_alias=AliasChoices("channelId", "channel_id"))
    img: str | None = None
    type: list[int] | int | None = None
    score: list[float] | float | None = None
    socre: list[float] | float | None = None  # the docs' samples misspell it
    suggestion: str | None = None
    label: str | None = None
    sub_label: str | None = Field(default=None, validation_alias=AliasChoices("subLabel", "sub_label"))
    ocr_msg: str | None = Field(default=None, validation_alias="ocrMsg")
    screenshot_time: int | None = TimeField(default=None, validation_alias="screenshotTime")
    send_time: int | None = TimeField(default=None, validation_alias="sendTime")
    app: str | None = None
    appname: str | None = None
    stream_param: str | None = None

    @model_validator(mode="after")
    def _has_a_stream(self) -> ImageModeration:
        if not self.stream_id and not self.channel_id:
            raise ValueError("streamId (or channelId) is required")
        return self

    @property
    def stream(self) -> str:
        return self.stream_id or self.channel_id or ""


class AudioModeration(Callback):
    event_type: Literal[315]
    channel_id: str | None = None
    domain: str | None = None
    path: str | None = None
    HitFlag: int | None = None
    Score: float | None = None
    SubTag: str | None = None
    task_id: str | None = None
    status: int | None = None
    asr_text: str | None = None
    cdn_url: str | None = None
    duration: float | None = None
    label: str | None = None
    sub_label: str | None = None
    suggestion: str | None = None
    seq: str | None = None
    create_time: int | None = TimeField(default=None)
    request_id: str | None = None


def _without(body: dict, names: tuple[str, ...]) -> dict:
    return {k: v for k, v in body.items() if k not in names}


def _documented(body: dict, event: Envelope) -> dict:
    """The body's documented members as sent (the undocumented go under ``extras``; t/sign left out)."""
    undocumented = event.model_extra or {}
    return {k: v for k, v in body.items() if k not in undocumented and k not in ("t", "sign")}


def _hits(body: dict, names: tuple[str, ...], title: str) -> tuple[int, float | None]:
    """Validate each result list a chunk at a time: (entries that hit, the highest score among them)."""
    hits, best = 0, None
    for name in names:
        if name not in body:
            continue
        for chunk in results(body[name], name, title):
            for entry in chunk:
                if entry.HitFlag == 1:
                    hits += 1
                    if entry.Score is not None:
                        best = entry.Score if best is None else max(best, entry.Score)
    return hits, best


def _top(score: object) -> float | None:
    values = score if isinstance(score, list) else [score]
    numbers = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return max(numbers) if numbers else None


def plan_image(body: dict, ctx: HandlerContext) -> Plan:
    event = ImageModeration.model_validate(_without(body, IMAGE_LISTS))
    hits, best = _hits(body, IMAGE_LISTS, "ImageModeration")
    score = _top(event.score if event.score is not None else event.socre)
    score = score if score is not None else best
    doc: dict[str, Any] = with_extras({
        **_documented(body, event),  # as sent, result lists included (validated above, not copied)
        "event_id": ctx.event_id, "stream_id": event.stream, "media": "image", "top_score": score,
        "hits": hits,
    }, event.extras())
    name = f"image-{ctx.seconds or 0}-{ctx.short_id}.json"
    return _planned(doc, name, ctx, event.stream, record(
        seconds_ms(ctx.seconds), extras=event.extras(),
        kind="moderation", media="image", alert=_alert(event.suggestion), stream_id=event.stream,
        suggestion=event.suggestion, label=event.label, sub_label=event.sub_label, score=score, hits=hits,
        img=event.img, app=event.app, appname=event.appname,
        type=event.type if isinstance(event.type, list) else None if event.type is None else [event.type],
    ))


def plan_audio(body: dict, ctx: HandlerContext) -> Plan:
    data = body.get("data")
    event = AudioModeration.model_validate(_without(body, (*AUDIO_LISTS, *UNDOCUMENTED_LISTS, "data")))
    hits, best = _hits(body, AUDIO_LISTS, "AudioModeration")
    if isinstance(data, dict) and "asr_tmp_full_results" in data:
        for _chunk in validated_chunks(_FRAGMENTS, data["asr_tmp_full_results"], ("data", "asr_tmp_full_results"),
                                       "AudioModeration"):
            pass  # validated a chunk at a time; kept as sent
    score = event.Score if event.Score is not None else best
    doc: dict[str, Any] = with_extras({
        **_documented(body, event),
        "event_id": ctx.event_id, "stream_id": event.stream_id, "media": "audio", "top_score": score, "hits": hits,
    }, event.extras())
    name = f"audio-{ctx.seconds or 0}-{keys.segment(event.seq)}-{ctx.short_id}.json"
    return _planned(doc, name, ctx, event.stream_id, record(
        seconds_ms(ctx.seconds), extras=event.extras(), kind="moderation", media="audio",
        alert=_alert(event.suggestion),
        stream_id=event.stream_id, suggestion=event.suggestion, label=event.label, sub_label=event.sub_label,
        score=score, hits=hits, hit_flag=event.HitFlag, asr_text=event.asr_text, task_id=event.task_id,
        seq=event.seq, domain=event.domain, path=event.path,
    ))


class Fragment(Tolerant):
    """An entry of 315's ``data.asr_tmp_full_results``: an audio fragment and its text."""

    model_config = LOOSE

    appearing_point: list[float] | None = None
    confidence: float | None = None
    create_time: int | None = None
    id: str | None = None
    periods: str | None = None
    url: str | None = None


_FRAGMENTS = TypeAdapter(list[Fragment])


def _alert(suggestion: str | None) -> str | None:
    return "moderation" if (suggestion or "").lower() in ALERTING else None


def _planned(doc: dict[str, Any], name: str, ctx: HandlerContext, stream: str, rec: Any) -> Plan:
    result = Plan(objects=[filed("moderation", stream, ctx, name, doc)])
    result.records.append(rec)
    return result
