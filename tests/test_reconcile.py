"""The reconcile job against a local live API (tests/fake_live.py: TC3-checked, paged, limited, throttling).

What CSS kept but never delivered is recovered through the delivery path; sessions the callbacks lack are
reconciled; what cannot be recovered is a gap, told once; a second run writes nothing; a dry run writes
nothing at all; the API's spans, retention, pages and rate are respected.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cssai import runtime
from cssai.jobs import css_records, reconcile, timer
from cssai.ops import events
from tests.conftest import KEY, ROOT, SECRET_ID, SECRET_KEY, TOKEN, answer_body, local_records, sample, tree
from tests.fake_live import LiveServer, Record, Session

NOW = int(time.time())


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    server = LiveServer(SECRET_ID, SECRET_KEY, TOKEN).start()
    for name, value in {"LIVE_ENDPOINT_URL": server.url, "TENCENTCLOUD_SECRETID": SECRET_ID,
                        "TENCENTCLOUD_SECRETKEY": SECRET_KEY, "TENCENTCLOUD_SESSIONTOKEN": TOKEN}.items():
        monkeypatch.setenv(name, value)
    runtime.reset()
    yield server
    server.stop()


def push(stream: str, sequence: str, at: int, **extra: Any) -> dict[str, Any]:
    return {**sample(1), "stream_id": stream, "channel_id": stream, "sequence": sequence, "event_time": at, **extra}


def stop(stream: str, sequence: str, at: int, **extra: Any) -> dict[str, Any]:
    return {**sample(0), "stream_id": stream, "channel_id": stream, "sequence": sequence, "event_time": at, **extra}


def kept(body: dict[str, Any], result_code: int = 0, at: int | None = None) -> Record:
    """What CSS's callback records keep of one attempt: the body as it was sent, signed (t, sign)."""
    signed = events.signed(body, KEY)
    when = at if at is not None else body.get("event_time") or body.get("end_time") or NOW - 600
    return Record(body.get("stream_id", ""), when, body["event_type"], json.dumps(signed, separators=(",", ":")),
                  result_code, '{"code":0}' if result_code == 0 else "HTTP 503")


def run(**options: Any) -> dict[str, Any]:
    return reconcile.run(runtime.current(), time.monotonic() + 120, **options)


def streams_json(sink: Path) -> dict[str, dict[str, Any]]:
    from cssai import streams

    found = streams.states(streams.load(runtime.current().executor.objects))
    return {s.stream_id: s.as_json() for s in found}


def outside_jobs(root: Path) -> dict[str, bytes]:
    """Everything a run may write except its own bookkeeping (jobs/ and the run record in CLS)."""
    files = tree(root)
    files.pop("cls/records.jsonl", None)
    return {k: v for k, v in files.items() if not k.startswith(("cos/jobs/", "cls/.uploads/"))}


def test_lost_push_and_stop_are_recovered_once_and_a_second_run_writes_nothing(sink: Path, live: LiveServer) -> None:
    start = NOW - 1800
    live.state.sessions.append(Session("cam-1", start, start + 600))
    live.state.records += [kept(push("cam-1", "41", start), result_code=-1),  # every attempt failed
                           kept(push("cam-1", "41", start), result_code=-1),
                           kept(stop("cam-1", "41", start + 600), result_code=0)]  # answered 200 elsewhere
    summary = run()
    assert summary["recovered"] == {"1": 1, "0": 1} and summary["reconciled"] == 0 and summary["gaps"] == 0
    assert summary["streams"] == 1
    archived = sorted(k for k in tree(sink) if k.startswith("cos/events/"))
    assert len(archived) == 2
    state = streams_json(sink)["cam-1"]
    assert state["live"] is False and state["sequence"] == "41" and state["reconciled"] is False
    recovered = [r for r in local_records(sink) if r.get("kind") in ("stream_start", "stream_end")]
    assert len(recovered) == 2 and all(r["recovered"] == "true" for r in recovered)
    assert [r for r in local_records(sink) if r["kind"] == "reconcile_run"]

    before = outside_jobs(sink)
    records_before = [r for r in local_records(sink) if r["kind"] != "reconcile_run"]
    again = run()
    assert again["recovered"] == {} and again["already"] == 2 and again["gaps"] == 0
    assert outside_jobs(sink) == before
    assert [r for r in local_records(sink) if r["kind"] != "reconcile_run"] == records_before


def test_a_callback_that_was_delivered_is_not_stored_again(sink: Path, live: LiveServer, invoke: Any) -> None:
    start = NOW - 900
    body = push("cam-2", "7", start)
    assert invoke(body)["statusCode"] == 200
    live.state.sessions.append(Session("cam-2", start))
    live.state.records.append(kept(body))  # CSS re-signed it: another t and sign, the same event_id
    live.state.online.add("cam-2")
    before = outside_jobs(sink)
    summary = run()
    assert summary["already"] == 1 and summary["recovered"] == {} and summary["reconciled"] == 0
    assert outside_jobs(sink) == before


def test_a_session_without_any_callback_is_reconciled_and_reported_once(sink: Path, live: LiveServer) -> None:
    start = NOW - 3000
    live.state.sessions.append(Session("cam-3", start, start + 1200, stop_reason="user stopped"))
    summary = run()
    assert summary["reconciled"] == 2 and summary["gaps"] == 2 and summary["recovered"] == {}
    made = {k: json.loads(v) for k, v in tree(sink).items() if k.startswith("cos/streams/cam-3/")}
    assert sorted(d["event"] for d in made.values()) == ["start", "stop"]
    assert all(d["source"] == "reconcile" and d["sequence"] == f"reconcile-{start}" for d in made.values())
    alerts = [k for k in tree(sink) if k.startswith("cos/alerts/delivery/cam-3/")]
    assert len(alerts) == 2
    gaps = [r for r in local_records(sink) if r["kind"] == "delivery_gap"]
    assert sorted(r["gap"] for r in gaps) == ["stream_end", "stream_start"] and all(r["alert"] == "delivery_gap"
                                                                                 for r in gaps)
    ends = [r for r in local_records(sink) if r["kind"] == "stream_end"]
    assert ends and ends[0]["source"] == "reconcile"  # the CLS query for stream state sees it too
    state = streams_json(sink)["cam-3"]
    assert state["live"] is False and state["reconciled"] is True and state["since"] == start

    before, records = outside_jobs(sink), len([r for r in local_records(sink) if r["kind"] != "reconcile_run"])
    again = run()
    assert again["reconciled"] == 0 and again["gaps"] == 0
    assert outside_jobs(sink) == before
    assert len([r for r in local_records(sink) if r["kind"] != "reconcile_run"]) == records


def test_a_lost_stop_is_matched_to_its_push_by_time_and_takes_its_sequence(sink: Path, live: LiveServer,
                                                                           invoke: Any) -> None:
    start = NOW - 2000
    assert invoke(push("cam-4", "900", start))["statusCode"] == 200
    live.state.sessions.append(Session("cam-4", start + 2, start + 700))  # CSS's clock: 2 s apart
    summary = run()
    assert summary["reconciled"] == 1
    state = streams_json(sink)["cam-4"]
    assert state == {**state, "live": False, "sequence": "900", "ended": start + 700, "reconciled": True}
    # the stop callback comes late after all: a callback's time wins, and the session is no longer made up
    assert invoke(stop("cam-4", "900", start + 698))["statusCode"] == 200
    state = streams_json(sink)["cam-4"]
    assert state["ended"] == start + 698 and state["reconciled"] is False


def test_a_sequence_its_object_name_had_to_encode_is_read_back(sink: Path, live: LiveServer, invoke: Any) -> None:
    start = NOW - 2000
    assert invoke(push("cam-q", "s/1 é", start))["statusCode"] == 200
    live.state.sessions.append(Session("cam-q", start, start + 500))
    assert run()["reconciled"] == 1
    state = streams_json(sink)["cam-q"]
    assert state["sequence"] == "s/1 é" and state["sessions"] == 1 and state["ended"] == start + 500


def test_a_late_push_callback_merges_with_the_session_made_up_for_it(sink: Path, live: LiveServer,
                                                                     invoke: Any) -> None:
    start = NOW - 2400
    live.state.sessions.append(Session("cam-5", start, start + 300))
    assert run()["reconciled"] == 2
    assert invoke(push("cam-5", "77", start + 1))["statusCode"] == 200
    state = streams_json(sink)["cam-5"]
    assert state["sequence"] == "77" and state["sessions"] == 1 and state["live"] is False
    assert state["ended"] == start + 300 and state["reconciled"] is True  # its end is still made up


def test_a_stop_that_comes_after_a_made_up_start_ends_that_session(sink: Path, live: LiveServer,
                                                                   invoke: Any) -> None:
    start = NOW - 1500
    live.state.sessions.append(Session("cam-s", start))  # still live at CSS: its push callback was lost
    live.state.online.add("cam-s")
    assert run()["reconciled"] == 1
    assert streams_json(sink)["cam-s"]["live"] is True
    assert invoke(stop("cam-s", "31", start + 900))["statusCode"] == 200  # the stop comes, with its sequence
    state = streams_json(sink)["cam-s"]
    assert (state["live"], state["sequence"], state["since"], state["ended"], state["sessions"]) == (
        False, "31", start, start + 900, 1)
    assert state["reconciled"] is True


def test_a_stream_shown_live_that_css_lists_offline_gets_an_end(sink: Path, live: LiveServer, invoke: Any,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECONCILE_LOOKBACK_SECONDS", "600")  # the pushes started before the window
    runtime.reset()
    now = int(time.time())  # not NOW: the module's clock is read at collection, minutes before this test runs
    for name, at in (("gone", now - 5000), ("on-air", now - 5000), ("just-pushed", now - 30)):
        assert invoke(push(name, "1", at))["statusCode"] == 200
    live.state.online.add("on-air")
    summary = run()
    assert summary["reconciled"] == 1 and summary["gaps"] == 1
    state = streams_json(sink)
    assert state["gone"]["live"] is False and state["gone"]["reconciled"] is True
    assert state["on-air"]["live"] is True and state["just-pushed"]["live"] is True  # online; or too recent
    made = [json.loads(v) for k, v in tree(sink).items() if k.startswith("cos/streams/gone/") and "-r" in k]
    assert made[0]["basis"] == "online_list" and made[0]["end_estimated"] is True
    assert run()["reconciled"] == 0


def test_an_attempt_that_cannot_be_read_back_is_a_gap_told_once(sink: Path, live: LiveServer) -> None:
    at = NOW - 1200
    live.state.records += [Record("cam-6", at, 100, '{"event_type":100,"stream_id":"cam-6","file_', -1, "timeout"),
                           Record("cam-6", at + 60, 100, "", 0)]  # delivered, nothing to read: not a gap
    live.state.sessions.append(Session("cam-6", at - 100))
    live.state.online.add("cam-6")
    summary = run()
    assert summary["gaps"] == 2  # the lost recording, and the push CSS reports that no callback shows
    lost = [r for r in local_records(sink) if r["kind"] == "delivery_gap" and r["gap"] == "callback_100"]
    assert len(lost) == 1 and lost[0]["result_code"] == "-1" and lost[0]["stream_id"] == "cam-6"
    assert run()["gaps"] == 0


def test_a_recovered_body_that_does_not_validate_is_dead_lettered(sink: Path, live: LiveServer) -> None:
    at = NOW - 1000
    bad = {**sample(100), "stream_id": "cam-7", "end_time": at, "file_size": {"not": "a number"}}
    live.state.records.append(kept(bad, result_code=-1))
    live.state.sessions.append(Session("cam-7", at - 500, at))
    summary = run()
    assert summary["invalid"] == 1
    assert [k for k in tree(sink) if k.startswith("cos/deadletter/")]


def test_a_dry_run_writes_nothing_at_all(sink: Path, live: LiveServer, invoke: Any) -> None:
    start = NOW - 2000
    assert invoke(push("cam-8", "5", start))["statusCode"] == 200
    live.state.sessions.append(Session("cam-8", start, start + 100))
    live.state.sessions.append(Session("cam-9", start, start + 100))
    live.state.records.append(kept(stop("cam-8", "5", start + 100), result_code=-1))
    before = tree(sink)
    summary = run(dry_run=True)
    assert tree(sink) == before
    assert summary["recovered"] == {"0": 1} and summary["reconciled"] == 2  # cam-9's start and end only
    assert any("recover 0" in w for w in summary["would"]) and any("cam-9" in w for w in summary["would"])


def test_every_recovered_family_is_stored_as_delivered(sink: Path, live: LiveServer) -> None:
    """Whatever CSS kept, of any type: the same objects as a delivery (here: the 17 samples for one stream)."""
    from tests.conftest import SAMPLES

    at = NOW - 3000
    for event_type in SAMPLES:
        body = {**sample(event_type), "stream_id": "cam-all"}
        live.state.records.append(kept(body, result_code=-1, at=at + event_type))
    live.state.sessions.append(Session("cam-all", at))
    live.state.online.add("cam-all")
    summary = run()
    assert sum(summary["recovered"].values()) + summary["invalid"] == len(SAMPLES) and summary["failed"] == 0
    archived = [k for k in tree(sink) if k.startswith("cos/events/")]
    assert len(archived) == len(SAMPLES)


def test_spans_retention_pages_and_rate_are_respected(sink: Path, live: LiveServer, invoke: Any) -> None:
    since = NOW - 20 * 86_400  # beyond the callback records' 14 days
    assert invoke(push("old-live", "1", NOW - 16 * 86_400))["statusCode"] == 200  # shown live: the whole window
    live.state.sessions += [Session(f"s{i:03d}", NOW - 3 * 86_400 + i * 60, NOW - 3 * 86_400 + i * 60 + 30)
                            for i in range(150)]  # two pages of sessions
    live.state.records += [kept(push("s000", "1", NOW - 3 * 86_400), result_code=-1)]
    live.throttle["DescribeCallbackRecordsList"] = 2  # the API says slow down, twice
    summary = reconcile.run(runtime.current(), time.monotonic() + 300, since=since)
    assert live.refused == ["DescribeCallbackRecordsList"] * 2 and summary["throttled"] == 2
    assert any("14 days" in c for c in summary["clipped"])
    for params in live.actions("DescribeCallbackRecordsList"):
        begin, end = (css_records.parse_time(params[k]) for k in ("StartTime", "EndTime"))
        assert begin is not None and end is not None and 0 < end - begin <= 86_400 and begin >= NOW - 14 * 86_400
    assert live.busiest_second("DescribeCallbackRecordsList") <= 20
    pages = [p["PageNum"] for p in live.actions("DescribeLiveStreamEventList")]
    assert pages == [1, 2]
    assert summary["streams"] == 151 and summary["recovered"] == {"1": 1}
    role = json.loads((ROOT / "deploy" / "cam-policy.json").read_text())
    granted = {a.split(":", 1)[1] for s in role["statement"] for a in s["action"] if a.startswith("name/live:")}
    assert {action for _, action, _ in live.calls} == set(summary["calls"]) == granted  # what the role may call
    # one call per stream and day of its sessions; the live stream's 14 days (clipped) one a day
    assert summary["calls"]["DescribeCallbackRecordsList"] == 150 + 2 + 14


def test_an_event_list_over_its_entry_limit_is_queried_in_halves(sink: Path, live: LiveServer,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(css_records, "EVENT_LIST_MAX_ENTRIES", 40)  # the API's 10,000, made small
    live.state.sessions += [Session(f"h{i:03d}", NOW - 3600 + i * 20, NOW - 3600 + i * 20 + 5) for i in range(100)]
    found, _ = css_records.sessions(reconcile.LiveApi(runtime.current().settings, 1000, time.monotonic() + 60),
                                    NOW - 4000, NOW - 60, NOW)
    assert len(found) == 100
    totals = [p for p in live.actions("DescribeLiveStreamEventList") if p["PageNum"] == 1]
    assert len(totals) > 2  # the first answer said 100 > 40: halved until each half fits


def test_a_run_out_of_calls_leaves_the_rest_to_the_next_timer_run(sink: Path, live: LiveServer,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECONCILE_MAX_CALLS", "12")
    runtime.reset()
    live.state.sessions += [Session(f"c{i:02d}", NOW - 3000 + i, NOW - 2000 + i) for i in range(25)]
    event = {"Type": "Timer", "TriggerName": "jobs", "Time": "2026-12-05T00:00:00Z", "Message": "reconcile"}
    checked, rounds = 0, 0
    while rounds < 10:
        rounds += 1
        answer = timer.handle(event, {"time_limit_in_ms": 30000})["reconcile"]
        assert "error" not in answer
        checked += answer.get("streams", 0)
        if not answer.get("stopped"):
            break
        assert answer["remaining"] > 0
    assert checked == 25 and rounds > 2
    made = {k.split("/")[2] for k in tree(sink) if k.startswith("cos/streams/")}
    assert made == {f"c{i:02d}" for i in range(25)}  # every stream corrected, over several runs
    assert timer.handle(event, None)["reconcile"] == {"job": "reconcile",
                                                      "skipped": "not due (RECONCILE_EVERY_SECONDS)"}


def test_the_timer_paces_reconcile_and_zero_turns_it_off(sink: Path, live: LiveServer,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    event = {"Type": "Timer", "TriggerName": "jobs", "Time": "2026-12-05T00:00:00Z", "Message": ""}
    first = timer.handle(event, None)
    assert set(first) >= {"forward", "reconcile"} and "skipped" not in first["reconcile"]
    assert "skipped" in timer.handle(event, None)["reconcile"]
    monkeypatch.setenv("RECONCILE_EVERY_SECONDS", "0")
    runtime.reset()
    assert "off" in timer.handle(event, None)["reconcile"]["skipped"]
    assert "skipped" not in run()  # the command always runs


def test_an_api_that_fails_stops_the_run_and_says_so(sink: Path, live: LiveServer) -> None:
    live.inject("POST", "DescribeLiveStreamEventList", "500")
    summary = run()
    assert "before any stream" in summary["stopped"]
    live.state.sessions.append(Session("x", NOW - 900))
    wrong = LiveServer(SECRET_ID, "another-key").start()  # a signature the service refuses
    try:
        monkeypatch_env = {"LIVE_ENDPOINT_URL": wrong.url}
        import os

        old = os.environ["LIVE_ENDPOINT_URL"]
        os.environ.update(monkeypatch_env)
        runtime.reset()
        refused = run()
        os.environ["LIVE_ENDPOINT_URL"] = old
    finally:
        wrong.stop()
    assert "AuthFailure.SignatureFailure" in refused["stopped"]


@pytest.mark.parametrize("fault", ["html", "empty", "not_json", "no_response", "empty_response", "plain_other",
                                   "drop", "500"])
@pytest.mark.parametrize("action", ["DescribeLiveStreamEventList", "DescribeCallbackRecordsList"])
def test_an_api_answering_garbage_stops_the_run_cleanly_and_the_next_run_finishes(
        sink: Path, live: LiveServer, fault: str, action: str) -> None:
    at = NOW - 1500
    live.state.sessions.append(Session("g-1", at, at + 60))
    live.state.records.append(kept(push("g-1", "1", at), -1))
    live.inject("POST", action, fault)
    event = {"Type": "Timer", "TriggerName": "jobs", "Time": "2026-12-05T00:00:00Z", "Message": "reconcile"}
    first = timer.handle(event, None)["reconcile"]
    assert "error" not in first and first["stopped"] and first["recovered"] == {}
    assert timer.handle(event, None)["reconcile"]["skipped"] == "not due (RECONCILE_EVERY_SECONDS)"  # no hammering
    second = run()
    assert not second.get("stopped") and second["recovered"] == {"1": 1}


def test_a_stream_the_api_refuses_is_skipped_and_a_failing_online_list_does_not_stop_recovery(
        sink: Path, live: LiveServer) -> None:
    at = NOW - 1500
    for name in ("r-1", "r-2", "r-3"):
        live.state.sessions.append(Session(name, at, at + 60))
        live.state.records += [kept(push(name, "1", at), -1), kept(stop(name, "1", at + 60), -1)]
    live.refuse_streams.add("r-2")  # a name the API refuses will be refused on every run: never a stuck cursor
    live.inject("POST", "DescribeLiveStreamOnlineList", "500")
    summary = run()
    assert summary["recovered"] == {"1": 2, "0": 2} and summary["streams"] == 2 and not summary.get("stopped")
    assert any("r-2" in e and "InvalidParameterValue" in e for e in summary["errors"])
    assert any("online list" in e for e in summary["errors"])


def test_a_relative_sink_folder_means_the_same_folder_to_the_timers_child(tmp_path: Path, live: LiveServer,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    at = NOW - 1500
    live.state.sessions.append(Session("rel-1", at, at + 60))
    live.state.records.append(kept(push("rel-1", "1", at), -1))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("LOCAL_SINK_DIR", "relative-out")
    runtime.reset()
    event = {"Type": "Timer", "TriggerName": "jobs", "Time": "2026-12-05T00:00:00Z", "Message": "reconcile"}
    assert timer.handle(event, None)["reconcile"]["recovered"] == {"1": 1}
    assert [p for p in (work / "relative-out" / "cos" / "events").rglob("*.json")]


def test_recovered_events_reach_cos_and_cls_and_are_forwarded(cloud: Any, live: LiveServer) -> None:
    from tests.fake_downstream import Downstream

    downstream = Downstream(key=KEY).start()
    try:
        cloud.configure(FORWARD_RULES=f"*={downstream.url}/hook")
        at = NOW - 1500
        live.state.sessions.append(Session("cam-c", at, at + 60))
        live.state.records += [kept(push("cam-c", "3", at), -1), kept(stop("cam-c", "3", at + 60), -1)]
        summary = run()
        assert summary["recovered"] == {"1": 1, "0": 1}
        assert any(k.startswith("events/1/") for k in cloud.objects())
        flagged = [r for r in cloud.records() if r.get("kind") in ("stream_start", "stream_end")]
        assert len(flagged) == 2 and all(r.get("recovered") == "true" for r in flagged)
        assert len([k for k in cloud.objects() if k.startswith("outbox/")]) == 2  # the forward job sends them
        from cssai.jobs import forward

        sent = forward.run(runtime.current(), time.monotonic() + 30)
        assert sent["delivered"] == 2 and len(downstream.received) == 2
        assert run()["recovered"] == {} and not [k for k in cloud.objects() if k.startswith("outbox/")]
    finally:
        downstream.stop()


def test_the_command_as_an_operator_uses_it(sink: Path, live: LiveServer, tmp_path: Path) -> None:
    live.state.sessions.append(Session("op-1", NOW - 1000, NOW - 900))
    env = {"PATH": "/usr/bin:/bin", "CSS_CALLBACK_KEYS": KEY, "LOCAL_SINK_DIR": str(sink),
           "LIVE_ENDPOINT_URL": live.url, "TENCENTCLOUD_SECRETID": SECRET_ID, "TENCENTCLOUD_SECRETKEY": SECRET_KEY,
           "TENCENTCLOUD_SESSIONTOKEN": TOKEN}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "index.py", "reconcile", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)

    without = subprocess.run([sys.executable, "index.py", "reconcile"], cwd=ROOT, capture_output=True, text=True,
                             env={k: v for k, v in env.items() if not k.startswith("TENCENTCLOUD_")}, timeout=60)
    assert without.returncode == 1 and "set TENCENTCLOUD_SECRETID and TENCENTCLOUD_SECRETKEY" in without.stderr
    dry = cli("--dry-run")
    assert dry.returncode == 0 and "would reconcile start of op-1" in dry.stdout and not (sink / "cos").exists()
    done = json.loads(cli("--json").stdout)
    assert done["reconciled"] == 2 and done["calls"]["DescribeCallbackRecordsList"] == 1
    day = time.strftime("%Y-%m-%d", time.gmtime(NOW - 86_400))
    assert cli("--since", day, "--stream", "op-1").returncode == 0
    for wrong, says in ((("--since", "yesterday"), "YYYY-MM-DD"), (("--since", "2026-12-05", "--until", "2026-12-01"),
                                                                  "is not before"),
                        (("--until", "2099-01-01"), "future"), (("--dryrun",), "--dry-run"),
                        (("--since", "2099-01-01"), "not before the window's default end")):
        bad = cli(*wrong)
        assert bad.returncode == 2 and says in bad.stderr, (wrong, bad.stderr)


def test_the_callback_path_never_imports_the_reconcile_job_or_the_live_sdk(tmp_path: Path) -> None:
    child = """
import json, sys
import index
from cssai.ops import events
answers = []
for name in sys.argv[1:]:
    body = json.load(open(name))
    answers.append(index.main_handler(events.wrap(events.signed(body, "layout-key"), "url"), None)["statusCode"])
print(json.dumps({"answers": answers, "loaded": sorted(m for m in sys.modules if m.startswith(
    ("tencentcloud.live", "cssai.jobs.reconcile", "cssai.jobs.live_api", "cssai.jobs.css_records",
     "cssai.jobs.corrections")))}))
"""
    import os

    env = {**os.environ, "CSS_CALLBACK_KEYS": "layout-key", "LOCAL_SINK_DIR": str(tmp_path / "out"),
           "FORWARD_RULES": "*=http://127.0.0.1:9/hook", "FORWARD_TIMEOUT_SECONDS": "0.5"}
    files = [str(p) for p in sorted((ROOT / "samples").glob("*.json")) if not p.name.startswith("314")]
    done = subprocess.run([sys.executable, "-c", child, *files], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(result["answers"]) == {200} and result["loaded"] == []


def test_a_timer_shaped_http_body_is_still_a_callback(invoke: Any) -> None:
    answer = invoke({"Type": "Timer", "TriggerName": "jobs", "Message": "reconcile"}, sign=False)
    assert answer["statusCode"] == 401 and "sign" in answer_body(answer)["message"]
    assert "reconcile" not in answer_body(answer)  # no job ran: it is a refused callback


def test_a_realistic_day_is_corrected_within_the_api_limits(sink: Path, live: LiveServer, invoke: Any) -> None:
    """Hundreds of streams over a day, a few pushes, stops and a recording lost, a body cut short, a session CSS
    kept no record of: one operator's run over that day recovers, reconciles and flags each, within the limits."""
    from tests import day_of_streams

    day_start = (NOW // 86_400 - 2) * 86_400
    stored = []

    def deliver(body: dict[str, Any]) -> None:
        stored.append(invoke(body, shape="direct")["statusCode"])

    day = day_of_streams.build(live.state, deliver, day_start, key=KEY)
    assert set(stored) == {200} and len(day.truth) >= 250
    started = time.monotonic()
    summary = run(since=day.start, until=day.end)
    elapsed = time.monotonic() - started
    print(json.dumps({"day": summary | {"would": None}, "seconds": round(elapsed, 1), "sessions": day.sessions,
                      "streams": len(day.truth)}))
    assert summary["recovered"] == {t: day.lost[t] for t in ("1", "0", "100")} and summary["failed"] == 0
    assert summary["reconciled"] == 2 and summary["gaps"] == 3  # the cut-short attempt, and the unrecorded session
    assert live.refused == [] and all(live.busiest_second(a) <= 20 for a in summary["calls"])
    assert summary["calls"]["DescribeCallbackRecordsList"] <= 3 * len(day.truth)  # about one a session at most
    states = streams_json(sink)
    for name, (begin, end) in day.truth.items():
        state = states[name]
        assert (state["live"], state["since"], state["ended"]) == (False, begin, end), (name, state)
    again = run(since=day.start, until=day.end)
    assert again["recovered"] == {} and again["reconciled"] == 0 and again["gaps"] == 0
    assert live.refused == [] and again.get("throttled", 0) == 0  # paced across runs too


def test_a_run_killed_midway_is_finished_by_the_next_without_duplicates(sink: Path, live: LiveServer) -> None:
    """SCF kills the container while the job waits on CSS: the lease lapses, the next run does the rest."""
    at = NOW - 2500
    for i in range(6):
        live.state.sessions.append(Session(f"k{i}", at + i, at + i + 300))
        live.state.records += [kept(push(f"k{i}", "1", at + i), -1), kept(stop(f"k{i}", "1", at + i + 300), -1)]
    env = {"PATH": "/usr/bin:/bin", "CSS_CALLBACK_KEYS": KEY, "LOCAL_SINK_DIR": str(sink),
           "LIVE_ENDPOINT_URL": live.url, "TENCENTCLOUD_SECRETID": SECRET_ID, "TENCENTCLOUD_SECRETKEY": SECRET_KEY,
           "TENCENTCLOUD_SESSIONTOKEN": TOKEN}
    command = [sys.executable, "index.py", "reconcile", "--json"]
    child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    live.inject("POST", "DescribeCallbackRecordsList", "slow", times=3, delay=0.0)
    live.inject("POST", "DescribeCallbackRecordsList", "kill_before", pid=child.pid)
    child.communicate(timeout=120)
    assert child.returncode == -9
    archived = [k for k in tree(sink) if k.startswith("cos/events/")]
    assert len(archived) == 6  # three streams' push and stop were stored before the kill
    deadline = time.monotonic() + 30
    while True:  # the killed run's lease lapses within seconds
        again = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        summary = json.loads(again.stdout)
        if "skipped" not in summary or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert summary["recovered"] == {"1": 3, "0": 3} and summary["already"] == 6, summary
    assert len([k for k in tree(sink) if k.startswith("cos/events/")]) == 12
    records = [(r["kind"], r["event_id"]) for r in local_records(sink) if r["kind"] in ("stream_start", "stream_end")]
    assert len(records) == len(set(records)) == 12  # each once
    assert all(not s["live"] and not s["reconciled"] for s in streams_json(sink).values())


def test_the_timer_runs_reconcile_in_a_child_and_its_container_never_loads_the_live_sdk(
        sink: Path, live: LiveServer) -> None:
    """A timer tick may land in a container that then serves a 6 MB callback: the live SDK (~17 MB) stays out."""
    at = NOW - 1200
    live.state.sessions.append(Session("iso-1", at, at + 60))
    live.state.records.append(kept(push("iso-1", "2", at), -1))
    child = """
import json, sys
import index
answer = index.main_handler({"Type": "Timer", "TriggerName": "jobs", "Time": "2026-12-05T00:00:00Z",
                             "Message": "forward,reconcile"}, {"time_limit_in_ms": 30000})
print(json.dumps({"answer": answer, "loaded": sorted(m for m in sys.modules if m.startswith(
    ("tencentcloud.live", "cssai.jobs.reconcile", "cssai.jobs.live_api")))}))
"""
    import os

    done = subprocess.run([sys.executable, "-c", child], cwd=ROOT, env=dict(os.environ), capture_output=True,
                          text=True, timeout=120, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["loaded"] == []
    assert result["answer"]["reconcile"]["recovered"] == {"1": 1} and "forward" in result["answer"]
    assert '"recovered": true' in done.stderr  # the child's log lines reach the function's log


def test_an_answer_without_its_list_is_empty_only_when_the_api_says_so() -> None:
    from cssai.jobs.live_api import LiveApiError, listed

    assert listed("X", {"DataInfoList": None, "RequestId": "r-1"}, "DataInfoList") == []  # null for empty
    assert listed("X", {"DataInfoList": None, "TotalNum": 0}, "DataInfoList") == []
    assert listed("X", {"DataInfoList": [{"a": 1}, "junk"], "RequestId": "r"}, "DataInfoList") == [{"a": 1}]
    for garbage in ({}, {"RequestId": None}, {"DataInfoList": "x", "RequestId": "r"}):
        with pytest.raises(LiveApiError, match="UnreadableAnswer"):
            listed("X", garbage, "DataInfoList")
