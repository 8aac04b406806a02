"""Screenshots (200): one object per screenshot under ``snapshots/{stream}/{date}/`` and a ``snapshot`` record.

Doc page: https://www.tencentcloud.com/document/product/267/38083 (``task_id`` added in 2025; retried every
2 minutes up to 5 times). The picture's URLs are kept as text, never fetched.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cssai.writes import Plan, record
from handlers.base import Callback, HandlerContext, TimeField, filed, identified, seconds_ms


class Screenshot(Callback):
    event_type: Literal[200]
    app: str | None = None
    appname: str | None = None
    channel_id: str | None = None
    stream_param: str | None = None
    create_time: int | None = TimeField(default=None)
    file_size: int | None = Field(default=None, ge=0)
    width: int | None = None
    height: int | None = None
    pic_url: str | None = None
    pic_full_url: str | None = None
    task_id: str | None = None


def plan(body: dict, ctx: HandlerContext) -> Plan:
    event = Screenshot.model_validate(body)
    doc = identified(event, ctx, event.stream_id, create_time=event.create_time, pic_url=event.pic_url,
                     pic_full_url=event.pic_full_url, file_size=event.file_size, width=event.width,
                     height=event.height, task_id=event.task_id, app=event.app, appname=event.appname,
                     channel_id=event.channel_id, stream_param=event.stream_param)
    name = f"{event.create_time or 0}-{ctx.short_id}.json"
    result = Plan(objects=[filed("snapshots", event.stream_id, ctx, name, doc)])
    result.records.append(record(
        seconds_ms(ctx.seconds), extras=event.extras(),
        kind="snapshot", stream_id=event.stream_id, pic_url=event.pic_url,
        pic_full_url=event.pic_full_url, file_size=event.file_size, width=event.width, height=event.height,
        task_id=event.task_id, app=event.app, appname=event.appname,
    ))
    return result
