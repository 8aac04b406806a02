"""Outcomes that can be filtered in the log, and replay counts that match what happened."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import index
from cssai import runtime
from cssai.ops import cli, events
from tests.conftest import KEY, Invoke, sample


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def test_outcomes_in_the_log(invoke: Invoke, capsys: pytest.CaptureFixture[str]) -> None:
    body = sample(349)
    invalid = {**sample(349), "items": [{"begin_time": "x", "end_time": 1}]}
    invoke(body)
    invoke(body)
    invoke(invalid)
    invoke(invalid)
    invoke(body, key="wrong")
    stored, duplicate, dead, dead_again, refused = lines(capsys)
    assert (stored["outcome"], stored["level"], stored["writes"]) == ("stored", "INFO", 3)
    assert (duplicate["outcome"], duplicate["writes"], duplicate["status"]) == ("duplicate", 0, 200)
    assert (dead["outcome"], dead["level"], dead["status"]) == ("invalid", "WARNING", 422)
    assert "items.0.begin_time" in dead["error"]
    assert (dead_again["outcome"], dead_again["level"], dead_again["writes"]) == ("invalid", "WARNING", 0)
    assert (refused["outcome"], refused["level"], refused["status"]) == ("refused", "WARNING", 401)


def test_a_configuration_error_is_one_json_line_on_stdout(monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COS_BUCKET", "callbacks-1250000000")
    runtime.reset()
    answer = index.main_handler(events.wrap(events.signed(sample(349), KEY), "url"), None)
    assert answer["statusCode"] == 503
    out = capsys.readouterr()
    (line,) = [json.loads(x) for x in out.out.splitlines()]
    assert line == {"level": "ERROR", "msg": "configuration error", "outcome": "failed", "status": 503,
                    "variable": "COS_REGION", "error": "is required with COS_BUCKET"}
    assert out.err == ""


def test_replay_counts_a_still_invalid_dead_letter_as_still_invalid(
    invoke: Invoke, capsys: pytest.CaptureFixture[str]
) -> None:
    assert invoke({**sample(345), "average_score": "n/a"})["statusCode"] == 422
    capsys.readouterr()
    assert cli.main(["replay", "--source", "deadletter"]) == 0
    assert "1 event(s): 0 stored, 0 already stored, 1 still invalid, 0 failed" in capsys.readouterr().out
    assert cli.main(["replay", "--source", "deadletter", "--dry-run"]) == 0
    assert "1 event(s): would store 0, already stored 0, still invalid 1" in capsys.readouterr().out


def test_a_dry_run_says_what_it_would_do(invoke: Invoke, sink: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for event_type in (344, 349):
        assert invoke(sample(event_type))["statusCode"] == 200
    shutil.rmtree(sink / "cos" / "markers" / next(p.name for p in (sink / "cos" / "markers").iterdir()))
    capsys.readouterr()
    assert cli.main(["replay", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "2 event(s): would store 1, already stored 1, still invalid 0" in out
