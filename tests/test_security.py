"""Forgery, replay, hostile content, log forging and secrets."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

import index
from cssai import runtime
from cssai.keys import segment
from cssai.ops import events
from tests.conftest import KEY, OLD_KEY, SECRET_KEY, TOKEN, Cloud, Invoke, answer_body, sample, tree


def test_replayed_signature_with_another_body_is_accepted_the_protocol_limit(sink: Path) -> None:
    """Only t is signed: whoever saw one (t, sign) can send any body until t passes."""
    genuine = events.signed(sample(349), KEY)
    forged = {**sample(344), "t": genuine["t"], "sign": genuine["sign"]}
    assert index.main_handler(events.wrap(genuine, "apigw"), None)["statusCode"] == 200
    assert index.main_handler(events.wrap(forged, "apigw"), None)["statusCode"] == 200
    assert any(k.startswith("events/344/") for k in tree(sink / "cos"))


def test_allowlist_stops_a_replay_from_elsewhere(monkeypatch: pytest.MonkeyPatch, sink: Path) -> None:
    monkeypatch.setenv("CALLBACK_ALLOWED_CIDRS", "192.0.2.0/24,2001:db8::/32")
    runtime.reset()
    genuine = events.signed(sample(349), KEY)
    assert index.main_handler(events.wrap(genuine, "apigw", source_ip="192.0.2.7"), None)["statusCode"] == 200
    forged = {**sample(344), "t": genuine["t"], "sign": genuine["sign"]}
    for ip in ("203.0.113.5", "", "not-an-ip", "192.0.3.1", "::1"):
        assert index.main_handler(events.wrap(forged, "url", source_ip=ip), None)["statusCode"] == 403
    assert index.main_handler(events.wrap(forged, "url", source_ip="2001:db8::9"), None)["statusCode"] == 200
    direct = index.main_handler(forged, None)  # a direct invocation has no source address: refused too
    assert direct["statusCode"] == 403


def test_identical_replay_is_deduplicated(invoke: Invoke, sink: Path) -> None:
    body = sample(347)
    assert invoke(body)["statusCode"] == 200
    before = tree(sink)
    for key in (KEY, OLD_KEY, KEY):
        assert invoke(body, key=key)["statusCode"] == 200
    assert tree(sink) == before


HOSTILE = ["../../etc", "a/b", "a\\b", "nul\x00x", "\x1b[31mred", "\u202etxt.exe", "🎥📺", "x" * 10_000,
           "..", ".", "%2e%2e", "CON", "line\nbreak", "tab\tx", " lead", "a b", "a%2Fb", "A/B", "a_b"]


def test_hostile_stream_ids_keep_keys_inside_stable_and_distinct(invoke: Invoke, sink: Path) -> None:
    for stream in HOSTILE:
        body = {**sample(344), "stream_id": stream, "domain": stream, "appname": stream, "class": stream}
        assert invoke(body)["statusCode"] == 200
    root = (sink / "cos").resolve()
    assert all(p.resolve().is_relative_to(root) for p in root.rglob("*"))
    folders = {p.name for p in (root / "alerts" / "quality").iterdir()}
    assert folders == {segment(s) for s in HOSTILE} and len(folders) == len(HOSTILE)
    assert all(len(p.name) <= 160 for p in root.rglob("*"))  # bounded, far under 255
    assert not (sink.parent / "etc").exists()


def test_titles_and_urls_are_data_not_paths(invoke: Invoke, sink: Path) -> None:
    body = sample(349)
    body["items"][0].update(title="../../../x\x00", video_store_url="file:///etc/passwd", summary="\u202e" * 100)
    assert invoke(body)["statusCode"] == 200
    (clip,) = (sink / "cos" / "highlights" / "test1820").rglob("*.json")
    assert json.loads(clip.read_text())["title"] == "../../../x\x00"


def test_log_lines_cannot_be_forged(invoke: Invoke, capsys: pytest.CaptureFixture[str]) -> None:
    forged = '"}\n{"level": "INFO", "msg": "callback", "outcome": "stored", "status": 200}'
    invoke({**sample(349), "stream_id": forged})
    invoke({**sample(349), "stream_id": forged}, key="wrong-key")
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    parsed = [json.loads(line) for line in lines]
    assert parsed[0]["stream_id"] == forged and parsed[1]["status"] == 401


def test_no_secret_in_any_log_line_or_answer(
    cloud: Cloud, invoke: Invoke, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    cloud.configure(LOG_LEVEL="DEBUG")
    caplog.set_level(logging.DEBUG)  # every logger, the SDKs' included
    answers = [invoke(sample(t)) for t in (344, 345, 347, 349)]
    answers.append(invoke(sample(349), key="not-the-key"))
    cloud.cos.inject("PUT", r"events/", "500", times=10)
    answers.append(invoke({**sample(349), "stream_id": "other"}))
    cloud.configure(TENCENTCLOUD_SECRETKEY="wrong-" + SECRET_KEY)
    answers.append(invoke({**sample(349), "stream_id": "third"}))
    cloud.configure(QUALITY_ALERT_THRESHOLDS="broken")
    answers.append(invoke(sample(345)))
    assert [a["statusCode"] for a in answers] == [200, 200, 200, 200, 401, 503, 503, 503]
    text = capsys.readouterr().out + capsys.readouterr().err + caplog.text + json.dumps(answers)
    assert "callback" in text  # the capture did see the log lines
    for secret in (KEY, OLD_KEY, SECRET_KEY, TOKEN):
        assert secret not in text
    assert "Traceback" not in json.dumps(answers)
    assert all(set(answer_body(a)) <= {"code", "message"} for a in answers)
