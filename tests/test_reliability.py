"""Issue-11 guarantees beyond crashes: bounded writes, odd text, late answers, header tricks, CLS refusals."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import index
from cssai import runtime
from cssai.executor import marker_key, refused_key
from cssai.identity import event_id
from cssai.ops import events
from handlers.highlight import MAX_CLIP_OBJECTS
from tests.conftest import KEY, Cloud, Invoke, answer_body, clip_key, local_records, sample, tree


def many_items(count: int) -> dict:
    body = sample(349)
    item = body["items"][0]
    body["items"] = [{**item, "begin_time": item["begin_time"] + 60 * i, "end_time": item["end_time"] + 60 * i}
                     for i in range(count)]
    return body


@pytest.mark.parametrize("count", [MAX_CLIP_OBJECTS, MAX_CLIP_OBJECTS + 1, 5_000])
def test_object_writes_per_event_are_bounded(cloud: Cloud, invoke: Invoke, count: int) -> None:
    body = many_items(count)
    assert invoke(body)["statusCode"] == 200
    puts = [t for m, t, s in cloud.cos.log if m == "PUT" and ".claim-" not in t]
    assert len(puts) <= MAX_CLIP_OBJECTS + 2  # clips (or one object of them), the archive, the marker
    assert len(cloud.records()) == count  # every item is still a CLS record
    clips = [k for k in cloud.objects() if k.startswith("highlights/")]
    if count <= MAX_CLIP_OBJECTS:
        assert clip_key(body) in clips and len(clips) == count
    else:
        (one,) = clips
        assert one.endswith(f"/clips-{event_id(body)[:16]}.json")
        assert json.loads(cloud.objects()[one])["count"] == count


def test_same_times_in_two_different_events_never_collide(invoke: Invoke, sink: Path) -> None:
    first = sample(349)
    second = {**sample(349), "domain": "another.push.domain"}
    assert invoke(first)["statusCode"] == 200 and invoke(second)["statusCode"] == 200
    files = tree(sink / "cos")
    assert clip_key(first) in files and clip_key(second) in files and clip_key(first) != clip_key(second)
    assert json.loads(files[clip_key(second)])["domain"] == "another.push.domain"


def test_lone_surrogates_are_stored_replaced_and_logged(invoke: Invoke, sink: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    body = sample(347)
    body["stream_id"] = "s\ud83d"
    body["data"]["subtitle_tmp_res"][0]["src_txt"] = "lone \ud83d here, a pair \ud83d\ude00 there"
    signed = events.signed(body, KEY)
    raw = json.dumps(signed).encode()  # ensure_ascii: the surrogate travels as the escape "\\ud83d"
    answer = index.main_handler(events.wrap(raw, "url"), None)
    assert answer["statusCode"] == 200, answer
    files = tree(sink / "cos")
    (archived,) = [v for k, v in files.items() if k.startswith("events/")]
    assert archived == raw  # byte for byte
    (vtt,) = [v.decode() for k, v in files.items() if k.endswith(".vtt")]
    assert "lone \ufffd here, a pair \U0001f600 there" in vtt
    (transcript,) = [json.loads(v) for k, v in files.items() if k.startswith("transcripts/") and k.endswith(".json")]
    assert transcript["stream_id"] == "s\ufffd"
    assert local_records(sink)[0]["text"].startswith("lone \ufffd here")
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["outcome"] == "stored" and "U+FFFD" in line["invalid_unicode"] and line["stream_id"] == "s\ufffd"


def test_lone_surrogates_reach_cls_replaced(cloud: Cloud, invoke: Invoke) -> None:
    body = sample(349)
    body["items"][0]["title"] = "bad \udc00 title"
    assert invoke(body)["statusCode"] == 200
    assert cloud.records()[0]["title"] == "bad \ufffd title"


@pytest.mark.parametrize(("limit", "hang"), [
    (1.5, ("PUT", r"highlights/")), (2.0, ("PUT", r"events/")), (3.0, ("POST", r"topic")),
    (5.0, ("PUT", r"markers/\w+/\w+\.json$")), (1.5, ("POST", r"topic")), (1.5, ("PUT", r"\.claim-0\.json$")),
])
def test_every_answer_comes_before_the_scf_time_limit(cloud: Cloud, invoke: Invoke, limit: float,
                                                      hang: tuple[str, str]) -> None:
    cloud.configure(REQUEST_TIMEOUT_SECONDS="10")
    method, pattern = hang
    (cloud.cls if method == "POST" else cloud.cos).inject(method, pattern, "hang", times=50, delay=15)
    started = time.monotonic()
    answer = invoke({**sample(349), "stream_id": f"hang-{limit}-{method}"}, context={"time_limit_in_ms": limit * 1000})
    took = time.monotonic() - started
    assert answer["statusCode"] == 503
    assert took < limit, (took, limit)  # claim release included


def test_conflicting_copies_of_the_address_header_are_refused_with_an_allowlist(
    monkeypatch: pytest.MonkeyPatch, sink: Path
) -> None:
    monkeypatch.setenv("CALLBACK_ALLOWED_CIDRS", "10.0.0.0/8")
    runtime.reset()
    event = events.wrap(events.signed(sample(349), KEY), "url", source_ip="203.0.113.9")
    event["headers"]["X-SCF-Remote-Addr"] = "10.1.2.3"  # a second copy that would pass
    assert index.main_handler(event, None)["statusCode"] == 403
    event["headers"] = {"x-scf-remote-addr": "10.1.2.3", "X-SCF-REMOTE-ADDR": "10.1.2.3"}  # agreeing copies
    assert index.main_handler(event, None)["statusCode"] == 200
    monkeypatch.delenv("CALLBACK_ALLOWED_CIDRS")
    runtime.reset()
    event = events.wrap(events.signed(sample(344), KEY), "url", source_ip="203.0.113.9")
    event["headers"]["X-SCF-Remote-Addr"] = "10.1.2.3"
    assert index.main_handler(event, None)["statusCode"] == 200  # no allowlist: the address does not matter


@pytest.mark.parametrize("code", ["FailedOperation.WriteQpsLimit", "FailedOperation.WriteTrafficLimit"])
def test_cls_throttling_is_retried(cloud: Cloud, invoke: Invoke, code: str) -> None:
    cloud.cls.refuse[cloud.cls_topic] = code
    threading_timer = __import__("threading").Timer(0.08, lambda: cloud.cls.refuse.clear())
    threading_timer.start()
    cloud.configure(WRITE_ATTEMPTS="5")
    assert invoke(sample(344))["statusCode"] == 200
    threading_timer.join()
    assert len(cloud.records()) == 3 and len(cloud.cls.log) >= 2


@pytest.mark.parametrize("code", ["LimitExceeded.LogSize", "InvalidParameter.Content", "FailedOperation.TopicClosed"])
def test_a_permanent_cls_refusal_keeps_the_records_in_cos_and_answers_200(
    cloud: Cloud, invoke: Invoke, capsys: pytest.CaptureFixture[str], code: str
) -> None:
    cloud.cls.refuse[cloud.cls_topic] = code
    body = sample(345)
    assert invoke(body)["statusCode"] == 200
    assert len(cloud.cls.log) == 1  # not retried
    eid = event_id(body)
    letter = json.loads(cloud.objects()[refused_key("2025-07-10", eid, 0)])
    assert code in letter["error"] and len(letter["records"]) == 4 and letter["common"]["event_id"] == eid
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["level"] == "ERROR" and line["outcome"] == "stored" and code in line["cls_refused"][0]
    assert invoke(body)["statusCode"] == 200  # a redelivery is a duplicate: the marker was written


def test_cls_credentials_failure_is_503_not_retried(cloud: Cloud, invoke: Invoke,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    cloud.cls.secret_key = "rotated-elsewhere"
    answer = invoke(sample(349))
    assert answer["statusCode"] == 503 and answer_body(answer)["code"] == 503
    assert "AuthFailure.SignatureFailure" in capsys.readouterr().out
    assert len(cloud.cls.log) == 1


@pytest.mark.parametrize("code", ["InvalidParameter.SomethingNew", "InvalidParameterValue.Other", "MissingParameter",
                                  "UnsupportedOperation.New", "ResourceNotFound.TopicNotExist",
                                  "OperationDenied.AccountIsolate"])
def test_a_refusal_of_a_documented_family_is_dead_lettered_not_retried_forever(cloud: Cloud, invoke: Invoke,
                                                                               code: str) -> None:
    cloud.cls.refuse[cloud.cls_topic] = code
    body = sample(345)
    assert invoke(body)["statusCode"] == 200
    assert len(cloud.cls.log) == 1
    assert code in json.loads(cloud.objects()[refused_key("2025-07-10", event_id(body), 0)])["error"]


@pytest.mark.parametrize("code", ["InternalError.ServerBusy", "RequestLimitExceeded", "FailedOperation.Timeout",
                                  "ResourceUnavailable", "FailedOperation.SomethingNew", "InvalidParameterish"])
def test_anything_else_cls_says_is_retried_then_503(cloud: Cloud, invoke: Invoke, code: str) -> None:
    cloud.cls.refuse[cloud.cls_topic] = code
    cloud.configure(WRITE_ATTEMPTS="2")
    assert invoke(sample(345))["statusCode"] == 503
    assert len(cloud.cls.log) == 2 and not [k for k in cloud.objects() if k.startswith("deadletter/")]


@pytest.mark.parametrize("code", ["OperationAborted", "PathConflict"])
@pytest.mark.parametrize("target", ["events/", "highlights/"])
def test_only_file_already_exists_means_exists(cloud: Cloud, invoke: Invoke, code: str, target: str) -> None:
    """Any other 409 on a create-if-absent put is a failed write: never a 200 with the object missing."""
    cloud.configure(WRITE_ATTEMPTS="1")
    cloud.cos.inject("PUT", target, f"409/{code}")
    body = sample(349)
    first = invoke(body)
    assert first["statusCode"] == 503
    assert marker_key(event_id(body)) not in cloud.objects()
    assert invoke(body)["statusCode"] == 200  # CSS retries: now stored whole
    stored = cloud.objects()
    assert any(k.startswith("events/349/") for k in stored) and clip_key(body) in stored
