"""Live streaming summary (348): a title, a summary, key words and key points for a span of the stream.

Doc page: https://www.tencentcloud.com/document/product/267/74671. One object under
``summaries/{stream}/{date}/{begin}-{end}-{id16}.json`` and a ``live_summary`` record.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field, field_validator

from cssai.writes import Plan, record
from handlers.base import Callback, HandlerContext, TimeField, as_list, filed, identified, seconds_ms


class SummaryEvent(Callback):
    event_type: Literal[348]
    domain: str | None = None
    path: str | None = None
    begin_time: int | None = TimeField(default=None)
    end_time: int | None = TimeField(default=None)
    title: str = ""
    summary: str = ""
    key_words: list[str] = Field(default_factory=list)
    key_points: list[Any] = Field(default_factory=list)

    @field_validator("key_words", "key_points", mode="before")
    @classmethod
    def _one_string_is_a_list(cls, value: object) -> object:
        return as_list(value)


def plan(body: dict, ctx: HandlerContext) -> Plan:
    event = SummaryEvent.model_validate(body)
    doc = identified(event, ctx, event.stream_id, domain=event.domain, path=event.path, begin_time=event.begin_time,
                     end_time=event.end_time, title=event.title, summary=event.summary, key_words=event.key_words,
                     key_points=event.key_points)
    name = f"{event.begin_time or 0}-{event.end_time or 0}-{ctx.short_id}.json"
    result = Plan(objects=[filed("summaries", event.stream_id, ctx, name, doc)])
    result.records.append(record(
        seconds_ms(ctx.seconds), extras=event.extras(),
        kind="live_summary", stream_id=event.stream_id, domain=event.domain,
        path=event.path, begin_time=event.begin_time, end_time=event.end_time, title=event.title,
        summary=event.summary, key_words=event.key_words,
        key_points=" | ".join(p if isinstance(p, str) else json.dumps(p, ensure_ascii=False) for p in event.key_points),
    ))
    return result
