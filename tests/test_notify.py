"""Chat notifications against a local webhook server: formats, failures, and the summarising rule."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from cssai import runtime
from tests.conftest import Invoke, sample
from tests.fake_http import FaultyHandler, FaultyServer


class HookHandler(FaultyHandler):
    server: HookServer

    def do_POST(self) -> None:
        body = self.read_body()
        if self.apply_fault("hook"):
            return
        with self.server.lock:
            self.server.posts.append((self.path, json.loads(body)))
        self.answer(200, b'{"errcode":0}', "application/json")


class HookServer(FaultyServer):
    def __init__(self) -> None:
        super().__init__(HookHandler)
        self.posts: list[tuple[str, dict]] = []


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[HookServer]:
    server = HookServer().start()
    monkeypatch.setenv("NOTIFY_URL", server.url + "/robot/send?key=abc")
    runtime.reset()
    yield server
    server.stop()


def use(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    runtime.reset()


def test_generic_json_for_a_344_alert(hook: HookServer, invoke: Invoke) -> None:
    assert invoke(sample(344))["statusCode"] == 200
    ((path, body),) = hook.posts
    assert path == "/robot/send?key=abc"
    assert body["kind"] == "quality_alert" and body["stream_id"] == "livestream1" and body["subject"] == "PSNR"
    assert "2 frame(s) under the CSS threshold, min 22.78" in body["lines"][0]
    assert "summarised until" in body["lines"][-1]


def test_wecom_markdown(hook: HookServer, invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    use(monkeypatch, NOTIFY_FORMAT="wecom")
    assert invoke(sample(345))["statusCode"] == 200
    ((_, body),) = hook.posts
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["content"].startswith("**Quality alert: PSNR on livestream1**")
    assert "average 27.765 under 30.0" in body["markdown"]["content"]


def test_dingtalk_markdown_signed(hook: HookServer, invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    use(monkeypatch, NOTIFY_FORMAT="dingtalk", NOTIFY_DINGTALK_SECRET="SECdingtalk")
    assert invoke(sample(347))["statusCode"] == 200
    ((path, body),) = hook.posts
    assert body["msgtype"] == "markdown" and body["markdown"]["title"].startswith("Keyword hit: Central Commission")
    query = parse_qs(urlsplit(path).query)
    expected = hmac.new(b"SECdingtalk", f"{query['timestamp'][0]}\nSECdingtalk".encode(), hashlib.sha256).digest()
    assert query["sign"][0] == base64.b64encode(expected).decode()
    assert query["key"] == ["abc"]


def test_every_new_highlight_is_posted(hook: HookServer, invoke: Invoke) -> None:
    first = sample(349)
    second = {**first, "items": [{**first["items"][0], "begin_time": 1761129000, "title": "Another"}]}
    assert invoke(first)["statusCode"] == 200 and invoke(second)["statusCode"] == 200
    assert [b["kind"] for _, b in hook.posts] == ["highlight", "highlight"]
    assert "Another" in hook.posts[1][1]["lines"][0]
    assert invoke(first)["statusCode"] == 200  # a redelivery is stored already: no new message
    assert len(hook.posts) == 2


def test_repeated_alerts_in_a_window_are_summarised_across_containers(hook: HookServer, invoke: Invoke) -> None:
    base = {**sample(344), "event_time": 1752130800}  # windows are aligned to the epoch: this one starts here
    for offset in (0, 60, 599):  # same stream and class, same 10-minute window: one message
        runtime.reset()  # each delivery on a new container
        assert invoke({**base, "event_time": base["event_time"] + offset})["statusCode"] == 200
    assert len(hook.posts) == 1
    assert invoke({**base, "class": "VMAF"})["statusCode"] == 200  # another metric: its own message
    assert invoke({**base, "stream_id": "other"})["statusCode"] == 200  # another stream: its own message
    assert invoke({**base, "event_time": base["event_time"] + 900})["statusCode"] == 200  # next window
    assert [(b["stream_id"], b["subject"]) for _, b in hook.posts] == [
        ("livestream1", "PSNR"), ("livestream1", "VMAF"), ("other", "PSNR"), ("livestream1", "PSNR")]


def test_a_failing_webhook_never_fails_the_event(hook: HookServer, invoke: Invoke, sink: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    hook.inject("POST", "hook", "500")
    assert invoke(sample(349))["statusCode"] == 200
    assert "failed, HTTP 500" in capsys.readouterr().out
    hook.inject("POST", "hook", "hang", delay=10)
    started = time.monotonic()
    second = {**sample(349), "stream_id": "slow"}
    assert invoke(second)["statusCode"] == 200
    assert time.monotonic() - started < 5  # NOTIFY_TIMEOUT_SECONDS (2 s) bounds the wait
    assert any((sink / "cos" / "highlights" / "slow").iterdir())


def test_kinds_select_what_is_posted(hook: HookServer, invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    use(monkeypatch, NOTIFY_KINDS="highlight")
    assert invoke(sample(344))["statusCode"] == 200
    assert invoke(sample(349))["statusCode"] == 200
    assert [b["kind"] for _, b in hook.posts] == ["highlight"]


def test_bad_notify_settings_name_the_variable(monkeypatch: pytest.MonkeyPatch, invoke: Invoke) -> None:
    use(monkeypatch, NOTIFY_URL="ftp://x", NOTIFY_FORMAT="json")
    assert "NOTIFY_URL" in json.loads(invoke(sample(349))["body"])["message"]
    use(monkeypatch, NOTIFY_URL="http://127.0.0.1:9/", NOTIFY_FORMAT="slack")
    assert "NOTIFY_FORMAT" in json.loads(invoke(sample(349))["body"])["message"]


# The alert kinds of the other families ----------------------------------------------------------------------


def _variant(event_type: int, **change: object) -> dict:
    return {**sample(event_type), **change}


ALERTING = [
    ("moderation", _variant(317), "Porn", "Block"),
    ("moderation", _variant(315, suggestion="Review"), "Ad", "Review"),
    ("quality_control", _variant(343), "Blur", "score"),
    ("push_error", _variant(321), "6", "gap between video frames"),
    ("recording_error", _variant(332, record_event="record_error"), "record_error", "record_error"),
    ("recording_error", _variant(332, record_event="record_start_failed"), "record_start_failed", "session"),
    ("recording_error", _variant(341, exception_level="error"), "exception -201", "unevenly"),
]


@pytest.mark.parametrize("kind,body,subject,text", ALERTING, ids=[f"{a[0]}-{i}" for i, a in enumerate(ALERTING)])
def test_each_new_alert_kind_notifies_once(hook: HookServer, invoke: Invoke, kind: str, body: dict, subject: str,
                                           text: str) -> None:
    assert invoke(body)["statusCode"] == 200
    posts = [b for _, b in hook.posts if b["kind"] == kind]
    assert posts and posts[0]["subject"] == subject and text in " ".join(posts[0]["lines"])
    assert invoke(body)["statusCode"] == 200  # a redelivery (duplicate) posts nothing
    assert len([b for _, b in hook.posts if b["kind"] == kind]) == len(posts)


@pytest.mark.parametrize("body", [_variant(317, suggestion="Pass"), _variant(332), _variant(341),
                                  _variant(315, suggestion="Pass"), sample(1), sample(0), sample(100), sample(200)],
                         ids=["317-pass", "332-ended", "341-info", "315-pass", "push", "stop", "file", "screenshot"])
def test_what_is_not_an_alert_posts_nothing(hook: HookServer, invoke: Invoke, body: dict) -> None:
    assert invoke(body)["statusCode"] == 200
    assert hook.posts == []


def test_new_alert_kinds_are_summarised_in_the_same_windows(hook: HookServer, invoke: Invoke) -> None:
    first = _variant(343)
    later = _variant(343, event_time=first["event_time"] + 60, score=12.5)  # same stream, class, window
    other = _variant(343, event_time=first["event_time"] + 60, **{"class": "Mosaic"})
    for body in (first, later, other):
        assert invoke(body)["statusCode"] == 200
    subjects = [b["subject"] for _, b in hook.posts]
    assert subjects == ["Blur", "Mosaic"]


def test_notify_kinds_can_leave_a_family_out(hook: HookServer, invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    use(monkeypatch, NOTIFY_KINDS="push_error")
    assert invoke(_variant(343))["statusCode"] == 200
    assert invoke(_variant(321))["statusCode"] == 200
    assert [b["kind"] for _, b in hook.posts] == ["push_error", "push_error"]  # two types, one message each


def test_every_notify_kind_has_a_subject_and_a_title() -> None:
    from cssai import notify, settings

    assert set(notify.SUBJECT_FIELD) == set(notify.TITLES) == set(settings.NOTIFY_KINDS)
