"""What CSS itself kept, read in the shapes the reconcile job compares: sessions, callback attempts, online streams.

Every read goes through ``LiveApi`` (paced, backed off, counted, bounded per run). Each function takes the whole
window and splits it as its API needs (``live_api.spans``); the event list, which answers at most 10,000
entries per query, halves a span that holds more.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cssai.jobs.live_api import (
    CALLBACK_RECORDS,
    EVENT_LIST,
    EVENT_LIST_MAX_ENTRIES,
    ONLINE_LIST,
    PAGE_SIZE,
    LiveApi,
    listed,
    parse_time,
    spans,
    utc,
)


@dataclass(frozen=True)
class CssSession:
    """One push session as DescribeLiveStreamEventList reports it (no ``sequence``: matched by time)."""

    stream: str
    start: int
    end: int | None  # None while CSS reports no end
    domain: str = ""
    app: str = ""
    stop_reason: str = ""
    client_ip: str = ""


@dataclass(frozen=True)
class Attempt:
    """One callback CSS tried to send (DescribeCallbackRecordsList): the body as sent, and how it went."""

    stream: str
    event_type: int | None
    event_time: int | None
    request: str
    response: str
    result_code: int | None

    @property
    def delivered(self) -> bool:
        return self.result_code == 0


def sessions(api: LiveApi, start: int, end: int, now: float, stream: str | None = None) -> tuple[list[CssSession],
                                                                                                 int | None]:
    """Push sessions started in ``[start, end)`` (one stream, exactly, with ``stream``); and the retention clip."""
    windows, clipped = spans(EVENT_LIST, start, end, now)
    found: list[CssSession] = []
    for window in windows:
        found.extend(_sessions(api, *window, stream))
    return sorted(set(found), key=lambda s: (s.stream, s.start)), clipped


def _sessions(api: LiveApi, start: int, end: int, stream: str | None) -> list[CssSession]:
    params: dict[str, Any] = {"StartTime": utc(start), "EndTime": utc(end), "IsFilter": 1, "IsAsc": 1}
    if stream is not None:
        params.update(StreamName=stream, IsStrict=1)
    first = api.call(EVENT_LIST, {**params, "PageNum": 1, "PageSize": PAGE_SIZE[EVENT_LIST]})
    total = first.get("TotalNum")
    if isinstance(total, int) and total > EVENT_LIST_MAX_ENTRIES and end - start > 1:
        middle = (start + end) // 2  # more than one query may return: halve the span
        return _sessions(api, start, middle, stream) + _sessions(api, middle, end, stream)
    items = listed(EVENT_LIST, first, "EventList")
    pages = first.get("TotalPage")
    if isinstance(pages, int) and pages > 1:
        for page in range(2, pages + 1):
            answer = api.call(EVENT_LIST, {**params, "PageNum": page, "PageSize": PAGE_SIZE[EVENT_LIST]})
            items.extend(listed(EVENT_LIST, answer, "EventList"))
    out = []
    for item in items:
        begun = parse_time(item.get("StreamStartTime"))
        name = item.get("StreamName")
        if begun is None or not isinstance(name, str) or not name:
            continue
        out.append(CssSession(name, begun, parse_time(item.get("StreamEndTime")), _text(item.get("DomainName")),
                              _text(item.get("AppName")), _text(item.get("StopReason")), _text(item.get("ClientIp"))))
    return out


def attempts(api: LiveApi, stream: str, intervals: list[tuple[int, int]], now: float) -> tuple[list[Attempt],
                                                                                              int | None]:
    """Every callback attempt for ``stream`` in the ``intervals``, one-day spans within 14 days; the clip."""
    windows: list[tuple[int, int]] = []
    clipped = None
    for start, end in intervals:
        split, cut = spans(CALLBACK_RECORDS, start, end, now)
        windows += split
        clipped = cut if cut is not None else clipped
    found: list[Attempt] = []
    for begin, until in windows:
        params = {"StartTime": utc(begin), "EndTime": utc(until), "StreamName": stream}
        for item in api.pages(CALLBACK_RECORDS, params, "DataInfoList"):
            code = item.get("ResultCode")
            kind = item.get("EventType")
            found.append(Attempt(stream, kind if isinstance(kind, int) else None, parse_time(item.get("EventTime")),
                                 _text(item.get("Request")), _text(item.get("Response")),
                                 code if isinstance(code, int) else None))
    return found, clipped


def online(api: LiveApi) -> set[str]:
    """The streams CSS lists online now (every page)."""
    return {item["StreamName"] for item in api.pages(ONLINE_LIST, {}, "OnlineInfo")
            if isinstance(item.get("StreamName"), str)}


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
