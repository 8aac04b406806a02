"""Every sample end to end through main_handler on the embedded local sink, and every status code."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

import index
from cssai import runtime
from cssai.identity import event_id, event_seconds
from cssai.ops import events
from cssai.signature import sign
from tests.conftest import KEY, OLD_KEY, SAMPLES, Invoke, answer_body, clip_key, local_records, sample, tree

EXPECTED = {
    0: ["streams/test_stream/2023-12-28/1703731606-2210464508206756938-stop-"],
    1: ["streams/test_stream/2023-12-28/1703731478-2210464508206756938-start-"],
    100: ["recordings/stream_test/2022-01-13/file-1234567890-"],  # dated by end_time: it has no event_time
    200: ["snapshots/your_streamid/2021-06-02/1622599925-"],
    314: ["relay/118148/2024-04-12/1712893433-TaskStart-"],
    315: ["moderation/xxxn01/undated/audio-"],  # the doc sample has create_time only inside its data
    317: ["moderation/teststream/2021-01-14/image-1610640000-"],
    321: ["alerts/push/teststream/2022-12-09/1670588074971-"],
    332: ["recordings/2991615887188599295/2023-11-17/status-1700207929-record_ended-"],
    338: ["transcripts/teststream/2025-08-08/live-7735333-123000-"],
    341: ["recordings/test_stream_35b4a6e6d4261/2025-02-19/exception-1739934527--201-"],
    343: ["alerts/quality/test/2025-05-21/qc-Blur-1747818881-"],
    348: ["summaries/test1820/2025-10-23/1761211980-1761212541-"],
    344: ["alerts/quality/livestream1/2025-07-10/"],
    345: ["reports/quality/livestream1/2025-07-10/", "alerts/quality/livestream1/2025-07-10/"],
    347: ["transcripts/teststream/2025-06-20/"],
    349: [clip_key(sample(349))],
}
RECORD_KINDS = {
    0: ["stream_end"], 1: ["stream_start"], 100: ["recording_file"], 200: ["snapshot"], 314: ["relay_event"],
    315: ["moderation"], 317: ["moderation"], 321: ["push_error", "push_error"], 332: ["recording_status"],
    338: ["live_subtitle"], 341: ["recording_exception"], 343: ["quality_control"], 348: ["live_summary"],
    344: ["quality_alert", "quality_frame", "quality_frame"],
    345: ["quality_report", "quality_alert", "quality_frame", "quality_frame"],
    347: ["subtitle", "keyword_hit"],
    349: ["highlight"],
}


@pytest.mark.parametrize("shape", ["apigw", "url", "direct"])
@pytest.mark.parametrize("event_type", sorted(SAMPLES))
def test_each_sample_is_stored(invoke: Invoke, sink: Path, event_type: int, shape: str) -> None:
    body = sample(event_type)
    answer = invoke(body, shape)
    if event_type == 314 and shape == "direct":  # never signed, and no URL to carry a token
        assert answer["statusCode"] == 401 and "314" in answer_body(answer)["message"]
        assert tree(sink) == {}
        return
    assert answer["statusCode"] == 200, answer
    assert answer["body"] == '{"code":0}'  # byte for byte what CSS's documentation suggests
    assert answer["headers"] == {"Content-Type": "application/json"} and answer["isBase64Encoded"] is False
    eid = event_id(body)
    files = tree(sink / "cos")
    archived = [k for k in files if k.startswith(f"events/{event_type}/") and k.endswith(f"/{eid}.json")]
    assert len(archived) == 1
    stored = json.loads(files[archived[0]])
    assert {k: v for k, v in stored.items() if k not in ("t", "sign")} == body  # the body as sent
    for prefix in EXPECTED[event_type]:
        assert any(k.startswith(prefix) for k in files), (prefix, list(files))
    records = local_records(sink)
    assert [r["kind"] for r in records] == RECORD_KINDS[event_type]
    assert all(r["event_id"] == eid and r["event_type"] == str(event_type) for r in records)
    stream = body.get("stream_id", body.get("streamId"))
    assert all(r["stream_id"] == stream for r in records)
    seconds = event_seconds(body) or 0  # every record carries the event's own time (0 when it has none)
    assert all(r["time_ms"] // 1000 == seconds for r in records if r["kind"] not in ("quality_frame", "subtitle",
                                                                                         "keyword_hit", "highlight"))


def test_archive_keeps_the_body_as_received(invoke: Invoke, sink: Path) -> None:
    raw = b'{"event_type":349,  "stream_id":"s1","items":[] ,"t":%d,"sign":"%s"}'
    t = 4_000_000_000 - 1
    payload = raw % (t, sign(KEY, t).encode())
    answer = index.main_handler(events.wrap(payload, "apigw"), {})
    assert answer["statusCode"] == 401  # t too far ahead: refused, nothing written
    assert tree(sink) == {}
    body = events.signed({"event_type": 349, "stream_id": "s1", "items": []}, KEY)
    text = json.dumps(body, indent=3).encode()
    assert index.main_handler(events.wrap(text, "url"), {})["statusCode"] == 200
    (archived,) = [v for k, v in tree(sink / "cos").items() if k.startswith("events/")]
    assert archived == text


@pytest.mark.parametrize("event_type", sorted(SAMPLES))
def test_redelivery_writes_nothing_new(invoke: Invoke, sink: Path, event_type: int) -> None:
    body = sample(event_type)
    assert invoke(body)["statusCode"] == 200
    before, records = tree(sink), local_records(sink)
    again = invoke(body, "url", key=OLD_KEY)  # re-signed with another key, another shape
    assert again["statusCode"] == 200
    assert tree(sink) == before
    assert local_records(sink) == records


def test_base64_bodies(invoke: Invoke, sink: Path) -> None:
    assert invoke(sample(349), "apigw", base64_body=True)["statusCode"] == 200
    assert invoke(sample(344), "url", base64_body=True)["statusCode"] == 200
    assert len(local_records(sink)) == 4


def test_unknown_event_type_is_archived_and_acknowledged(invoke: Invoke, sink: Path) -> None:
    body = {"event_type": 999, "stream_id": "x", "payload": [1, 2]}
    assert invoke(body)["statusCode"] == 200
    files = tree(sink / "cos")
    assert [k.split("/")[:2] for k in files if not k.startswith("markers/")] == [["events", "999"]]
    assert local_records(sink) == []


def test_invalid_event_is_dead_lettered_with_reason_and_422(invoke: Invoke, sink: Path) -> None:
    body = {**sample(349), "items": [{"begin_time": "soon", "end_time": 2}]}
    answer = invoke(body)
    assert answer["statusCode"] == 422
    message = answer_body(answer)
    assert message["code"] == 422 and "items.0.begin_time" in message["message"]
    files = tree(sink / "cos")
    (letter_key,) = [k for k in files if k.startswith("deadletter/")]
    letter = json.loads(files[letter_key])
    assert letter["event_id"] == event_id(body) and "begin_time" in letter["reason"]
    assert letter["event"]["items"][0]["begin_time"] == "soon"
    assert any(k.startswith("events/349/") for k in files)
    assert local_records(sink) == []
    assert invoke(body)["statusCode"] == 422  # a redelivery gets the same answer, writes nothing
    assert tree(sink / "cos") == files


def test_get_is_a_health_check_and_other_methods_are_405(sink: Path) -> None:
    health = index.main_handler(events.wrap(b"", "apigw", method="GET"), {})
    assert health["statusCode"] == 200 and answer_body(health)["status"] == "ok"
    for method in ("PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"):
        answer = index.main_handler(events.wrap(sample(349), "url", method=method), {})
        assert answer["statusCode"] == 405
        assert answer_body(answer)["code"] == 405
    assert tree(sink) == {}


@pytest.mark.parametrize(
    "event",
    [
        {"httpMethod": "POST", "headers": {}, "body": "[1,2]", "requestContext": {}},
        {"httpMethod": "POST", "headers": {}, "body": '{"a": NaN}', "requestContext": {}},
        {"httpMethod": "POST", "headers": {}, "body": "{bad json", "requestContext": {}},
        {"httpMethod": "POST", "headers": {}, "body": "not base64!", "isBase64Encoded": True},
        {"httpMethod": "POST", "body": base64.b64encode(b'{"a":"\xff"}').decode(), "isBase64Encoded": True},
        {"httpMethod": "POST", "headers": {}, "body": {"event_type": 349}},
        {"httpMethod": "POST", "headers": "x", "body": "{}"},
        {"httpMethod": 7, "body": "{}"},
        {"something": "else"},
        {"httpMethod": "POST", "headers": {}, "body": "\ud800", "requestContext": {}},
    ],
)
def test_malformed_requests_are_400(sink: Path, event: dict) -> None:
    answer = index.main_handler(event, {})
    assert answer["statusCode"] == 400, answer
    assert answer_body(answer)["code"] == 400 and answer_body(answer)["message"]
    assert tree(sink) == {}


def test_non_dict_event_is_400(sink: Path) -> None:
    for event in (None, [], "text", 5):
        assert index.main_handler(event, {})["statusCode"] == 400
    assert tree(sink) == {}


def test_oversize_body_is_413(sink: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = events.signed({"event_type": 349, "stream_id": "s", "pad": "x" * (6 * 1024 * 1024)}, KEY)
    for shape in ("apigw", "url", "direct"):
        assert index.main_handler(events.wrap(big, shape), {})["statusCode"] == 413
    assert index.main_handler(events.wrap(big, "apigw", base64_body=True), {})["statusCode"] == 413
    monkeypatch.setenv("MAX_BODY_BYTES", "2048")
    runtime.reset()
    small = events.signed({"event_type": 349, "stream_id": "s", "pad": "x" * 3000}, KEY)
    assert index.main_handler(events.wrap(small, "url"), {})["statusCode"] == 413
    assert tree(sink) == {}


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b.pop("sign"),
        lambda b: b.pop("t"),
        lambda b: b.update(sign=b["sign"].upper()),
        lambda b: b.update(sign=b["sign"][:16]),
        lambda b: b.update(sign=sign("wrong-key", b["t"])),
        lambda b: b.update(t=b["t"] + 1),
        lambda b: b.update(t=str(b["t"])),
        lambda b: b.update(t=1_000_000_000, sign=sign(KEY, 1_000_000_000)),
        lambda b: b.update(t=b["t"] + 3600, sign=sign(KEY, b["t"] + 3600)),
    ],
)
def test_bad_signatures_are_401_and_write_nothing(sink: Path, mutate) -> None:
    body = events.signed(sample(344), KEY)
    mutate(body)
    answer = index.main_handler(events.wrap(body, "apigw"), {})
    assert answer["statusCode"] == 401
    assert answer_body(answer)["code"] == 401
    assert tree(sink) == {}


def test_fail_closed_without_keys(sink: Path, monkeypatch: pytest.MonkeyPatch, invoke: Invoke) -> None:
    monkeypatch.delenv("CSS_CALLBACK_KEYS")
    runtime.reset()
    answer = invoke(sample(349), key="")
    assert answer["statusCode"] == 401 and "CSS_CALLBACK_KEYS" in answer_body(answer)["message"]
    assert tree(sink) == {}


def test_storage_failure_is_503_and_acknowledges_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          invoke: Invoke) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the sink folder should be")
    monkeypatch.setenv("LOCAL_SINK_DIR", str(blocker))
    runtime.reset()
    answer = invoke(sample(349))
    assert answer["statusCode"] == 503
    assert answer_body(answer)["code"] == 503
    assert blocker.read_text().startswith("a file")


def test_bad_settings_answer_503_naming_the_variable(monkeypatch: pytest.MonkeyPatch, invoke: Invoke) -> None:
    monkeypatch.setenv("QUALITY_ALERT_THRESHOLDS", "VMAF=high")
    runtime.reset()
    answer = invoke(sample(345))
    assert answer["statusCode"] == 503
    assert "QUALITY_ALERT_THRESHOLDS" in answer_body(answer)["message"]


def test_thresholds_from_settings_drive_345_alerts(monkeypatch: pytest.MonkeyPatch, sink: Path,
                                                  invoke: Invoke) -> None:
    monkeypatch.setenv("QUALITY_ALERT_THRESHOLDS", "PSNR=20")
    runtime.reset()
    assert invoke(sample(345))["statusCode"] == 200
    assert not any(k.startswith("alerts/") for k in tree(sink / "cos"))


def test_source_allowlist(monkeypatch: pytest.MonkeyPatch, sink: Path, invoke: Invoke) -> None:
    monkeypatch.setenv("CALLBACK_ALLOWED_CIDRS", "10.0.0.0/8")
    runtime.reset()
    assert invoke(sample(349), "apigw", source_ip="203.0.113.9")["statusCode"] == 403
    assert invoke(sample(349), "url", source_ip="203.0.113.9")["statusCode"] == 403
    assert tree(sink) == {}
    assert invoke(sample(349), "url", source_ip="10.1.2.3")["statusCode"] == 200


def test_hostile_stream_ids_stay_inside_the_sink(sink: Path, invoke: Invoke) -> None:
    for stream in ["../../escape", "/abs", "a\\b", "nul\x00", "..", "\u202e", "x" * 10_000]:
        body = {**sample(349), "stream_id": stream}
        assert invoke(body)["statusCode"] == 200
    root = (sink / "cos").resolve()
    for path in sink.rglob("*"):
        assert path.resolve().is_relative_to(sink.resolve())
    highlight_dirs = {p.parent.parent.name for p in (root / "highlights").rglob("*.json")}
    assert len(highlight_dirs) == 7
    assert not (sink.parent / "escape").exists()


def test_handler_never_raises_on_garbage(sink: Path) -> None:
    for event in ({"httpMethod": "POST", "body": None}, {"event_type": float("nan")}, {"event_type": 349, "t": {}}):
        answer = index.main_handler(event, None)
        assert answer["statusCode"] in (400, 401)
