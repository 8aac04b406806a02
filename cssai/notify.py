"""Chat notifications for what people should see: quality alerts, keyword hits, new highlights, and the
alerts of the other families: moderation (317/315 Block or Review), quality control (343), push errors
(321) and recording errors (332 start failed or error, 341 at level error). Handlers mark those records
``alert=<kind>``; the notifier posts from the records alone.

Runs only after the event is stored, inside what is left of its deadline; a failure is
logged and never turns a stored event into a 503.

Summarising across containers: each (stream, kind, class-or-word) gets one message per
window of the *event's own time* (``NOTIFY_WINDOW_SECONDS``). Whether a window has been
announced is decided by a create-if-absent object ``notify/{stream}/{kind}/{subject}/{window}``
in the object sink (COS ``x-cos-forbid-overwrite``), so every container agrees, with no
shared memory: the first alert of a window is posted and says until when further ones are
summarised; the rest of that window are stored and searchable in CLS but not posted.
Highlights are news, not alarms: every new highlight event is posted, its items in one message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from cssai import keys
from cssai.settings import Settings
from cssai.sinks import ObjectSink, SinkError
from cssai.writes import LogRecord, PutObject

SUBJECT_FIELD = {"quality_alert": "class", "keyword_hit": "word", "highlight": "", "moderation": "label",
                 "quality_control": "class", "push_error": "type", "recording_error": "",  # see _subject
                 "forward_failed": "target", "delivery_gap": "gap"}
MAX_LINES = 10
RECORD_KINDS = ("quality_alert", "keyword_hit", "highlight")  # notified by their own kind, unmarked
TITLES = {"quality_alert": "Quality alert: {subject} on {stream}", "keyword_hit": "Keyword hit: {subject} on {stream}",
          "highlight": "New highlight on {stream}", "moderation": "Moderation: {subject} on {stream}",
          "quality_control": "Quality control: {subject} on {stream}",
          "push_error": "Push error type {subject} on {stream}", "recording_error": "Recording error on {stream}",
          "forward_failed": "Forward to {subject} given up", "delivery_gap": "Missed callback ({subject}) on {stream}"}


def alert_kind(rec: LogRecord) -> str:
    """The notification kind of a record: its ``alert`` mark, else its own kind for the first three; else ""."""
    kind = rec.fields.get("kind", "")
    return rec.fields.get("alert") or (kind if kind in RECORD_KINDS else "")


@dataclass(frozen=True)
class Message:
    kind: str
    stream_id: str
    subject: str
    time_ms: int
    title: str
    lines: tuple[str, ...]


def compose(records: Iterable[LogRecord], kinds: frozenset[str]) -> list[Message]:
    """Pure: the messages an event's records call for, one per (kind, subject)."""
    grouped: dict[tuple[str, str], list[LogRecord]] = {}
    for rec in records:
        kind = alert_kind(rec)
        if kind in kinds and kind in SUBJECT_FIELD:
            subject = _subject(kind, rec)
            grouped.setdefault((kind, subject), []).append(rec)
    messages = []
    for (kind, subject), recs in grouped.items():
        first = recs[0]
        stream = first.fields.get("stream_id", "")
        lines = tuple(_line(kind, r) for r in recs[:MAX_LINES])
        if len(recs) > MAX_LINES:
            lines += (f"… and {len(recs) - MAX_LINES} more",)
        title = TITLES[kind].format(subject=subject, stream=stream)
        messages.append(Message(kind, stream, subject, min(r.time_ms for r in recs), title, lines))
    return messages


def _subject(kind: str, rec: LogRecord) -> str:
    f = rec.fields
    if kind == "recording_error":  # what went wrong: the status event, or the exception's type
        return f.get("record_event") or f"exception {f.get('exception_type', '')}".strip()
    return f.get(SUBJECT_FIELD[kind], "") if SUBJECT_FIELD[kind] else ""


def _line(kind: str, rec: LogRecord) -> str:
    f = rec.fields
    when = _clock(rec.time_ms)
    if kind == "moderation":
        return (f"{when} {f.get('media', '')} {f.get('suggestion', '')}: {f.get('label', '')}/{f.get('sub_label', '')} "
                f"score {f.get('score', '?')} {f.get('img', '') or f.get('asr_text', '')[:200]}")
    if kind == "quality_control":
        return f"{when} {f.get('class', '')} score {f.get('score', '?')}"
    if kind == "push_error":
        return f"{when} type {f.get('type', '')} ({f.get('type_meaning', '')}) x{f.get('count', '?')}"
    if kind == "recording_error":
        if f.get("kind") == "recording_status":
            return f"{when} {f.get('record_event', '')} (session {f.get('session_id', '')})"
        return (f"{when} {f.get('exception_level', '')} {f.get('exception_type', '')}: "
                f"{f.get('exception_meaning', '')} x{f.get('occurs', '?')}")
    if kind == "quality_alert":
        if f.get("reason") == "average_below_threshold":
            return f"{when} average {f.get('average_score')} under {f.get('threshold')}"
        return f"{when} {f.get('frame_count')} frame(s) under the CSS threshold, min {f.get('min_score')}"
    if kind == "forward_failed":
        return (f"{when} event {f.get('event_id', '')[:16]} (type {f.get('event_type', '')}) to {f.get('url', '')}: "
                f"{f.get('attempts', '?')} attempt(s), last {f.get('last_error', '')}")
    if kind == "delivery_gap":
        return f"{when} {f.get('gap', '')}: {f.get('detail', '')[:200]}"
    if kind == "keyword_hit":
        return f"{when} “{f.get('word')}” in: {f.get('text', '')[:200]}"
    return f"{when} {f.get('title', '')[:200]} [{f.get('key_words', '')}] {f.get('video_store_url', '')}"


def _clock(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def payload(message: Message, fmt: str, window_end_ms: int | None) -> dict[str, Any]:
    """The request body for a WeCom group robot, a DingTalk robot, or a generic JSON webhook."""
    lines = list(message.lines)
    if window_end_ms is not None:
        lines.append(f"(further {message.kind} for this stream are summarised until {_clock(window_end_ms)}; see CLS)")
    if fmt == "wecom":
        text = f"**{message.title}**\n" + "\n".join(f"> {line}" for line in lines)
        return {"msgtype": "markdown", "markdown": {"content": text}}
    if fmt == "dingtalk":
        text = f"### {message.title}\n\n" + "\n\n".join(f"- {line}" for line in lines)
        return {"msgtype": "markdown", "markdown": {"title": message.title, "text": text}}
    return {"kind": message.kind, "stream_id": message.stream_id, "subject": message.subject,
            "time_ms": message.time_ms, "title": message.title, "lines": lines}


class Notifier:
    def __init__(self, settings: Settings, objects: ObjectSink) -> None:
        self.settings = settings
        self.objects = objects

    def notify(self, records: Iterable[LogRecord], event_id: str, deadline: float) -> list[str]:
        """Post what the records call for; return what happened to each message (for the log)."""
        results = []
        for message in compose(records, self.settings.notify_kind_set):
            if time.monotonic() >= deadline:
                results.append(f"{message.kind}: skipped, deadline")
                continue
            try:
                first, window_end = self._claim_window(message, event_id)
            except SinkError as exc:
                results.append(f"{message.kind}: window check failed: {exc}")
                continue
            if not first:
                results.append(f"{message.kind}: summarised")
                continue
            results.append(f"{message.kind}: {self.post(message, window_end, deadline)}")
        return results

    def _claim_window(self, message: Message, event_id: str) -> tuple[bool, int | None]:
        """(is this the window's first message, the window's end); highlights have no window."""
        window = self.settings.notify_window_seconds * 1000
        if message.kind == "highlight" or window == 0:
            return True, None
        start = message.time_ms - message.time_ms % window
        key = keys.join("notify", keys.segment(message.stream_id), message.kind, keys.segment(message.subject),
                        f"{start}.json")
        first = self.objects.put(PutObject(key, json.dumps({"event_id": event_id}).encode()), event_id, if_absent=True)
        return first, start + window

    def post(self, message: Message, window_end: int | None, deadline: float) -> str:
        body = json.dumps(payload(message, self.settings.notify_format, window_end), ensure_ascii=False).encode()
        url = self._signed_url()
        timeout = max(0.1, min(self.settings.notify_timeout_seconds, deadline - time.monotonic()))
        request = urllib.request.Request(  # noqa: S310 - the operator's configured http(s) URL
            url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                return f"posted, HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            return f"failed, HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            return f"failed, {type(exc).__name__}"

    def _signed_url(self) -> str:
        """DingTalk robots with a signing secret want timestamp and sign in the query."""
        secret = self.settings.notify_dingtalk_secret
        if self.settings.notify_format != "dingtalk" or not secret:
            return self.settings.notify_url
        timestamp = str(int(time.time() * 1000))
        digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
        sign = urllib.parse.quote_plus(base64.b64encode(digest).decode())
        joiner = "&" if "?" in self.settings.notify_url else "?"
        return f"{self.settings.notify_url}{joiner}timestamp={timestamp}&sign={sign}"
