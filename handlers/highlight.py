"""Smart highlight (349): one clip record per item, and optionally a copy of its media.

Keys carry the event's identity, ``highlights/{stream}/{date}/{begin}-{end}-{id16}.json``: two
different events with the same times never collide, a redelivery rewrites the same keys. Two items of
one event with the same times get ``…-{id16}-2.json``, ``-3``… in the order sent, so every item has its
own object. ``{date}`` is the event's date (its first item's), the same for all its clips and its archive. Object
writes are bounded whatever the body holds: beyond ``MAX_CLIP_OBJECTS`` items the event's clips go
into one object (``…/clips-{id16}.json``) and media is not copied; every item is still a CLS record.
"""

from __future__ import annotations

import posixpath
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Literal

from pydantic import Field, TypeAdapter

from cssai import keys
from cssai.media import cos_source
from cssai.writes import CopyObject, LogRecord, Plan, json_object, record
from handlers.base import (
    Callback,
    HandlerContext,
    TimeField,
    Tolerant,
    members,
    seconds_ms,
    validated_chunks,
    with_extras,
)

MAX_CLIP_OBJECTS = 50  # with media copy: at most 50 clips + 100 copies + the archive, per event


class Item(Tolerant):
    begin_time: int | None = TimeField(description="unix seconds")
    end_time: int | None = TimeField(description="unix seconds")
    title: str = ""
    summary: str = ""
    video_store_url: str = ""
    cov_img_store_url: str = ""
    key_words: list[str] = Field(default_factory=list)


class HighlightEvent(Callback):
    event_type: Literal[349]
    domain: str | None = None
    path: str | None = None
    # items: list[Item], validated apart in chunks (items()) to bound memory


_ITEMS = TypeAdapter(list[Item])


def items(raw: object) -> Iterator[list[Item]]:
    return validated_chunks(_ITEMS, raw, ("items",), "HighlightEvent")


def clip_stems(stream_id: str | None, date: str, spans: Iterable[tuple[int | None, int | None]],
               short_id: str) -> list[str]:
    """``highlights/{stream}/{date}/{begin}-{end}-{id16}[-n]`` for each item, in order: where its clip lands.

    A span seen before in the same event gets ``-2``, ``-3``…: distinct items never share a key, and the
    suffix (a fourth dash-separated part) can never equal another item's plain name.
    """
    seen: Counter[tuple[int, int]] = Counter()
    stems = []
    for begin, end in spans:
        seen[begin, end] += 1
        repeat = seen[begin, end]
        name = f"{_time(begin)}-{_time(end)}-{short_id}" + (f"-{repeat}" if repeat > 1 else "")
        stems.append(keys.join("highlights", keys.segment(stream_id), date, name))
    return stems


def _time(value: int | None) -> str:
    """A time in a key; ``%`` (as ``keys.segment`` writes an empty value) when it was sent as null."""
    return keys.EMPTY if value is None else str(value)


def plan(body: dict, ctx: HandlerContext) -> Plan:
    raw = members(body, "items")
    event = HighlightEvent.model_validate({k: v for k, v in body.items() if k != "items"})
    stream = keys.segment(event.stream_id)
    envelope = with_extras({"event_id": ctx.event_id, "event_type": event.event_type, "appid": event.appid,
                            "domain": event.domain, "path": event.path, "stream_id": event.stream_id}, event.extras())
    one_each = isinstance(raw, list) and len(raw) <= MAX_CLIP_OBJECTS
    result = Plan()
    if one_each:
        validated = [item for chunk in items(raw) for item in chunk]  # at most MAX_CLIP_OBJECTS
        spans = [(item.begin_time, item.end_time) for item in validated]
        for item, stem in zip(validated, clip_stems(event.stream_id, ctx.date, spans, ctx.short_id), strict=True):
            result.objects.append(json_object(f"{stem}.json", clip(envelope, item)))
            if ctx.media_hosts:
                result.copies.extend(_media_copies(item, stem, ctx.media_hosts))
    else:  # many clips: one object holds them all, as sent
        for _chunk in items(raw):  # validates every item, a chunk at a time, keeping none
            pass
        key = keys.join("highlights", stream, ctx.date, f"clips-{ctx.short_id}.json")
        result.objects.append(json_object(key, {**envelope, "count": len(raw), "items": raw}))
    result.streams.append(HighlightRecords(raw, event))
    return result


def clip(envelope: dict, item: Item) -> dict:
    """A clip object: the event's identity and the item's fields; the item's undocumented members under
    ``item_extras``, so that an item carrying its own ``event_id`` or ``stream_id`` cannot replace the event's."""
    doc = {**envelope, **{name: getattr(item, name) for name in Item.model_fields}}
    if item.model_extra:
        doc["item_extras"] = item.model_extra
    return doc


class HighlightRecords:
    """One ``highlight`` record per item, made a validated chunk at a time as they are uploaded."""

    def __init__(self, raw_items: list, event: HighlightEvent) -> None:
        self.raw = raw_items
        self.event = event

    def __len__(self) -> int:
        return len(self.raw)

    def __iter__(self) -> Iterator[LogRecord]:
        event = self.event
        for item in (item for chunk in items(self.raw) for item in chunk):
            yield record(
                seconds_ms(item.begin_time),
                kind="highlight",
                stream_id=event.stream_id,
                domain=event.domain,
                path=event.path,
                begin_time=item.begin_time,
                end_time=item.end_time,
                title=item.title,
                summary=item.summary,
                video_store_url=item.video_store_url,
                cov_img_store_url=item.cov_img_store_url,
                key_words=item.key_words,
            )


def _media_copies(item: Item, stem: str, hosts: frozenset[str]) -> list[CopyObject]:
    """The clip's video at ``{stem}{ext}`` and its cover at ``{stem}{ext}`` too, or ``{stem}.cover{ext}``
    when both have the same extension; never ``.json`` (the clip record's own key)."""
    copies: list[CopyObject] = []
    for url, fallback, alternative in ((item.video_store_url, ".mp4", ".video"), (item.cov_img_store_url, ".jpg",
                                                                                   ".cover")):
        source = cos_source(url, hosts)
        if source is None:
            continue
        ext = posixpath.splitext(source.key)[1].lower()
        ext = ext if ext[1:].isalnum() and len(ext) <= 6 and ext != ".json" else fallback
        key = f"{stem}{ext}"
        if any(c.key == key for c in copies):
            key = f"{stem}{alternative}{ext}"
        copies.append(CopyObject(source.bucket, source.region, source.key, key))
    return copies
