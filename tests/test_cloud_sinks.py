"""The real COS and CLS SDKs, unchanged, over HTTP to local servers that check their signatures."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from cssai import runtime
from cssai.executor import marker_key
from cssai.identity import event_id
from cssai.ops import events
from cssai.sinks.cls import MAX_LOGS, ClsLogs
from cssai.writes import record
from tests.conftest import (
    BUCKET,
    KEY,
    SAMPLES,
    SECRET_ID,
    SECRET_KEY,
    TOKEN,
    Cloud,
    Invoke,
    answer_body,
    clip_key,
    local_records,
    sample,
    tree,
)


@pytest.mark.parametrize("event_type", sorted(SAMPLES))
def test_samples_land_in_cos_and_cls_as_the_local_sink_has_them(
    cloud: Cloud, invoke: Invoke, sink: Path, monkeypatch: pytest.MonkeyPatch, event_type: int
) -> None:
    body = events.signed(sample(event_type), KEY)  # one signature: the archives must match byte for byte
    assert invoke(body, sign=False)["statusCode"] == 200
    cloud_objects, cloud_records = cloud.objects(), cloud.records()
    for name in ("COS_BUCKET", "CLS_TOPIC_ID"):
        monkeypatch.delenv(name)
    runtime.reset()
    assert invoke(body, sign=False)["statusCode"] == 200

    def settled(objects: dict[str, bytes]) -> dict[str, bytes]:  # claims hold a lease time
        return {k: v for k, v in objects.items() if ".claim-" not in k}

    assert settled(cloud_objects) == settled(tree(sink / "cos"))
    assert cloud_records == local_records(sink)
    assert len(cloud.cls.uploads) == 1  # one upload per event


def test_objects_carry_content_type_event_id_and_prefix(cloud: Cloud, invoke: Invoke) -> None:
    cloud.configure(COS_PREFIX="css/")
    body = sample(347)
    assert invoke(body)["statusCode"] == 200
    eid = event_id(body)
    stored = {k: o for (b, k), o in cloud.cos.objects.items() if b == BUCKET}
    assert all(k.startswith("css/") for k in stored)
    vtt = next(o for k, o in stored.items() if k.endswith(".vtt"))
    assert vtt.headers["content-type"].startswith("text/vtt")
    assert all(o.headers["x-cos-meta-event-id"] == eid for o in stored.values())
    assert f"css/{marker_key(eid)}" in stored


def test_redelivery_is_one_read_and_writes_nothing(cloud: Cloud, invoke: Invoke) -> None:
    body = sample(349)
    assert invoke(body)["statusCode"] == 200
    runtime.reset()  # the redelivery reaches another container

    def data_writes() -> dict[str, int]:  # claims are bookkeeping: the data and the marker matter here
        return {k: o.writes for (b, k), o in cloud.cos.objects.items() if ".claim-" not in k}

    writes = data_writes()
    log_size = len(cloud.cos.log)
    assert invoke(body, shape="url")["statusCode"] == 200
    assert data_writes() == writes
    new = cloud.cos.log[log_size:]
    assert [(m, s) for m, _, s in new if m == "GET"] == [("GET", 200)]
    assert all(s == 409 for m, _, s in new if m == "PUT")  # refused by forbid-overwrite
    assert len(cloud.cls.uploads) == 1


def test_a_redelivery_to_the_same_container_costs_no_request(cloud: Cloud, invoke: Invoke) -> None:
    body = sample(344)
    assert invoke(body)["statusCode"] == 200
    requests = len(cloud.cos.log) + len(cloud.cls.log)
    assert invoke(body, shape="url")["statusCode"] == 200
    assert len(cloud.cos.log) + len(cloud.cls.log) == requests  # it stored the marker itself: a duplicate


def test_a_lost_marker_read_on_a_redelivery_is_retried(cloud: Cloud, invoke: Invoke) -> None:
    body = sample(347)
    assert invoke(body)["statusCode"] == 200
    runtime.reset()  # another container
    cloud.cos.inject("GET", r"markers/\w+/\w+\.json$", "lost", times=1)
    assert invoke(body)["statusCode"] == 200
    assert len(cloud.records()) == 2  # one upload: the redelivery read the marker and stored nothing


STEPS = {
    "marker read": ("GET", r"markers/"),
    "claim": ("PUT", r"\.claim-\d+\.json$"),
    "archive": ("PUT", r"events/"),
    "derived object": ("PUT", r"highlights/"),
    "cls upload": ("POST", r"topic"),
    "marker write": ("PUT", r"markers/\w+/\w+\.json$"),
}


@pytest.mark.parametrize("kind", ["500", "drop"])
@pytest.mark.parametrize("step", sorted(STEPS))
def test_failing_twice_then_healthy_completes_on_the_third_delivery(
    cloud: Cloud, invoke: Invoke, step: str, kind: str
) -> None:
    cloud.configure(WRITE_ATTEMPTS="1")
    method, pattern = STEPS[step]
    server = cloud.cls if method == "POST" else cloud.cos
    server.inject(method, pattern, kind, times=2)
    body = sample(349)
    # a failed claim write is read back and tried again within the same delivery; a fresh event never
    # reads its marker (it created claim 0, so none can exist)
    expected = [200, 200, 200] if step in ("claim", "marker read") else [503, 503, 200]
    assert [invoke(body)["statusCode"] for _ in range(3)] == expected
    objects = cloud.objects()
    assert clip_key(body) in objects
    assert marker_key(event_id(body)) in objects
    assert all(o.writes == 1 for (b, k), o in cloud.cos.objects.items() if not k.startswith("markers/"))
    expected_records = 3 if step == "marker write" else 1  # the one duplicate window: CLS ok, marker failed
    assert len(cloud.records()) == expected_records


def test_in_process_retries_absorb_transient_faults(cloud: Cloud, invoke: Invoke) -> None:
    cloud.cos.inject("PUT", r"highlights/", "503", times=2)
    cloud.cls.inject("POST", r"topic", "500", times=2)
    assert invoke(sample(349))["statusCode"] == 200
    assert len(cloud.records()) == 1


def test_hanging_server_answers_503_before_the_deadline(cloud: Cloud, invoke: Invoke) -> None:
    cloud.configure(DEADLINE_SECONDS="1", REQUEST_TIMEOUT_SECONDS="5")
    cloud.cos.inject("PUT", r"events/", "hang", times=5, delay=10)
    started = time.monotonic()
    answer = invoke(sample(344))
    elapsed = time.monotonic() - started
    assert answer["statusCode"] == 503
    assert elapsed < 1.5
    assert cloud.records() == []


def test_context_time_limit_shortens_the_deadline(cloud: Cloud, invoke: Invoke) -> None:
    cloud.cls.inject("POST", r"topic", "hang", times=5, delay=10)
    started = time.monotonic()
    answer = invoke(sample(349), context={"time_limit_in_ms": 2000})
    assert answer["statusCode"] == 503
    assert time.monotonic() - started < 1.5


def test_wrong_credentials_are_503_with_a_clear_log_line(
    cloud: Cloud, invoke: Invoke, capsys: pytest.CaptureFixture[str]
) -> None:
    cloud.configure(TENCENTCLOUD_SECRETKEY="not-the-right-key")
    answer = invoke(sample(349))
    assert answer["statusCode"] == 503
    out = capsys.readouterr().out
    line = json.loads(out.strip().splitlines()[-1])
    assert line["status"] == 503 and "HTTP 403" in line["error"] and "credentials" in line["error"]
    assert "not-the-right-key" not in out and TOKEN not in out
    assert cloud.objects() == {}


def test_cls_auth_failure_is_503_not_retried(cloud: Cloud, invoke: Invoke, capsys: pytest.CaptureFixture[str]) -> None:
    cloud.cls.secret_key = "rotated-elsewhere"
    answer = invoke(sample(349))
    assert answer["statusCode"] == 503
    assert "AuthFailure.SignatureFailure" in capsys.readouterr().out
    assert len(cloud.cls.log) == 1  # an auth failure is final: not retried


def test_rotated_role_credentials_are_picked_up_without_a_restart(cloud: Cloud, invoke: Invoke) -> None:
    assert invoke(sample(344))["statusCode"] == 200
    for server in (cloud.cos, cloud.cls):
        server.secret_id, server.secret_key, server.token = "AKIDrotated", "rotated-key", "rotated-token"
    cloud.monkeypatch.setenv("TENCENTCLOUD_SECRETID", "AKIDrotated")
    cloud.monkeypatch.setenv("TENCENTCLOUD_SECRETKEY", "rotated-key")
    cloud.monkeypatch.setenv("TENCENTCLOUD_SESSIONTOKEN", "rotated-token")
    assert invoke(sample(349))["statusCode"] == 200  # same runtime, new keys
    assert len(cloud.cls.uploads) == 2


def test_huge_event_is_split_within_cls_limits(cloud: Cloud, invoke: Invoke) -> None:
    body = {**sample(344), "frames": [{"score": 20.0 + i % 7, "time": 1752130785280 + i} for i in range(25_000)]}
    assert invoke(body)["statusCode"] == 200
    sizes = sorted(len(batch) for _, batch in cloud.cls.uploads)
    assert sizes == [5001, MAX_LOGS, MAX_LOGS]
    assert len(cloud.records()) == 25_001


def test_batches_respect_the_byte_limit(cloud: Cloud) -> None:
    logs = ClsLogs(runtime.current().settings)
    big = [record(1, kind="subtitle", text="x" * 600_000) for _ in range(20)]
    batches = list(logs.batches(big))
    assert len(batches) > 1 and sum(len(b) for b in batches) == 20
    assert all(sum(len(r.fields["text"]) for r in b) <= 4 * 1024 * 1024 for b in batches)
    assert list(logs.batches([])) == []


def test_only_cos_or_only_cls(cloud: Cloud, invoke: Invoke, sink: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLS_TOPIC_ID")
    runtime.reset()
    assert invoke(sample(349))["statusCode"] == 200
    assert cloud.objects() and local_records(sink) and not cloud.records()
    monkeypatch.setenv("CLS_TOPIC_ID", "topic-0000-1111")
    monkeypatch.delenv("COS_BUCKET")
    runtime.reset()
    assert invoke(sample(344))["statusCode"] == 200
    assert len(cloud.records()) == 3 and (sink / "cos" / "events" / "344").is_dir()


def test_media_copy_from_an_allowlisted_bucket(cloud: Cloud, invoke: Invoke) -> None:
    cloud.configure(MEDIA_COPY="true", MEDIA_COPY_SOURCE_HOSTS="your.cos.ap-nanjing.myqcloud.com")
    body = sample(349)
    source_key = body["items"][0]["video_store_url"].split(".myqcloud.com/", 1)[1]
    cloud.cos.seed("your", source_key, b"fake mp4 bytes")
    assert invoke(body)["statusCode"] == 200
    assert cloud.objects()[clip_key(body, ".mp4")] == b"fake mp4 bytes"


def test_media_copy_needs_cos(monkeypatch: pytest.MonkeyPatch, invoke: Invoke) -> None:
    monkeypatch.setenv("MEDIA_COPY", "true")
    monkeypatch.setenv("MEDIA_COPY_SOURCE_HOSTS", "your.cos.ap-nanjing.myqcloud.com")
    runtime.reset()
    answer = invoke(sample(349))
    assert answer["statusCode"] == 503 and "MEDIA_COPY" in answer_body(answer)["message"]


def test_secret_key_never_reaches_the_wire(cloud: Cloud, invoke: Invoke) -> None:
    assert invoke(sample(345))["statusCode"] == 200
    raw = json.dumps([o.headers for o in cloud.cos.objects.values()])
    assert SECRET_KEY not in raw


@pytest.mark.parametrize(
    ("method", "pattern"),
    [("PUT", r"\.claim-0\.json$"), ("PUT", r"highlights/"), ("POST", r"topic"), ("PUT", r"markers/\w+/\w+\.json$")],
)
def test_every_hang_answers_503_before_the_deadline(cloud: Cloud, invoke: Invoke, method: str, pattern: str) -> None:
    cloud.configure(DEADLINE_SECONDS="1", REQUEST_TIMEOUT_SECONDS="5")
    server = cloud.cls if method == "POST" else cloud.cos
    server.inject(method, pattern, "hang", times=100, delay=10)
    for n in range(3):
        started = time.monotonic()
        answer = invoke({**sample(349), "stream_id": f"hang-{n}"})
        assert answer["statusCode"] == 503
        assert time.monotonic() - started < 1.0 + 1.0 + 0.5  # the deadline, plus the claim release budget


def test_slow_answers_past_the_request_timeout_are_retried(cloud: Cloud, invoke: Invoke) -> None:
    cloud.configure(REQUEST_TIMEOUT_SECONDS="0.3")
    cloud.cos.inject("PUT", r"events/", "slow", times=1, delay=0.6)
    cloud.cls.inject("POST", r"topic", "slow", times=1, delay=0.6)
    assert invoke(sample(349))["statusCode"] == 200
    assert len(cloud.records()) in (1, 2)  # a timed-out upload may still have landed: the CLS window


def test_the_upload_is_the_request_cls_client_sends(cloud: Cloud) -> None:
    """CommonClient.call_octet_stream (the sink) and ClsClient.UploadLog build the same request."""
    from tencentcloud.cls.v20201016 import cls_client, models
    from tencentcloud.common.credential import Credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile

    from cssai.settings import load
    from cssai.sinks.cls import encode

    batch = [record(1_752_130_787_000, kind="test", stream_id="s1")]
    ClsLogs(load()).upload(batch, {"event_id": "e1"})
    profile = ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=cloud.cls.url.split("//", 1)[1]))
    official = cls_client.ClsClient(Credential(SECRET_ID, SECRET_KEY, TOKEN), "ap-guangzhou", profile)
    request = models.UploadLogRequest()
    request.TopicId = cloud.cls_topic
    official.UploadLog(request, encode(batch, {"event_id": "e1"}))
    (ours, ours_body), (theirs, theirs_body) = cloud.cls.raw
    same = ("x-tc-action", "x-tc-version", "x-tc-region", "x-cls-topicid", "content-type", "host")
    assert {h: ours.get(h) for h in same} == {h: theirs.get(h) for h in same}
    assert ours_body == theirs_body
    assert len(cloud.records()) == 2
