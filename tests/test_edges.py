"""Nothing lost or mis-answered at the edges, for every family with a sample (property tests).

Each class of edge has one rule, proven here over every event type in ``samples/``:
keys of one event never collide; a verified event is stored (200) or dead-lettered (422), never 5xx,
whatever its numbers, and the local folder and COS/CLS give the same answer; nothing stored holds a
non-JSON token; one event, one date; nesting up to the parser's limit is stored, beyond it 400.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cssai import body as body_module
from cssai import identity, runtime
from cssai.ops import events
from cssai.writes import MAX_RECORD_MS
from handlers import ROUTES, handler_for
from handlers.base import HandlerContext
from handlers.erasing import cue_text
from tests.conftest import KEY, SAMPLES, Cloud, local_records, relay_ready, sample, tree, url_token

TYPES = sorted(SAMPLES)
DATE = re.compile(r"^(\d{4}-\d{2}-\d{2}|undated)$")
# Literal JSON numbers (text, so that 1e400 reaches the parser as CSS would send it) and numeric strings.
BOUNDARIES = ["0", "-1", "1.5", "9223372036854775807", "9223372036854775808", "18446744073709551616",
              "100000000000000000", "-9223372036854775809", "1e308", "1e400", "-1e400", "1E+999", "-0.0",
              "4.9e-324", "1" + "0" * 40, '"1752130787"', '"1752130787.0"', '" 12 "', '"-5"', '"1e400"', "1752130787.0",
              "1752130787.25", "99999999999", "100000000000"]


def numeric_paths(value: Any, path: tuple = ()) -> Iterator[tuple]:
    """Where a sample holds a number (or a string of digits), as a path of keys and indexes."""
    if isinstance(value, dict):
        for key, child in value.items():
            if not path and key in ("event_type", "t", "sign"):
                continue
            yield from numeric_paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value[:2]):
            yield from numeric_paths(child, (*path, index))
    elif (isinstance(value, (int, float)) and not isinstance(value, bool)) or (
            isinstance(value, str) and value.strip().lstrip("-").isdigit()):
        yield path


CASES = [(t, path) for t in TYPES for path in numeric_paths(sample(t))]


def with_literal(body: dict, path: tuple, literal: str) -> bytes:
    """The signed body as JSON bytes, with the value at ``path`` replaced by a literal JSON text."""
    marker = "__EDGE_VALUE__"
    node: Any = body
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = marker
    raw = json.dumps(events.signed(body, KEY))
    return raw.replace(f'"{marker}"', literal).encode()


def deliver(raw: bytes) -> dict[str, Any]:
    import index

    token = url_token()
    event = events.wrap(raw, "url", query={"token": token} if token else None)
    return index.main_handler(event, {"request_id": "edge", "time_limit_in_ms": 30000})


def strict(data: bytes) -> Any:
    """Parse as strict JSON: NaN and Infinity are refused."""
    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not JSON")
    return json.loads(data, parse_constant=refuse)


def data_objects(objects: dict[str, bytes]) -> dict[str, bytes]:
    """Objects without the executor's bookkeeping (claims hold a lease time)."""
    return {k: v for k, v in objects.items() if ".claim-" not in k}


# 1. Keys within one event never collide -------------------------------------------------------------------------


def crowded(event_type: int, repeats: int, same_title: bool) -> dict:
    """The sample with every list of entries repeated: the same times, titles and ids, many times over."""
    body = sample(event_type)

    def grow(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: grow(v) for k, v in node.items()}
        if isinstance(node, list) and node and isinstance(node[0], dict):
            entries = [grow(e) for e in node] * repeats
            if not same_title:
                entries = [{**e, "title": f"t{i}"} if "title" in e else e for i, e in enumerate(entries)]
            return entries
        return node

    return grow(body)


@given(event_type=st.sampled_from(TYPES), repeats=st.integers(1, 60), same_title=st.booleans(),
       ext=st.sampled_from([".mp4", ".jpg", ".json", ".vtt", "", ".MP4"]))
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_keys_within_one_event_never_collide(event_type: int, repeats: int, same_title: bool, ext: str) -> None:
    body = crowded(event_type, repeats, same_title)
    for entry in body.get("items", []):  # media copies too, whatever the extensions
        entry["video_store_url"] = f"https://your.cos.ap-nanjing.myqcloud.com/a/clip{ext}"
        entry["cov_img_store_url"] = f"https://your.cos.ap-nanjing.myqcloud.com/a/cover{ext}"
    if event_type not in ROUTES:
        return
    context = HandlerContext("e" * 64, {"PSNR": 99.0}, frozenset({"your.cos.ap-nanjing.myqcloud.com"}),
                             identity.event_seconds(body))
    plan = handler_for(event_type)(body, context)
    keys = [o.key for o in plan.objects] + [c.key for c in plan.copies]
    assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)
    assert len(plan.objects) + len(plan.copies) <= 160  # bounded, whatever the body holds


def test_two_items_with_the_same_times_both_have_their_clip(invoke: Any, sink: Path) -> None:
    body = sample(349)
    body["items"] = [body["items"][0], {**body["items"][0], "title": "another clip"}]
    assert invoke(body)["statusCode"] == 200
    clips = sorted((sink / "cos" / "highlights").rglob("*.json"))
    assert sorted(json.loads(p.read_bytes())["title"] for p in clips) == sorted([body["items"][0]["title"],
                                                                                  "another clip"])
    assert sorted(p.name.rsplit("-", 1)[-1] for p in clips) == ["2.json", f"{identity.event_id(body)[:16]}.json"]


# 2. CLS answers that are not an API response are transient -----------------------------------------------------


@pytest.mark.parametrize("garbage", ["html", "empty", "not_json", "no_response", "empty_response", "plain_other",
                                     "unknown_code", "transient_with_charset"])
def test_an_unreadable_cls_answer_is_retried_not_dead_lettered(cloud: Cloud, invoke: Any, garbage: str) -> None:
    cloud.cls.inject("POST", ".", garbage, times=1)
    body = sample(345)
    assert invoke(body)["statusCode"] == 200
    assert [r["kind"] for r in cloud.records()].count("quality_report") == 1  # retried once, stored once
    assert not any(k.startswith("deadletter/") for k in cloud.objects())


@pytest.mark.parametrize("garbage", ["html", "no_response", "unknown_code"])
def test_cls_that_never_answers_properly_is_503_then_stored_on_redelivery(cloud: Cloud, invoke: Any,
                                                                          garbage: str) -> None:
    cloud.configure(WRITE_ATTEMPTS="2")
    cloud.cls.inject("POST", ".", garbage, times=2)
    body = sample(344)
    assert invoke(body)["statusCode"] == 503
    assert not any(k.startswith(("deadletter/", "markers/")) and ".claim-" not in k for k in cloud.objects())
    assert invoke(body)["statusCode"] == 200  # CSS's retry
    assert len(cloud.records()) == 3


def test_a_documented_refusal_is_a_refusal_whatever_its_content_type(cloud: Cloud, invoke: Any) -> None:
    cloud.cls.inject("POST", ".", "refusal_with_charset", times=1)
    assert invoke(sample(345))["statusCode"] == 200
    letters = [k for k in cloud.objects() if k.startswith("deadletter/cls/")]
    assert len(letters) == 1 and cloud.records() == []  # kept as a dead letter, not retried into CLS


# 3. Numbers at and beyond their limits: 200 or 422, the two sinks agree, nothing non-JSON stored ---------------


@given(case=st.sampled_from(CASES), literal=st.sampled_from(BOUNDARIES))
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_boundary_numbers_are_stored_or_dead_lettered_alike_on_both_sinks(
        cloud: Cloud, sink: Path, monkeypatch: pytest.MonkeyPatch, case: tuple, literal: str) -> None:
    event_type, path = case
    relay_ready(monkeypatch)  # every request carries the token, so relay callbacks (314) are admitted too
    raw = with_literal(sample(event_type), path, literal)
    before_objects, before_records = data_objects(cloud.objects()), len(cloud.records())
    in_cloud = deliver(raw)["statusCode"]
    cloud_objects = {k: v for k, v in data_objects(cloud.objects()).items() if k not in before_objects}
    cloud_records = cloud.records()[before_records:]
    monkeypatch.delenv("COS_BUCKET")
    monkeypatch.delenv("CLS_TOPIC_ID")
    runtime.reset()
    local_before = tree(sink / "cos")
    records_before = len(local_records(sink))
    try:
        in_folder = deliver(raw)["statusCode"]
        local_objects = {k: v for k, v in data_objects(tree(sink / "cos")).items() if k not in local_before}
        local_new = local_records(sink)[records_before:]
    finally:
        monkeypatch.setenv("COS_BUCKET", "callbacks-1250000000")
        monkeypatch.setenv("CLS_TOPIC_ID", cloud.cls_topic)
        runtime.reset()
    assert in_cloud == in_folder and in_cloud in (200, 422), (event_type, path, literal, in_cloud, in_folder)
    if in_cloud == 200:  # a redelivery may find it stored already: compare only what this event wrote
        assert set(local_objects) == set(cloud_objects)
        assert local_new == cloud_records
    for key, data in {**cloud_objects, **local_objects}.items():
        if not key.startswith("events/") and not key.endswith(".vtt"):
            strict(data)  # derived objects are strict JSON
    for rec in local_new:
        assert 0 <= rec["time_ms"] <= MAX_RECORD_MS


def test_a_time_whose_milliseconds_overflow_int64_is_stored_with_a_clamped_record_time(
        cloud: Cloud, invoke: Any) -> None:
    body = sample(349)
    body["items"][0]["begin_time"] = 10**17
    assert invoke(body)["statusCode"] == 200
    record = next(r for r in cloud.records() if r["kind"] == "highlight" and r["begin_time"] == str(10**17))
    assert record["time_ms"] == MAX_RECORD_MS and record["record_time_out_of_range"] == str(10**20)


def test_a_double_that_overflows_is_kept_as_text_not_infinity(invoke: Any, sink: Path) -> None:
    raw = with_literal(sample(349), ("items", 0, "extra"), "1e400")
    assert deliver(raw)["statusCode"] == 200
    (clip,) = (sink / "cos" / "highlights").rglob("*.json")
    assert strict(clip.read_bytes())["item_extras"]["extra"] == "1e400"
    assert b"1e400" in next((sink / "cos" / "events").rglob("*.json")).read_bytes()  # the archive as received


# 4. Depth up to the parser's limit is stored; beyond it, 400 ----------------------------------------------------


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for level in range(depth):
        value = {"n": value} if level % 2 else [value]
    return value


@given(event_type=st.sampled_from(TYPES), extra=st.integers(0, 8), top=st.booleans())
@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_nesting_up_to_the_limit_is_stored_or_dead_lettered_beyond_it_400(
        sink: Path, monkeypatch: pytest.MonkeyPatch, event_type: int, extra: int, top: bool) -> None:
    relay_ready(monkeypatch)
    body = sample(event_type)
    depth = body_module.MAX_DEPTH - 1 - 4 + extra  # the field sits one level under the body itself
    body["deep"] = nested(depth)
    if not top:
        body["stream_id"] = nested(depth)  # where a string is expected: a 422, and a dead letter that encodes
    raw = json.dumps(events.signed(body, KEY)).encode()
    status = deliver(raw)["statusCode"]
    if depth + 1 <= body_module.MAX_DEPTH:
        assert status in (200, 422)
        if status == 422:
            (letter,) = [p for p in (sink / "cos" / "deadletter").rglob("*.json")
                         if identity.event_id(json.loads(raw)) in p.name]
            strict(letter.read_bytes())
    else:
        assert status == 400


def test_nesting_near_the_interpreters_limit_is_400_not_503(invoke: Any) -> None:
    body = {**sample(347), "deep": "__DEEP__"}
    raw = json.dumps(events.signed(body, KEY)).replace('"__DEEP__"', "[" * 985 + '"leaf"' + "]" * 985).encode()
    assert deliver(raw)["statusCode"] == 400
    assert invoke({**body, "deep": nested(985)}, shape="direct")["statusCode"] == 400


# 5. One event, one date, from ints, floats and numeric strings --------------------------------------------------


TIME_VARIANTS = [lambda s: s, float, str, lambda s: f"{s}.0", lambda s: f" {s} "]


@given(event_type=st.sampled_from(TYPES), variant=st.sampled_from(range(len(TIME_VARIANTS))))
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_object_of_an_event_files_under_the_archives_date(sink: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 event_type: int, variant: int) -> None:
    relay_ready(monkeypatch)
    body = sample(event_type)
    seconds = identity.event_seconds(body)
    path = next((p for p in numeric_paths(body) if _is_time_path(event_type, p)), None)
    if seconds is not None and path is not None:
        node: Any = body
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = TIME_VARIANTS[variant](node[path[-1]])
    status = deliver(json.dumps(events.signed(body, KEY)).encode())["statusCode"]
    assert status in (200, 422)
    eid = identity.event_id(body)
    (archive,) = [k for k in tree(sink / "cos") if k.startswith("events/") and eid in k]
    archive_date = archive.split("/")[2]
    mine = [k for k in tree(sink / "cos") if eid[:16] in k and not k.startswith(("events/", "markers/"))]
    dates = {part for key in mine for part in key.split("/") if DATE.match(part)}
    assert dates <= {archive_date}, (archive_date, dates)
    if seconds is not None and status == 200:
        assert archive_date == identity.day(seconds)


def _is_time_path(event_type: int, path: tuple) -> bool:
    names = {100: "end_time", 200: "create_time", 317: "screenshotTime", 321: "data_time", 341: "timestamp",
             348: "begin_time", 349: "begin_time", 347: "start_unix_time", 338: "start_unix_time"}
    return path[-1] == names.get(event_type, "event_time")


# 7. Every entry of a list setting is checked ---------------------------------------------------------------------


@given(name=st.sampled_from(["CSS_CALLBACK_KEYS", "CALLBACK_URL_TOKENS", "CALLBACK_ALLOWED_CIDRS",
                             "QUALITY_ALERT_THRESHOLDS"]),
       bad=st.sampled_from(["undefined", " undefined", "", "  "]), position=st.integers(0, 2))
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_an_undefined_or_empty_entry_in_a_list_setting_is_refused(invoke: Any, name: str, bad: str,
                                                                   position: int) -> None:
    good = {"CSS_CALLBACK_KEYS": ["k1", "k2"], "CALLBACK_URL_TOKENS": ["a" * 20, "b" * 20],
            "CALLBACK_ALLOWED_CIDRS": ["10.0.0.0/8", "127.0.0.1/32"],
            "QUALITY_ALERT_THRESHOLDS": ["PSNR=30", "VMAF=70"]}[name]
    entries = [*good]
    entries.insert(position, bad)
    with pytest.MonkeyPatch.context() as env:  # per example: hypothesis runs many in one test
        env.setenv(name, ",".join(entries))
        runtime.reset()
        answer = invoke(sample(TYPES[0]))
        runtime.reset()
    assert answer["statusCode"] == 503 and name in json.loads(answer["body"])["message"]


# 8. WebVTT cue text never holds a timing arrow -------------------------------------------------------------------


@given(st.text(alphabet=st.sampled_from(["-", ">", " ", "a", "\n", "\t", "\u2028", "<"]), max_size=40))
def test_cue_text_never_contains_an_arrow(value: str) -> None:
    line = cue_text(value)
    assert "-->" not in line and "\n" not in line


def test_a_transcripts_cues_hold_arrows_only_in_timing_lines(invoke: Any, sink: Path) -> None:
    body = sample(347)
    body["data"]["subtitle_tmp_res"][0]["src_txt"] = "alpha ---> beta -- > gamma ----->> delta"
    assert invoke(body)["statusCode"] == 200
    (vtt,) = (sink / "cos" / "transcripts").rglob("*.vtt")
    lines = vtt.read_text(encoding="utf-8").splitlines()
    assert all(re.fullmatch(r"[\d:.]+ --> [\d:.]+", line) for line in lines if "-->" in line)
    assert any("alpha -> beta" in line for line in lines)


# 6. The local sink is crash-safe -------------------------------------------------------------------------------


def big_344(frames: int = 1500) -> dict:
    body = sample(344)
    body["frames"] = [{"score": 10.0 + i % 7, "time": 1752130000000 + i} for i in range(frames)]
    return body


def event_records(sink: Path, body: dict) -> list[dict]:
    eid = identity.event_id(body)
    lines = (sink / "cls" / "records.jsonl").read_text(encoding="utf-8").splitlines()
    parsed = [json.loads(line) for line in lines]  # every line parses
    return [r for r in parsed if r["event_id"] == eid]


def test_a_disk_that_fills_mid_append_leaves_no_partial_line_and_the_retry_lands_once(
        invoke: Any, sink: Path) -> None:
    import subprocess
    import sys

    assert invoke(sample(345))["statusCode"] == 200  # lines already there must survive
    body = big_344()
    script = (
        "import json, resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (120_000, 120_000))  # files stop growing: EFBIG\n"
        "import index\n"
        "from cssai.ops import events\n"
        "body = json.load(sys.stdin)\n"
        "answer = index.main_handler(events.wrap(events.signed(body, sys.argv[1]), 'url'), None)\n"
        "print(answer['statusCode'])\n"
    )
    done = subprocess.run([sys.executable, "-c", script, KEY], input=json.dumps(body), capture_output=True,
                          text=True, cwd=Path(__file__).resolve().parent.parent, timeout=60, check=False)
    assert done.stdout.strip().splitlines()[-1] == "503", done.stderr[-2000:]
    assert (sink / "cls" / "records.jsonl").read_bytes().endswith(b"\n")
    assert event_records(sink, body) == []  # cut back to where the batch began
    assert invoke(body)["statusCode"] == 200  # CSS's retry, with room on the disk
    assert len(event_records(sink, body)) == 1 + 1500
    assert len(event_records(sink, sample(345))) == 4


def test_a_line_torn_by_a_killed_writer_is_cut_before_the_next_append(invoke: Any, sink: Path) -> None:
    assert invoke(sample(344))["statusCode"] == 200
    with open(sink / "cls" / "records.jsonl", "ab") as handle:
        handle.write(b'{"time_ms": 17, "kind": "quality_fr')  # a process killed mid-line
    assert invoke(sample(347))["statusCode"] == 200
    assert len(event_records(sink, sample(347))) == 2 and len(event_records(sink, sample(344))) == 3


def test_records_that_landed_before_the_marker_failed_are_not_appended_twice(invoke: Any, sink: Path) -> None:
    from cssai.executor import marker_key

    body = sample(349)
    blocker = sink / "cos" / marker_key(identity.event_id(body))
    blocker.mkdir(parents=True)  # the marker cannot be written: the delivery fails after its records landed
    assert invoke(body)["statusCode"] == 503
    assert len(event_records(sink, body)) == 1
    blocker.rmdir()
    assert invoke(body)["statusCode"] == 200  # the retry
    assert len(event_records(sink, body)) == 1  # exactly once


def test_objects_are_written_whole_or_not_at_all(sink: Path) -> None:
    from cssai.sinks.local import LocalObjects
    from cssai.writes import PutObject

    objects = LocalObjects(sink)
    assert objects.put(PutObject("a/b.json", b"{}"), "e", if_absent=True) is True
    assert objects.put(PutObject("a/b.json", b"[]"), "e", if_absent=True) is False
    assert (sink / "cos" / "a" / "b.json").read_bytes() == b"{}"
    assert [p.name for p in (sink / "cos" / "a").iterdir()] == ["b.json"]  # no temporary file left behind


# 6. serve reads requests as the Function URL does -----------------------------------------------------------------


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, int]]:
    import threading

    import index
    from cssai.ops import serve

    monkeypatch.setattr(serve, "READ_TIMEOUT_SECONDS", 0.5)
    monkeypatch.setenv("CALLBACK_URL_TOKENS", "t" * 20)
    monkeypatch.setenv("MAX_BODY_BYTES", "200000")
    runtime.reset()
    httpd = serve.make_server("127.0.0.1", 0, index.main_handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield "127.0.0.1", httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def raw_request(address: tuple[str, int], head: str, body: bytes = b"", wait: float = 5.0) -> tuple[int, bytes]:
    import socket
    import time

    started = time.monotonic()
    with socket.create_connection(address, timeout=wait) as conn:
        conn.sendall(head.encode() + b"\r\n" + body)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    assert time.monotonic() - started < wait
    return status, data


def test_serve_refuses_a_token_given_twice(served: tuple[str, int]) -> None:
    body = json.dumps(events.signed(sample(349), KEY)).encode()
    token = "t" * 20
    for query, expected in ((f"token=wrong-token-0000000&token={token}", 401), (f"token={token}&token={token}", 401),
                            (f"token={token}", 200)):
        head = (f"POST /callback?{query} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n")
        assert raw_request(served, head, body)[0] == expected, query


@pytest.mark.parametrize("length", ["abc", "-1", "1e3", "10, 10", "99999999999999999999"])
def test_serve_answers_a_bad_content_length_400(served: tuple[str, int], length: str) -> None:
    status, _ = raw_request(served, f"POST /callback HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n", b"{}")
    assert status == 400


def test_serve_answers_an_oversized_body_413_without_reading_it(served: tuple[str, int]) -> None:
    head = "POST /callback HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n"
    status, data = raw_request(served, head, b"{", wait=2.0)  # it does not wait for the 5 MB
    assert status == 413 and b"Connection: close" in data


def test_serve_drops_a_client_that_stops_sending(served: tuple[str, int]) -> None:
    head = "POST /callback HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
    status, data = raw_request(served, head, b'{"event_type"', wait=3.0)  # 13 of 100 bytes, then silence
    assert (status, data) == (0, b"")  # the connection is closed after the read timeout, no answer
