"""Stream state survives CSS's ordering: pushes and stops in every order, repeated, some never arriving."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cssai import runtime
from cssai import streams as state
from tests.conftest import ROOT, Invoke, sample

T0 = 1_703_731_478


def push(stream: str, sequence: str, at: int) -> dict[str, Any]:
    return {**sample(1), "stream_id": stream, "channel_id": stream, "sequence": sequence, "event_time": at}


def stop(stream: str, sequence: str, at: int, errcode: int = 1) -> dict[str, Any]:
    return {**sample(0), "stream_id": stream, "channel_id": stream, "sequence": sequence, "event_time": at,
            "errcode": errcode, "push_duration": str((at - T0) * 1000)}


def expected(sessions: list[tuple[str, int | None, int | None]]) -> dict[str, Any]:
    """The rule, stated independently: the latest session (by start, else stop; then sequence) decides."""
    def order(s: tuple[str, int | None, int | None]) -> tuple[int, int]:
        seq, start, end = s
        return (start if start is not None else end if end is not None else -1), int(seq)

    seq, start, end = max(sessions, key=order)
    return {"live": start is not None and end is None, "sequence": seq, "since": start, "ended": end}


# A stream's history: up to 4 sessions; each has a push, a stop, or both (a session with neither never reached us).
session_plan = st.lists(
    st.tuples(st.booleans(), st.booleans()).filter(lambda pair: any(pair)), min_size=1, max_size=4)


@given(plan=session_plan, order=st.randoms(use_true_random=False), repeats=st.integers(0, 3))
@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_order_with_duplicates_gives_the_rules_answer(invoke: Invoke, sink: Path, plan: list[tuple[bool, bool]],
                                                          order: Any, repeats: int) -> None:
    stream = f"s{abs(hash((tuple(plan), repeats))) % 10**9}-{order.randint(0, 10**9)}"
    sessions, bodies = [], []
    for index, (has_push, has_stop) in enumerate(plan):
        seq = str(5_000_000_000_000_000_000 + index)
        start, end = T0 + 600 * index, T0 + 600 * index + 300
        sessions.append((seq, start if has_push else None, end if has_stop else None))
        bodies += [push(stream, seq, start)] * has_push + [stop(stream, seq, end)] * has_stop
    deliveries = bodies + [order.choice(bodies) for _ in range(repeats)]  # CSS retries
    order.shuffle(deliveries)
    for body in deliveries:
        assert invoke(body)["statusCode"] == 200
    (found,) = state.states(state.load(runtime.current().executor.objects, stream))
    assert {k: getattr(found, k) for k in ("live", "sequence", "since", "ended")} == expected(sessions)
    assert found.sessions == len(plan)


def test_a_quick_reconnect_whose_new_push_comes_before_the_old_stop(invoke: Invoke) -> None:
    for body in (push("anchor", "1", T0), push("anchor", "2", T0 + 5), stop("anchor", "1", T0 + 4)):
        assert invoke(body)["statusCode"] == 200
    (found,) = state.states(state.load(runtime.current().executor.objects, "anchor"))
    assert (found.live, found.sequence, found.since, found.ended) == (True, "2", T0 + 5, None)


def test_a_stop_whose_push_never_came(invoke: Invoke) -> None:
    assert invoke(stop("lonely", "9", T0 + 60, errcode=8))["statusCode"] == 200
    (found,) = state.states(state.load(runtime.current().executor.objects))
    assert (found.live, found.sequence, found.since, found.ended, found.stop_reason) == (
        False, "9", None, T0 + 60, "no_data")


def test_a_late_push_after_its_own_stop_does_not_revive_the_session(invoke: Invoke) -> None:
    for body in (stop("late", "3", T0 + 100), push("late", "3", T0)):
        assert invoke(body)["statusCode"] == 200
    (found,) = state.states(state.load(runtime.current().executor.objects, "late"))
    assert (found.live, found.since, found.ended) == (False, T0, T0 + 100)


def cli(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LOCAL_SINK_DIR": str(tmp / "out"), "CSS_CALLBACK_KEYS": "k" * 20}
    return subprocess.run([sys.executable, str(ROOT / "index.py"), *args], cwd=tmp, env=env, capture_output=True,
                          text=True, timeout=60, check=False)


def test_the_streams_command_as_an_operator_uses_it(tmp_path: Path) -> None:
    nothing = cli(tmp_path, "streams")
    assert nothing.returncode == 1 and "no push or stop events stored under" in nothing.stderr
    assert str(tmp_path / "out" / "cos" / "streams") in nothing.stderr  # says where it looked
    files = []
    for name, body in (("a.json", push("cam-1", "11", T0)), ("b.json", push("cam-2", "21", T0)),
                       ("c.json", stop("cam-2", "21", T0 + 30, errcode=13))):
        (tmp_path / name).write_text(json.dumps(body))
        files.append(name)
    assert cli(tmp_path, *files).returncode == 0
    listed = json.loads(cli(tmp_path, "streams", "--json").stdout)
    assert listed == [
        {"stream_id": "cam-1", "live": True, "sequence": "11", "since": T0, "ended": None, "stop_reason": None,
         "sessions": 1, "reconciled": False},
        {"stream_id": "cam-2", "live": False, "sequence": "21", "since": T0, "ended": T0 + 30,
         "stop_reason": "network", "sessions": 1, "reconciled": False},
    ]
    live = json.loads(cli(tmp_path, "streams", "--live", "--json").stdout)
    assert [s["stream_id"] for s in live] == ["cam-1"]
    table = cli(tmp_path, "streams", "--stream", "cam-2")
    assert table.returncode == 0 and "ended" in table.stdout and "network" in table.stdout
    typo = cli(tmp_path, "streams", "--lvie")
    assert typo.returncode == 2 and "Traceback" not in typo.stderr


@pytest.mark.parametrize("errcode,reason", [(1, "client_stopped"), (13, "network"), (8, "no_data"), (20, "no_data"),
                                            (18, "refused"), (77, "unknown"), (None, "unknown")])
def test_a_stops_errcode_gets_its_meaning(invoke: Invoke, sink: Path, errcode: int | None, reason: str) -> None:
    body = stop("why", "1", T0)
    body["errcode"] = errcode
    assert invoke(body)["statusCode"] == 200
    (doc,) = [json.loads(p.read_bytes()) for p in (sink / "cos" / "streams").rglob("*.json")]
    assert doc["stop_reason"] == reason and doc["stop_reason_text"]
