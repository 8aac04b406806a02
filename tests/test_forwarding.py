"""Forwarding to the operator's own systems: rules, both signings, the outbox, the job, the timer, the CLI."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import index
from cssai import runtime
from cssai.identity import event_id
from cssai.jobs import rules, signing
from cssai.jobs.outbox import Entry, pending_key
from cssai.ops import cli, events
from tests.conftest import KEY, Cloud, Invoke, answer_body, local_records, sample, tree
from tests.fake_downstream import Downstream

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
TIMER = {"Type": "Timer", "TriggerName": "jobs", "Time": "2026-12-05T12:00:00Z", "Message": "forward"}


@pytest.fixture
def downstream() -> Iterator[Downstream]:
    server = Downstream(key=KEY)
    server.start()
    yield server
    server.stop()


def forward_to(monkeypatch: pytest.MonkeyPatch, rule: str, **env: str) -> None:
    monkeypatch.setenv("FORWARD_RULES", rule)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    runtime.reset()


def pending(sink: Path) -> list[Entry]:
    return [e for e in (Entry.read(v) for k, v in tree(sink / "cos").items() if k.startswith("outbox/")) if e]


def timer(message: str = "forward") -> dict[str, Any]:
    return index.main_handler({**TIMER, "Message": message}, {"time_limit_in_ms": 30_000})


def test_css_signing_keeps_every_member_and_the_downstreams_verification_works(
        invoke: Invoke, sink: Path, downstream: Downstream, monkeypatch: pytest.MonkeyPatch) -> None:
    forward_to(monkeypatch, f"1,0=http://127.0.0.1:{downstream.port}/rooms?token=s3cret")
    body = {**sample(1), "zeta": 1.10, "alpha": [3, {"b": None}], "huge": 2**70}
    assert invoke(body)["statusCode"] == 200
    eid = event_id(body)
    (got,) = downstream.of(eid)
    assert got.verified, got.why
    assert got.path == "/rooms?token=s3cret" and got.headers["x-css-event-id"] == eid
    sent = got.json()
    archived = json.loads(next(v for k, v in tree(sink / "cos").items() if k.startswith("events/1/")))
    assert list(sent) == list(archived)  # the same members in the same order
    assert {k: v for k, v in sent.items() if k not in ("t", "sign")} == \
           {k: v for k, v in archived.items() if k not in ("t", "sign")}
    assert b'"zeta": 1.1' in got.body or b'"zeta":1.1' in got.body
    assert pending(sink) == []  # delivered inline: the entry is gone
    (rec,) = [r for r in local_records(sink) if r["kind"] == "forwarded"]
    assert rec["target"] == rules.target_of(f"http://127.0.0.1:{downstream.port}/rooms?token=s3cret")
    assert rec["status"] == "200" and rec["event_id"] == eid and "s3cret" not in json.dumps(rec)


def test_css_body_replaces_t_and_sign_in_place_byte_for_byte() -> None:
    raw = b'{"a": 1.50, "t": 5, "b": "\\u00e9", "sign": "x", "c": 12345678901234567890123}'
    out = signing.css_body(raw, "k", 1000.0)
    assert out == b'{"a": 1.50, "t": 1600, "b": "\\u00e9", "sign": "' + \
        hashlib.md5(b"k1600").hexdigest().encode() + b'", "c": 12345678901234567890123}'
    added = hashlib.md5(b"k600").hexdigest().encode()
    assert signing.css_body(b'{"a":1}', "k", 0) == b'{"a":1,"t":600,"sign":"' + added + b'"}'
    assert signing.css_body(b"{ }", "k", 0).startswith(b'{"t":600,')


def test_standard_signing_matches_the_spec_and_the_library_verifies(invoke: Invoke, sink: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    key = signing.secret_bytes(SECRET)
    headers = signing.standard_headers("msg_1", 1614265330, b'{"test": 2432232314}', key)
    by_hand = base64.b64encode(hmac.new(key, b'msg_1.1614265330.{"test": 2432232314}', hashlib.sha256).digest())
    assert headers["webhook-signature"] == "v1," + by_hand.decode()
    server = Downstream(secret=SECRET).start()
    try:
        forward_to(monkeypatch, f"*=http://127.0.0.1:{server.port}/hook", FORWARD_SIGNING="standard",
                   FORWARD_SECRET=SECRET)
        body = sample(349)
        assert invoke(body)["statusCode"] == 200
        (got,) = server.of(event_id(body))
        assert got.verified, got.why
        archived = next(v for k, v in tree(sink / "cos").items() if k.startswith("events/349/"))
        assert got.body == archived and got.headers["webhook-id"] == event_id(body)
    finally:
        server.stop()


def test_fan_out_by_type(invoke: Invoke, sink: Path, downstream: Downstream, monkeypatch: pytest.MonkeyPatch) -> None:
    other = Downstream(key=KEY).start()
    try:
        forward_to(monkeypatch, f"1,0=http://127.0.0.1:{downstream.port}/a *=http://127.0.0.1:{other.port}/b "
                                f"100=http://127.0.0.1:{other.port}/c")
        assert invoke(sample(1))["statusCode"] == 200
        assert invoke(sample(349))["statusCode"] == 200
        assert invoke({"event_type": 9999, "stream_id": "s", "note": "a type the receiver does not know"})[
            "statusCode"] == 200
        assert [r.path for r in downstream.received] == ["/a"]
        assert sorted(r.path for r in other.received) == ["/b", "/b", "/b"]
    finally:
        other.stop()


@pytest.mark.parametrize("failure", ["500", "redirect", "refused", "hang"])
def test_a_failing_downstream_never_costs_css_a_503_and_the_job_finishes(
        invoke: Invoke, sink: Path, downstream: Downstream, monkeypatch: pytest.MonkeyPatch, failure: str) -> None:
    url = f"http://127.0.0.1:{downstream.port}/hook"
    forward_to(monkeypatch, f"*={url}", FORWARD_TIMEOUT_SECONDS="1", FORWARD_RETRY_BASE_SECONDS="1")
    if failure == "refused":
        downstream.stop()
    else:
        downstream.mode = failure
        downstream.hang_seconds = 2.0
    body = sample(345)
    started = time.monotonic()
    assert invoke(body)["statusCode"] == 200
    assert time.monotonic() - started < 5
    (entry,) = pending(sink)
    assert entry.attempts == 1 and entry.last_error and entry.due > entry.stored
    assert entry.due - time.time() <= 1.1  # FORWARD_RETRY_BASE_SECONDS after the inline attempt
    if failure == "refused":  # the downstream comes back on the same port
        downstream = Downstream(key=KEY, port=downstream.port).start()
    downstream.mode = "ok"
    time.sleep(1.2)
    answer = timer()
    assert answer["forward"]["delivered"] == 1, answer
    assert pending(sink) == []
    assert all(r.event_id == event_id(body) for r in downstream.received)
    assert downstream.of(event_id(body))[-1].verified


def test_a_duplicate_forwards_nothing_new_and_never_recreates_an_entry(
        invoke: Invoke, sink: Path, downstream: Downstream, monkeypatch: pytest.MonkeyPatch) -> None:
    forward_to(monkeypatch, f"*=http://127.0.0.1:{downstream.port}/hook")
    body = sample(200)
    assert invoke(body)["statusCode"] == 200
    assert invoke(body)["statusCode"] == 200  # CSS's retry: a duplicate
    runtime.reset()  # another container, which never saw it
    assert invoke(body)["statusCode"] == 200
    assert len(downstream.of(event_id(body))) == 1 and pending(sink) == []


def test_dead_lettered_events_are_not_forwarded_and_relay_goes_as_received(
        invoke: Invoke, sink: Path, downstream: Downstream, monkeypatch: pytest.MonkeyPatch) -> None:
    forward_to(monkeypatch, f"*=http://127.0.0.1:{downstream.port}/hook")
    assert invoke({**sample(349), "items": [{"begin_time": "x"}]})["statusCode"] == 422
    assert downstream.received == []
    relay = sample(314)
    assert invoke(relay, sign=False)["statusCode"] == 200  # as CSS sends relay callbacks: never signed
    (got,) = downstream.received
    archived = next(v for k, v in tree(sink / "cos").items() if k.startswith("events/314/"))
    assert got.body == archived and "t" not in got.json()


def test_past_its_age_an_entry_dies_with_an_alert_and_retry_dead_restarts_it(
        invoke: Invoke, sink: Path, downstream: Downstream, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    forward_to(monkeypatch, f"*=http://127.0.0.1:{downstream.port}/hook?token=abc")
    downstream.mode = "500"
    body = sample(100)
    assert invoke(body)["statusCode"] == 200
    (entry,) = pending(sink)
    old = json.loads((sink / "cos" / entry.key).read_text())
    old["stored"] -= 86_400
    (sink / "cos" / entry.key).write_text(json.dumps(old))
    answer = timer()
    assert answer["forward"]["dead"] == 1
    assert pending(sink) == []
    dead = [k for k in tree(sink / "cos") if k.startswith("outbox-dead/")]
    alerts = {k: json.loads(v) for k, v in tree(sink / "cos").items() if k.startswith("alerts/forward/")}
    assert len(dead) == 1 and len(alerts) == 1
    (alert,) = alerts.values()
    assert alert["url"].endswith("/hook?token=***") and alert["attempts"] == 1
    (rec,) = [r for r in local_records(sink) if r["kind"] == "forward_dead"]
    assert rec["alert"] == "forward_failed" and "abc" not in json.dumps(rec)
    capsys.readouterr()
    assert cli.main(["forward", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["targets"]
    assert listed[0]["dead"] == 1 and listed[0]["pending"] == 0 and listed[0]["url"].endswith("token=***")
    assert cli.main(["forward", "--retry-dead"]) == 0
    (again,) = pending(sink)
    assert again.stored > time.time() - 5
    downstream.mode = "ok"
    assert cli.main(["forward", "--drain", "--all"]) == 0
    assert pending(sink) == [] and downstream.of(event_id(body))[-1].verified


def test_the_forward_command_lists_targets_and_refuses_all_without_drain(
        invoke: Invoke, sink: Path, downstream: Downstream, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    forward_to(monkeypatch, f"*=http://127.0.0.1:{downstream.port}/hook?key=zzz", FORWARD_RETRY_BASE_SECONDS="600")
    downstream.mode = "500"
    assert invoke(sample(1))["statusCode"] == 200
    assert cli.main(["forward", "--all"]) == 2
    capsys.readouterr()
    assert cli.main(["forward"]) == 0
    out = capsys.readouterr().out
    assert "key=***" in out and "zzz" not in out and "HTTP 500" in out
    assert cli.main(["forward", "--drain"]) == 0  # nothing due: the entry waits for its time
    assert len(pending(sink)) == 1


@pytest.mark.parametrize(("value", "problem"), [
    ("1=ftp://x/", "http:// or https://"), ("one=http://x/", "TYPES"), ("http://x/", "TYPES=URL"),
    ("1=undefined", "undefined"), ("1=http://x/?token=secret99 2=", "TYPES=URL"),
])
def test_a_bad_rule_is_a_503_naming_the_setting(invoke: Invoke, monkeypatch: pytest.MonkeyPatch, value: str,
                                                 problem: str) -> None:
    forward_to(monkeypatch, value)
    answer = invoke(sample(1))
    assert answer["statusCode"] == 503
    message = answer_body(answer)["message"]
    assert "FORWARD_RULES" in message and problem in message and "secret99" not in message


@pytest.mark.parametrize("secret", ["", "abc", "whsec_not*base64", "whsec_" + base64.b64encode(b"short").decode()])
def test_standard_signing_needs_a_whsec_secret(invoke: Invoke, monkeypatch: pytest.MonkeyPatch, secret: str) -> None:
    forward_to(monkeypatch, "*=http://127.0.0.1:9/x", FORWARD_SIGNING="standard", FORWARD_SECRET=secret)
    answer = invoke(sample(1))
    assert answer["statusCode"] == 503 and "FORWARD_SECRET" in answer_body(answer)["message"]


def test_empty_rules_mean_no_forwarding(invoke: Invoke, sink: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    forward_to(monkeypatch, "   ", FORWARD_SIGNING="nonsense-but-unused-is-still-checked")
    assert invoke(sample(1))["statusCode"] == 503  # FORWARD_SIGNING is checked whatever the rules
    forward_to(monkeypatch, "", FORWARD_SIGNING="css")
    assert invoke(sample(1))["statusCode"] == 200 and pending(sink) == []


def test_the_timer_is_only_the_invocations_own_event(invoke: Invoke, sink: Path) -> None:
    as_http = index.main_handler(events.wrap(TIMER, "url"), {"time_limit_in_ms": 30_000})
    assert as_http["statusCode"] == 401  # an HTTP body shaped like a timer event is a callback, unsigned
    answer = timer("forward,nonsense")
    assert answer["forward"]["job"] == "forward" and answer["unknown"] == ["nonsense"]
    assert "statusCode" not in answer


def test_overlapping_runs_never_do_the_same_job_at_once(sink: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cssai.jobs.lease import JobLease

    forward_to(monkeypatch, "*=http://127.0.0.1:9/x")
    held = JobLease(runtime.current().executor.objects, "forward")
    assert held.acquire()
    try:
        assert timer()["forward"] == {"job": "forward", "skipped": "another run holds the forward lease"}
    finally:
        held.release()
    assert timer()["forward"]["job"] == "forward" and "skipped" not in timer()["forward"]


def test_forwarding_through_cos_and_cls(cloud: Cloud, invoke: Invoke, downstream: Downstream,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The same outbox in COS: made before the answer, removed on delivery; the record in CLS."""
    downstream.mode = "500"
    forward_to(monkeypatch, f"*=http://127.0.0.1:{downstream.port}/hook", FORWARD_RETRY_BASE_SECONDS="1")
    body = sample(347)
    assert invoke(body)["statusCode"] == 200
    eid = event_id(body)
    target = rules.target_of(f"http://127.0.0.1:{downstream.port}/hook")
    assert pending_key(target, eid) in cloud.objects()
    downstream.mode = "ok"
    time.sleep(1.1)
    assert timer()["forward"]["delivered"] == 1
    assert pending_key(target, eid) not in cloud.objects()
    assert [r["target"] for r in cloud.records() if r["kind"] == "forwarded"] == [target]
    assert invoke(body)["statusCode"] == 200  # a duplicate: no new entry
    assert pending_key(target, eid) not in cloud.objects() and len(downstream.of(eid)) == 2


def test_css_body_finds_only_the_top_level_members_whatever_the_text() -> None:
    raw = ('{"键": "值 \\"t\\": 1", "a": {"t": 1, "sign": "inner"}, "t": 7, "b": ["sign", {"t": 2}], '
           '"sign":"old", "z": "ü"}').encode()
    out = json.loads(signing.css_body(raw, "k", 100.0))
    assert out["t"] == 700 and out["sign"] == hashlib.md5(b"k700").hexdigest()
    assert out["a"] == {"t": 1, "sign": "inner"} and out["b"] == ["sign", {"t": 2}] and out["键"] == '值 "t": 1'
    assert signing.css_body(raw, "k", 100.0).replace(b'"t": 700', b'"t": 7').replace(
        b'"sign":"' + hashlib.md5(b"k700").hexdigest().encode() + b'"', b'"sign":"old"') == raw
