"""Pull-and-push relay tasks (314): task start, exit, VOD source file start/finish, reset, alarms.

Doc page: https://www.tencentcloud.com/document/product/267/42525 (CN
https://cloud.tencent.com/document/product/267/56208). Configured per task
(``CreateLivePullStreamTask.CallbackUrl``/``CallbackEvents``), never signed: relay callbacks are
authenticated by the URL token alone (cssai/auth.py). ``msg`` and ``source_urls`` are JSON inside
strings; ``event_time`` is a string of seconds. ``TaskExit`` can fire before the task's end (source
or destination retries, a machine migration): it is not a final "task ended".

One object under ``relay/{task_id}/{date}/`` (``relay/unknown/`` without a task id) and one
``relay_event`` record.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field

from cssai import keys
from cssai.writes import Plan, json_object, record
from handlers.base import Envelope, HandlerContext, TimeField, embedded_json, identified, seconds_ms

CALLBACK_EVENTS = ("TaskStart", "TaskExit", "VodSourceFileStart", "VodSourceFileFinish", "ResetTaskConfig",
                   "TaskAlarm")
NO_TASK = "unknown"


class RelayEvent(Envelope):
    event_type: Literal[314]
    callback_event: str | None = None
    task_id: str | None = None
    stream_id: str | None = None
    to_url: str | None = None
    source_urls: Any = None
    msg: Any = None
    event_time: int | None = TimeField(default=None, description="seconds, sent as a string")
    interface: str | None = None
    product_name: str | None = None
    callback_url: str | None = Field(default=None, description="kept as text, never called")


def plan(body: dict, ctx: HandlerContext) -> Plan:
    event = RelayEvent.model_validate(body)
    msg = embedded_json(event.msg)
    sources = embedded_json(event.source_urls)
    doc = identified(event, ctx, event.stream_id, callback_event=event.callback_event, task_id=event.task_id,
                     to_url=event.to_url, source_urls=sources, msg=msg, event_time=event.event_time,
                     interface=event.interface, product_name=event.product_name, callback_url=event.callback_url)
    task = keys.segment(event.task_id) if event.task_id else NO_TASK
    name = f"{event.event_time or 0}-{keys.segment(event.callback_event)}-{ctx.short_id}.json"
    result = Plan(objects=[json_object(keys.join("relay", task, ctx.date, name), doc)])
    details = msg if isinstance(msg, dict) else {}
    result.records.append(record(
        seconds_ms(ctx.seconds), extras=event.extras(),
        kind="relay_event", stream_id=event.stream_id or "",
        task_id=event.task_id, callback_event=event.callback_event, to_url=event.to_url,
        source_urls=sources if isinstance(sources, list) and all(isinstance(s, str) for s in sources)
        else None if sources is None else str(sources),
        code=_scalar(details.get("code")), message=_scalar(details.get("message")),
        alarm_type=_scalar(details.get("type")), url=_scalar(details.get("url")),
        index=_scalar(details.get("index")), duration=_scalar(details.get("duration")),
        task_start_time=_scalar(details.get("task_start_time")), task_exit_time=_scalar(details.get("task_exit_time")),
    ))
    return result


def _scalar(value: object) -> str | None:
    """A msg field as text: scalars as they are, anything else as JSON (never Python's repr)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float)):
        return str(value)
    return json.dumps(value, ensure_ascii=False)
