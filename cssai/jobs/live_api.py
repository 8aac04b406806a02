"""CSS's own records (live API v20180801, ``tencentcloud-sdk-python-live``), within each API's documented limits.

Imported by the reconcile job and ``doctor`` only: never on a callback's path (tests/test_layout.py).

The limits, from the doc pages (checked 2026-12):
- DescribeLiveStreamEventList (https://www.tencentcloud.com/document/api/267/30800, CN 267/33186): StartTime and
  EndTime in UTC ``2018-12-29T19:00:00Z``, at most 30 days apart, within the last 60 days; PageSize 1-100;
  "only queries within 10,000 entries are supported"; 300 requests/s.
- DescribeCallbackRecordsList (https://cloud.tencent.com/document/product/267/51328): StreamName, PageNum and
  PageSize required; span at most 1 day, within the last 14 days; 20 requests/s. The page does not give a
  maximum PageSize: 100 is used, as for the event list.
- DescribeLiveStreamOnlineList (https://cloud.tencent.com/document/product/267/20472): PageSize up to 300,000
  ("pass one larger than the number of streams and take them all at once; once a minute is recommended").
- DescribeLiveCallbackRules / DescribeLiveCallbackTemplates / DescribeLiveDomains (267/32659, 267/32632,
  267/30836): no paging for the first two; DescribeLiveDomains pages of up to 100.
Every action is held to ``PER_SECOND`` calls a second whatever its own limit (DESIGN.md: at most 20), a
``RequestLimitExceeded`` is backed off and retried, and a run makes at most ``max_calls`` calls: the caller
keeps a cursor and the rest waits for the next run.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.live.v20180801 import live_client, models

from cssai.credentials import EnvCredential
from cssai.settings import Settings

DAY = 86_400
EVENT_LIST = "DescribeLiveStreamEventList"
CALLBACK_RECORDS = "DescribeCallbackRecordsList"
ONLINE_LIST = "DescribeLiveStreamOnlineList"
SPAN = {EVENT_LIST: 30 * DAY, CALLBACK_RECORDS: DAY}  # the longest StartTime..EndTime each accepts
RETENTION = {EVENT_LIST: 60 * DAY, CALLBACK_RECORDS: 14 * DAY}  # how far back each keeps records
RETENTION_MARGIN = 3600  # clip an hour inside the retention: a window at its very edge is refused
PAGE_SIZE = {EVENT_LIST: 100, CALLBACK_RECORDS: 100, ONLINE_LIST: 100_000, "DescribeLiveDomains": 100}
EVENT_LIST_MAX_ENTRIES = 10_000
PER_SECOND = 20
INTERVAL_SECONDS = 1.05 / PER_SECOND  # a little over 1/20 s: timer jitter never makes a 21st call in a second
_last_call: dict[str, float] = {}  # per action, for every client in this process (runs may follow each other)
_pace_lock = threading.Lock()
BACKOFF_SECONDS = (1.0, 2.0, 4.0)  # after RequestLimitExceeded; then the run stops and the rest waits
REQUEST_TIMEOUT_SECONDS = 10


REFUSALS = ("InvalidParameter", "MissingParameter", "UnknownParameter", "ResourceNotFound", "UnsupportedOperation")


class LiveApiError(Exception):
    """A live API call failed. ``refusal``: the API refused this request as such (a parameter it will refuse
    again), as against the service or the way to it failing, which a later run may not meet."""

    def __init__(self, action: str, code: str, message: str) -> None:
        super().__init__(f"{action}: {code}: {message[:300]}")
        self.action = action
        self.code = code

    @property
    def refusal(self) -> bool:
        return self.code.startswith(REFUSALS)


class OutOfCallsError(Exception):
    """The run's budget of calls (or its time) is spent: what is left waits for the next run."""


def utc(seconds: float) -> str:
    return datetime.fromtimestamp(int(seconds), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: object) -> int | None:
    """Unix seconds of an API time: UTC ``…T…Z``, or ``YYYY-MM-DD hh:mm:ss`` in Beijing time (UTC+8, as the
    callback records' EventTime may come); empty, zero or unparseable: None."""
    if not isinstance(value, str) or not value.strip() or value.startswith("0000"):
        return None
    text = value.strip()
    try:
        if text.endswith("Z"):
            return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp())
        return int(datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc).timestamp()) - 8 * 3600
    except ValueError:
        return None


def spans(action: str, start: int, end: int, now: float) -> tuple[list[tuple[int, int]], int | None]:
    """``[start, end)`` clipped to the action's retention and split to its longest span; and where the clip
    cut (None when nothing was cut)."""
    oldest = int(now) - RETENTION[action] + RETENTION_MARGIN
    clipped = oldest if start < oldest else None
    start = max(start, oldest)
    out = []
    while start < end:
        out.append((start, min(end, start + SPAN[action])))
        start += SPAN[action]
    return out, clipped


class LiveApi:
    """The live client with the limits above; ``calls`` counts what each action cost this run."""

    def __init__(self, settings: Settings, max_calls: int, deadline: float,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        http = HttpProfile(reqTimeout=REQUEST_TIMEOUT_SECONDS)
        if settings.live_endpoint_url:
            url = urlsplit(settings.live_endpoint_url)
            http = HttpProfile(protocol=url.scheme, endpoint=url.netloc, reqTimeout=REQUEST_TIMEOUT_SECONDS)
        self.client = live_client.LiveClient(EnvCredential(), "", ClientProfile(httpProfile=http))
        self.max_calls = max_calls
        self.deadline = deadline
        self.sleep = sleep
        self.calls: Counter[str] = Counter()
        self.throttled = 0

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def call(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        """One call (the SDK's own request model and method), paced, backed off; its response as a dict."""
        for backoff in (*BACKOFF_SECONDS, None):
            self._pace(action)
            request = getattr(models, f"{action}Request")()
            request.from_json_string(json.dumps(params))
            try:
                response = getattr(self.client, action)(request)
            except TencentCloudSDKException as exc:
                code = exc.get_code() or "ClientError"
                if code.startswith("RequestLimitExceeded") and backoff is not None:
                    self.throttled += 1
                    if time.monotonic() + backoff >= self.deadline:
                        raise OutOfCallsError(f"{action} throttled at the end of the run's time") from exc
                    self.sleep(backoff)
                    continue
                raise LiveApiError(action, code, exc.get_message() or "") from exc
            except (ValueError, TypeError, KeyError, AttributeError) as exc:  # an answer that is not the API's
                raise LiveApiError(action, "UnreadableAnswer", f"{type(exc).__name__}: {exc}") from exc
            return json.loads(response.to_json_string())
        raise LiveApiError(action, "RequestLimitExceeded", f"still throttled after {len(BACKOFF_SECONDS)} backoffs")

    def pages(self, action: str, params: dict[str, Any], items: str) -> list[dict[str, Any]]:
        """Every page of a paged action (PageNum from 1 until TotalPage); the items of all of them."""
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            answer = self.call(action, {**params, "PageNum": page, "PageSize": PAGE_SIZE[action]})
            found.extend(listed(action, answer, items))
            total_pages = answer.get("TotalPage")
            count = answer.get("AllCount")  # DescribeLiveDomains gives a count instead
            if not isinstance(total_pages, int) and isinstance(count, int):
                total_pages = -(-count // PAGE_SIZE[action])
            if not isinstance(total_pages, int) or page >= total_pages or not answer.get(items):
                return found
            page += 1

    def _pace(self, action: str) -> None:
        with _pace_lock:
            if self.total >= self.max_calls:
                raise OutOfCallsError(f"the run's {self.max_calls} calls are spent")
            if time.monotonic() >= self.deadline:
                raise OutOfCallsError("the run's time is spent")
            wait = _last_call.get(action, 0.0) + INTERVAL_SECONDS - time.monotonic()
            if wait > 0:
                self.sleep(wait)
            _last_call[action] = time.monotonic()
            self.calls[action] += 1


def listed(action: str, answer: dict[str, Any], items: str) -> list[dict[str, Any]]:
    """The items of a page. An answer without its list is not read as "nothing" unless it is the API's own (a
    zero count, or its RequestId); anything else (``{"Response": {}}`` from a proxy) is an unreadable answer,
    which must not make the job think CSS kept nothing and flag gaps that are not there."""
    value = answer.get(items)
    if isinstance(value, list):
        return [item for item in value if isinstance(item, dict)]
    if value is None and (0 in (answer.get("TotalNum"), answer.get("AllCount")) or answer.get("RequestId")):
        return []  # an empty result, from the API itself (it names its request)
    raise LiveApiError(action, "UnreadableAnswer", f"no {items} list and no zero count in the answer")
