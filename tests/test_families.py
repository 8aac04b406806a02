"""The families beyond the first four: what real traffic sends, relay authentication, a passed t, JSON in strings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import index
from cssai import auth, runtime
from cssai.identity import event_id
from cssai.ops import events
from tests.conftest import KEY, RELAY_TOKEN, Invoke, answer_body, local_records, sample, tree

VARIANTS = json.loads((Path(__file__).parent / "events" / "real_variants.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("variant", VARIANTS["variants"], ids=[v["name"] for v in VARIANTS["variants"]])
def test_what_real_traffic_sends_is_never_refused(invoke: Invoke, sink: Path, variant: dict[str, Any]) -> None:
    body = variant["body"]
    answer = invoke(body)
    assert answer["statusCode"] == 200, (variant["why"], answer)
    assert not (sink / "cos" / "deadletter").exists()
    eid = event_id(body)
    records = [r for r in local_records(sink) if r["event_id"] == eid]
    assert records and all("stream_id" in r and r["event_type"] == str(body["event_type"]) for r in records)


def stored(sink: Path, top: str) -> dict[str, Any]:
    (doc,) = [json.loads(v) for k, v in tree(sink / "cos").items() if k.startswith(top) and k.endswith(".json")]
    return doc


def test_json_inside_a_string_is_parsed_or_kept_as_sent(invoke: Invoke, sink: Path) -> None:
    good = {**sample(100), "callback_ext": '{"video_codec":"h264","session_id":"77"}'}
    assert invoke(good)["statusCode"] == 200
    assert stored(sink, "recordings/")["callback_ext"] == {"video_codec": "h264", "session_id": "77"}
    assert [r["session_id"] for r in local_records(sink)] == ["77"]
    bad = {**sample(332), "record_detail": '{"file_format":2'}
    assert invoke(bad)["statusCode"] == 200
    status = next(json.loads(v) for k, v in tree(sink / "cos").items() if "/status-" in k)
    assert status["record_detail"] == '{"file_format":2'  # kept as the raw string
    assert invoke(sample(314))["statusCode"] == 200
    relay = stored(sink, "relay/")
    assert relay["msg"] == {"task_start_time": 0} and relay["source_urls"][0].endswith("playlist.m3u8")


def test_a_recording_file_is_dated_by_its_end_time_and_knows_where_its_content_starts(invoke: Invoke,
                                                                                      sink: Path) -> None:
    assert invoke(sample(100))["statusCode"] == 200
    doc = stored(sink, "recordings/")
    assert doc["content_start_time"] == sample(100)["end_time"] - sample(100)["duration"]
    assert any(k.startswith("events/100/2022-01-13/") for k in tree(sink / "cos"))


def test_recording_failures_are_also_filed_as_alerts(invoke: Invoke, sink: Path) -> None:
    assert invoke({**sample(332), "record_event": "record_start_failed"})["statusCode"] == 200
    assert invoke({**sample(341), "exception_level": "error"})["statusCode"] == 200
    assert invoke(sample(341))["statusCode"] == 200  # level info: a recording object, no alert
    alerts = [k for k in tree(sink / "cos") if k.startswith("alerts/recording/")]
    assert len(alerts) == 2
    marked = [r for r in local_records(sink) if r.get("alert") == "recording_error"]
    assert sorted(r["kind"] for r in marked) == ["recording_exception", "recording_status"]


# Relay callbacks (314): the URL token alone --------------------------------------------------------------------


def relay_request(token: str | None, shape: str = "url", body: dict | None = None) -> dict[str, Any]:
    query = {"token": token} if token is not None else None
    return index.main_handler(events.wrap(body or sample(314), shape, query=query), None)


def test_a_relay_callback_is_admitted_by_the_token_alone_even_with_keys(monkeypatch: pytest.MonkeyPatch,
                                                                       sink: Path) -> None:
    monkeypatch.setenv("CALLBACK_URL_TOKENS", RELAY_TOKEN)
    runtime.reset()
    assert relay_request(RELAY_TOKEN)["statusCode"] == 200  # no t/sign, keys set
    assert relay_request("wrong-token-000000000")["statusCode"] == 401
    assert relay_request(None)["statusCode"] == 401
    unsigned = {**sample(349)}  # the token alone admits relay callbacks, nothing else
    assert relay_request(RELAY_TOKEN, body=unsigned)["statusCode"] == 401


def test_without_a_token_a_relay_callback_is_refused_saying_why(sink: Path) -> None:
    answer = relay_request("anything")
    assert answer["statusCode"] == 401 and answer_body(answer)["message"] == auth.RELAY_NEEDS_TOKEN
    direct = index.main_handler(sample(314), None)
    assert direct["statusCode"] == 401 and answer_body(direct)["message"] == auth.RELAY_DIRECT
    assert tree(sink) == {}


# A passed t: CSS's late retries -----------------------------------------------------------------------------------


@pytest.mark.parametrize("grace,late,status", [("300", 200, 200), ("300", 299, 200), ("300", 330, 401),
                                               ("0", 5, 401), (None, 280, 200)])
def test_a_late_retry_within_the_grace_is_stored(monkeypatch: pytest.MonkeyPatch, sink: Path, grace: str | None,
                                                 late: int, status: int) -> None:
    if grace is not None:
        monkeypatch.setenv("CALLBACK_T_GRACE_SECONDS", grace)
        runtime.reset()
    body = events.signed(sample(1), KEY, valid_for=-late)  # t passed `late` seconds ago, the sign is right
    answer = index.main_handler(events.wrap(body, "url"), None)
    assert answer["statusCode"] == status
    if status == 401:
        assert "t has expired" in answer_body(answer)["message"]


def test_a_grace_beyond_its_bound_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLBACK_T_GRACE_SECONDS", "3600")
    runtime.reset()
    answer = index.main_handler(events.wrap(events.signed(sample(1), KEY), "url"), None)
    assert answer["statusCode"] == 503 and "CALLBACK_T_GRACE_SECONDS" in answer_body(answer)["message"]
