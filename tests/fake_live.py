"""A CSS live-API look-alike on 127.0.0.1: checks TC3 signatures, pages, refuses what the real API refuses.

Limits as the doc pages give them (cssai/jobs/live_api.py cites them): DescribeLiveStreamEventList spans of at
most 30 days within 60 days, pages of at most 100, no page past the 10,000th entry; DescribeCallbackRecordsList
needs StreamName, PageNum and PageSize, spans of at most 1 day within 14 days; every action answers
``RequestLimitExceeded`` past ``per_second`` calls in a second (and when a test asks for it).
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from tests import tc3
from tests.fake_http import FaultyHandler, FaultyServer

DAY = 86_400


def utc(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seconds(text: object) -> int:
    if not isinstance(text, str):
        raise ValueError("missing")
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp())


class RefusedError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Session:
    stream: str
    start: int
    end: int | None = None
    domain: str = "push.example.com"
    app: str = "live"
    stop_reason: str = ""


@dataclass
class Record:
    """One callback attempt CSS made: ``request`` is the body it sent (a string, as the API returns it)."""

    stream: str
    event_time: int
    event_type: int
    request: str
    result_code: int = 0
    response: str = '{"code":0}'


@dataclass
class LiveState:
    sessions: list[Session] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    online: set[str] = field(default_factory=set)
    rules: list[dict[str, Any]] = field(default_factory=list)
    templates: list[dict[str, Any]] = field(default_factory=list)
    domains: list[dict[str, Any]] = field(default_factory=list)


class LiveHandler(FaultyHandler):
    server: LiveServer

    def _answer(self, response: dict[str, Any]) -> None:
        self.answer(200, json.dumps({"Response": {**response, "RequestId": "fake-live"}}).encode(), "application/json")

    def do_POST(self) -> None:
        payload = self.read_body()
        action = self.headers.get("X-TC-Action", "")
        if self.apply_fault(action):
            return
        server = self.server
        if not tc3.verify(self.headers, payload, "live", server.secret_id, server.secret_key, server.token):
            self._answer({"Error": {"Code": "AuthFailure.SignatureFailure", "Message": "signature mismatch"}})
            return
        try:
            params = json.loads(payload or b"{}")
            server.count(action, params)
            answer = ACTIONS[action](server, params, time.time()) if action in ACTIONS else None
            if answer is None:
                raise RefusedError("InvalidAction", f"{action} is not an action of this fake")
        except RefusedError as exc:
            self._answer({"Error": {"Code": exc.code, "Message": str(exc)}})
            return
        except (ValueError, TypeError) as exc:
            self._answer({"Error": {"Code": "InvalidParameter", "Message": str(exc)}})
            return
        self._answer(answer)


def _window(params: dict[str, Any], now: float, span: int, kept: int) -> tuple[int, int]:
    try:
        start, end = _seconds(params.get("StartTime")), _seconds(params.get("EndTime"))
    except ValueError as exc:
        raise RefusedError("InvalidParameter.TimeFormat", f"StartTime/EndTime must be UTC ...T...Z: {exc}") from exc
    if end <= start or end - start > span:
        raise RefusedError("InvalidParameter", f"span {end - start} s: at most {span} s")
    if start < now - kept:
        raise RefusedError("InvalidParameter", f"StartTime beyond the last {kept // DAY} days")
    if end > now + 1:
        raise RefusedError("InvalidParameter", "EndTime after the current time")
    return start, end


def _paged(items: list[dict[str, Any]], params: dict[str, Any], limit: int, required: bool) -> tuple[list, int, int]:
    number, size = params.get("PageNum"), params.get("PageSize")
    if required and (number is None or size is None):
        raise RefusedError("MissingParameter", "PageNum and PageSize are required")
    number, size = number or 1, size or 10
    if not (1 <= size <= limit) or number < 1:
        raise RefusedError("InvalidParameter", f"PageSize 1..{limit}, PageNum from 1")
    pages = max(1, -(-len(items) // size))
    return items[(number - 1) * size:number * size], len(items), pages


def _event_list(server: LiveServer, params: dict[str, Any], now: float) -> dict[str, Any]:
    start, end = _window(params, now, 30 * DAY, 60 * DAY)
    name, strict = params.get("StreamName"), params.get("IsStrict") == 1
    found = [s for s in server.state.sessions if start <= s.start < end
             and (name is None or (s.stream == name if strict else name in s.stream))]
    found.sort(key=lambda s: s.start, reverse=params.get("IsAsc") != 1)
    number, size = params.get("PageNum") or 1, params.get("PageSize") or 10
    if (number - 1) * size >= 10_000:
        raise RefusedError("InvalidParameter", "only queries within 10,000 entries are supported")
    page, total, pages = _paged([_session(s) for s in found], params, 100, required=False)
    return {"EventList": page, "PageNum": number, "PageSize": size, "TotalNum": total, "TotalPage": pages}


def _session(s: Session) -> dict[str, Any]:
    return {"AppName": s.app, "DomainName": s.domain, "StreamName": s.stream, "StreamStartTime": utc(s.start),
            "StreamEndTime": utc(s.end) if s.end is not None else "", "StopReason": s.stop_reason,
            "Duration": (s.end - s.start) if s.end is not None else 0, "ClientIp": "203.0.113.7",
            "Resolution": "1920*1080"}


def _callback_records(server: LiveServer, params: dict[str, Any], now: float) -> dict[str, Any]:
    if not params.get("StreamName"):
        raise RefusedError("MissingParameter", "StreamName is required")
    if params["StreamName"] in server.refuse_streams:
        raise RefusedError("InvalidParameterValue.StreamName", "refused by the test")
    start, end = _window(params, now, DAY, 14 * DAY)
    found = [{"EventTime": utc(r.event_time), "EventType": r.event_type, "Request": r.request,
              "Response": r.response, "ResponseTime": utc(r.event_time + 1), "ResultCode": r.result_code,
              "StreamId": r.stream}
             for r in server.state.records if r.stream == params["StreamName"] and start <= r.event_time < end]
    page, total, pages = _paged(found, params, 100, required=True)
    return {"DataInfoList": page, "PageNum": params["PageNum"], "PageSize": params["PageSize"], "TotalNum": total,
            "TotalPage": pages}


def _online(server: LiveServer, params: dict[str, Any], now: float) -> dict[str, Any]:
    found = [{"StreamName": n, "AppName": "live", "DomainName": "push.example.com",
              "PublishTimeList": [{"PublishTime": utc(int(now) - 60)}], "PushToDelay": 0}
             for n in sorted(server.state.online)]
    page, total, pages = _paged(found, params, 300_000, required=False)
    return {"OnlineInfo": page, "PageNum": params.get("PageNum") or 1, "PageSize": params.get("PageSize") or 10,
            "TotalNum": total, "TotalPage": pages}


def _domains(server: LiveServer, params: dict[str, Any]) -> dict[str, Any]:
    kind = params.get("DomainType")
    found = [d for d in server.state.domains if kind is None or d.get("Type") == kind]
    page, total, _ = _paged(found, params, 100, required=False)
    return {"AllCount": total, "DomainList": page}  # no TotalPage: the real answer has none


ACTIONS = {
    "DescribeLiveStreamEventList": _event_list,
    "DescribeCallbackRecordsList": _callback_records,
    "DescribeLiveStreamOnlineList": _online,
    "DescribeLiveCallbackRules": lambda server, params, now: {"Rules": server.state.rules},
    "DescribeLiveCallbackTemplates": lambda server, params, now: {"Templates": server.state.templates},
    "DescribeLiveDomains": lambda server, params, now: _domains(server, params),
}


class LiveServer(FaultyServer):
    def __init__(self, secret_id: str, secret_key: str, token: str | None = None, per_second: int = 20) -> None:
        super().__init__(LiveHandler)
        self.secret_id, self.secret_key, self.token = secret_id, secret_key, token
        self.per_second = per_second
        self.state = LiveState()
        self.calls: list[tuple[float, str, dict[str, Any]]] = []
        self.throttle: dict[str, int] = defaultdict(int)  # action -> the next n calls are refused as throttled
        self.refused: list[str] = []
        self.refuse_streams: set[str] = set()  # DescribeCallbackRecordsList refuses these names
        self._calls_lock = threading.Lock()

    def count(self, action: str, params: dict[str, Any]) -> None:
        now = time.monotonic()
        with self._calls_lock:
            recent = sum(1 for t, a, _ in self.calls if a == action and now - t < 1.0)
            self.calls.append((now, action, params))
            if self.throttle[action] > 0 or recent >= self.per_second:
                self.throttle[action] = max(0, self.throttle[action] - 1)
                self.refused.append(action)
                raise RefusedError("RequestLimitExceeded", f"more than {self.per_second} {action} a second")

    def actions(self, action: str | None = None) -> list[dict[str, Any]]:
        with self._calls_lock:
            return [p for _, a, p in self.calls if action in (None, a)]

    def busiest_second(self, action: str) -> int:
        """The most calls of ``action`` in any one-second span."""
        with self._calls_lock:
            times = sorted(t for t, a, _ in self.calls if a == action)
        return max((sum(1 for u in times[i:] if u - t < 1.0) for i, t in enumerate(times)), default=0)
