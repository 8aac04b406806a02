"""Stream state: push (1), interruption (0), and push errors (321).

Doc pages: push and interruption https://www.tencentcloud.com/document/product/267/38081 (CN
https://cloud.tencent.com/document/product/267/47025); the stop reasons, ``errcode``/``sub_errcode``,
https://www.tencentcloud.com/zh/document/product/267/31083; push errors
https://www.tencentcloud.com/document/product/267/53310 (CN https://cloud.tencent.com/document/product/267/84046).

A push session is a ``(stream, sequence)`` pair: its push (1) and its stop (0) carry the same
``sequence``. They arrive out of order (a quick reconnect can deliver session 2's push before session
1's stop; https://cloud.tencent.com/document/product/267/90746), so each event is one object under
``streams/{stream}/{date}/`` and the state is computed from all of them (``python index.py streams``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from pydantic import Field, TypeAdapter

from cssai import keys
from cssai.writes import LogRecord, Plan, record
from handlers.base import (
    LOOSE,
    Callback,
    HandlerContext,
    TimeField,
    Tolerant,
    filed,
    identified,
    members,
    seconds_ms,
    validated_chunks,
)

# errcode -> (reason, what it means), from the stop-reason table (267/31083); 18 and 21 need sub_errcode.
STOP_REASONS: dict[int, tuple[str, str]] = {
    **dict.fromkeys((1, 2, 3, 4, 35), ("client_stopped", "the push client stopped the push")),
    **dict.fromkeys((5, 9, 11, 24), ("internal_error", "CSS internal error")),
    **dict.fromkeys((6, 23), ("bad_rtmp", "abnormal RTMP content")),
    7: ("frame_too_large", "an RTMP frame over the configured maximum size"),
    **dict.fromkeys((8, 20), ("no_data", "CSS stopped a push that sent no data for a long time")),
    10: ("proxy_stop", "the proxy layer received a stop command"),
    **dict.fromkeys(range(12, 18), ("network", "the push network link failed")),
    18: ("refused", "CSS refused the push (sub_errcode says why: domain, auth, limits, account)"),
    19: ("third_party_auth", "third-party authentication failed"),
    21: ("stopped", "stopped by a request (sub_errcode 100: drop API, 101: ban, 102/103: replaced by a new push)"),
    33: ("bad_amf", "abnormal AMF content"),
}
UNKNOWN_REASON = ("unknown", "unknown reason")
SUB_REASONS = {(21, 100): ("dropped_by_api", "the stream was dropped by an API call"),
               (21, 101): ("banned", "the stream was banned"),
               (21, 102): ("replaced", "a new push replaced this one"),
               (21, 103): ("replaced", "a new push replaced this push, which sent no data")}

# abnormal_event.type -> what it means (267/53310).
PUSH_ERROR_TYPES = {
    1: "video timestamp went backwards", 2: "audio timestamp went backwards",
    3: "video timestamp jumped forward by more than 1 s", 4: "audio timestamp jumped forward by more than 1 s",
    5: "chunk size over 8192", 6: "gap between video frames over 3 s", 7: "gap between audio frames too long",
    8: "video codec changed", 9: "audio codec changed", 10: "video frame before any codec header",
    11: "audio frame before any codec header", 12: "audio timestamp interval too long", 13: "uncommon codec",
    14: "video header cannot be parsed", 15: "low frame rate", 16: "GOP over 10 s",
}


def stop_reason(errcode: int | None, sub_errcode: int | None = None) -> tuple[str, str]:
    """(reason, meaning) of a stop's ``errcode``: client_stopped, network, no_data, refused..."""
    if errcode is None:
        return UNKNOWN_REASON
    return SUB_REASONS.get((errcode, sub_errcode or 0)) or STOP_REASONS.get(errcode, UNKNOWN_REASON)


class StreamEvent(Callback):
    """1 (push) and 0 (interruption). Real payloads add ``idc_id``; kept with the other extras."""

    event_type: Literal[0, 1]
    app: str | None = None
    appname: str | None = None
    channel_id: str | None = None
    sequence: str | None = None
    event_time: int | None = TimeField(default=None)
    node: str | None = None
    user_ip: str | None = None
    stream_param: str | None = None
    push_duration: int | None = Field(default=None, ge=0, description="ms; sent as a string")
    errcode: int | None = None
    sub_errcode: int | None = None
    errmsg: str | None = None
    set_id: int | None = None
    width: int | None = None
    height: int | None = None


def plan_session(body: dict, ctx: HandlerContext) -> Plan:
    """A push (1) or a stop (0): one object and one ``stream_start``/``stream_end`` record."""
    event = StreamEvent.model_validate(body)
    start = event.event_type == 1
    doc = identified(event, ctx, event.stream_id, event="start" if start else "stop", sequence=event.sequence,
                     event_time=event.event_time, app=event.app, appname=event.appname, channel_id=event.channel_id,
                     node=event.node, user_ip=event.user_ip, stream_param=event.stream_param, set_id=event.set_id,
                     width=event.width, height=event.height, errcode=event.errcode, errmsg=event.errmsg)
    if not start:
        reason, meaning = stop_reason(event.errcode, event.sub_errcode)
        doc.update(sub_errcode=event.sub_errcode, push_duration_ms=event.push_duration, stop_reason=reason,
                   stop_reason_text=meaning)
    name = f"{event.event_time or 0}-{keys.segment(event.sequence)}-{doc['event']}-{ctx.short_id}.json"
    plan = Plan(objects=[filed("streams", event.stream_id, ctx, name, doc)])
    flat = {k: v for k, v in doc.items() if k not in ("event_id", "event_type", "event") and _flat(v)}
    plan.records.append(record(seconds_ms(ctx.seconds), extras=event.extras(),
                               kind="stream_start" if start else "stream_end", **flat))
    return plan


def _flat(value: object) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


class AbnormalEvent(Tolerant):
    """One kind of push error in a report interval; ``detail`` lists each occurrence (``occur_time`` in ms)."""

    model_config = LOOSE

    type: int | None = None
    count: int | None = None
    detail: list[dict[str, Any]] | None = None
    event_key: str | None = None
    type_desc_cn: str | None = None
    type_desc_en: str | None = None


class PushErrorEvent(Callback):
    """321: push errors aggregated per report interval; nothing is sent when there are none."""

    event_type: Literal[321]
    data_time: int | None = TimeField(default=None, description="ms")
    domain: str | None = None
    path: str | None = None
    user_ip: str | None = None
    sequence: str | None = None
    stream_param: str | None = None
    report_interval: int | None = None
    timeout: int | None = None
    # abnormal_event: list[AbnormalEvent], validated apart in chunks (entries()) to bound memory


_ENTRIES = TypeAdapter(list[AbnormalEvent])
ENTRY_CHUNK = 1_000  # an entry holds its occurrences: smaller chunks keep a 6 MB body within memory (bench.memory)


def entries(raw: object) -> Iterator[list[AbnormalEvent]]:
    return validated_chunks(_ENTRIES, raw, ("abnormal_event",), "PushErrorEvent", chunk=ENTRY_CHUNK)


def plan_push_error(body: dict, ctx: HandlerContext) -> Plan:
    raw = members(body, "abnormal_event")
    event = PushErrorEvent.model_validate({k: v for k, v in body.items() if k != "abnormal_event"})
    counts: dict[str, int] = {}
    for chunk in entries(raw):  # validates every entry once; keeps only the count per type
        for entry in chunk:
            counts[str(entry.type)] = counts.get(str(entry.type), 0) + (entry.count or 0)
    doc = identified(event, ctx, event.stream_id, data_time=event.data_time, domain=event.domain, path=event.path,
                     user_ip=event.user_ip, sequence=event.sequence, stream_param=event.stream_param,
                     report_interval=event.report_interval, counts_by_type=counts,
                     abnormal_event=raw)  # validated above; kept as sent, not copied
    name = f"{event.data_time or 0}-{ctx.short_id}.json"
    plan = Plan(objects=[filed("alerts/push", event.stream_id, ctx, name, doc)])
    plan.streams.append(PushErrorRecords(raw, event))
    return plan


class PushErrorRecords:
    """One ``push_error`` record per ``abnormal_event`` entry, made a validated chunk at a time."""

    def __init__(self, raw_entries: list, event: PushErrorEvent) -> None:
        self.raw = raw_entries if isinstance(raw_entries, list) else []
        self.event = event

    def __len__(self) -> int:
        return len(self.raw)

    def __iter__(self) -> Iterator[LogRecord]:
        event = self.event
        for entry in (e for chunk in entries(self.raw) for e in chunk):
            occurrences = [d.get("occur_time") for d in entry.detail or [] if isinstance(d, dict)]
            times = [t for t in occurrences if isinstance(t, int) and not isinstance(t, bool)]
            yield record(
                event.data_time or 0, kind="push_error", alert="push_error", stream_id=event.stream_id,
                sequence=event.sequence, domain=event.domain, path=event.path, user_ip=event.user_ip,
                type=entry.type, type_meaning=PUSH_ERROR_TYPES.get(entry.type or 0, "unknown type"),
                type_desc_en=entry.type_desc_en, count=entry.count, first_occur_ms=min(times) if times else None,
                last_occur_ms=max(times) if times else None, data_time=event.data_time,
            )
