"""Ordinary mistakes through the real CLI (a subprocess): one clear line, the right exit, no traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLES

USAGE, FAILURE = 2, 1


def cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CSS_", "CALLBACK_", "COS_", "CLS_", "NOTIFY"))}
    base.update(LOCAL_SINK_DIR=str(tmp_path / "out"), **env)
    return subprocess.run([sys.executable, str(ROOT / "index.py"), *args], cwd=tmp_path, env=base,
                          capture_output=True, text=True, timeout=60, check=False)


def assert_clear(run: subprocess.CompletedProcess[str], status: int, *phrases: str) -> None:
    text = run.stdout + run.stderr
    assert run.returncode == status, text
    assert "Traceback" not in text
    for phrase in phrases:
        assert phrase in text, (phrase, text)


def test_no_arguments_print_the_usage_with_every_command(tmp_path: Path) -> None:
    run = cli(tmp_path)
    assert_clear(run, USAGE, "invoke", "serve", "sign", "send", "replay", "report", "doctor")


def test_a_typo_in_a_command_is_not_taken_for_a_file(tmp_path: Path) -> None:
    assert_clear(cli(tmp_path, "sevre"), USAGE, "unknown command 'sevre'", "did you mean 'serve'?")


def test_help_shows_defaults(tmp_path: Path) -> None:
    run = cli(tmp_path, "serve", "--help", COLUMNS="200")
    assert_clear(run, 0, "(default: 9000)", "(default: 127.0.0.1)")
    assert_clear(cli(tmp_path, "report", "--help", COLUMNS="200"), 0, "(default: reports)", "(default: UTC)")


def test_a_batch_goes_on_past_bad_files_and_fails_at_the_end(tmp_path: Path) -> None:
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json")
    array = tmp_path / "array.json"
    array.write_text("[1, 2]")
    run = cli(tmp_path, "missing.json", str(bad_json), str(SAMPLES[349]), str(array), str(SAMPLES[344]))
    assert_clear(run, FAILURE, "missing.json: no such file", "bad.json: not valid JSON",
                 "array.json: not a JSON object", "3 of 5 file(s) not stored")
    assert run.stdout.count(": stored (HTTP 200)") == 2  # the good files after the bad ones were stored


def test_outcomes_per_file(tmp_path: Path) -> None:
    invalid = tmp_path / "invalid.json"
    invalid.write_text('{"event_type": 349, "stream_id": "s", "items": [{"begin_time": "x", "end_time": 1}]}')
    first = cli(tmp_path, str(SAMPLES[347]), str(invalid))
    assert_clear(first, FAILURE, "347_smart_erasing.json: stored (HTTP 200)", "invalid.json: invalid (HTTP 422")
    again = cli(tmp_path, str(SAMPLES[347]))
    assert_clear(again, 0, "347_smart_erasing.json: duplicate (HTTP 200)")
    refused = cli(tmp_path, str(SAMPLES[347]), "--key", "not-the-key", CSS_CALLBACK_KEYS="the-key")
    assert_clear(refused, FAILURE, "refused (HTTP 401: sign does not match)")


def test_a_bad_setting_names_the_variable(tmp_path: Path) -> None:
    run = cli(tmp_path, str(SAMPLES[345]), QUALITY_ALERT_THRESHOLDS="PSNR=high")
    assert_clear(run, FAILURE, "QUALITY_ALERT_THRESHOLDS")


@pytest.mark.parametrize(("args", "phrase"), [
    (["replay", "--date", "22-10-2025"], "'22-10-2025' is not a date: use YYYY-MM-DD"),
    (["replay", "--date", "2025-02-30"], "'2025-02-30' is not a date"),
    (["replay", "--type", "abc"], "'abc' is not an event_type"),
    (["report", "--stream", "s", "--since", "2025/07/10"], "'2025/07/10' is not a date"),
    (["report", "--stream", "s", "--tz", "Mars/Olympus"], "'Mars/Olympus' is not a time zone"),
    (["serve", "--port", "http"], "'http' is not a port"),
    (["send", "example.com/callback", str(SAMPLES[349])], "is not a URL: it must start with https://"),
    (["replay", "--source", "everything"], "invalid choice: 'everything'"),
])
def test_bad_option_values_are_usage_errors(tmp_path: Path, args: list[str], phrase: str) -> None:
    assert_clear(cli(tmp_path, *args), USAGE, phrase)


def test_replay_that_matches_nothing_says_so(tmp_path: Path) -> None:
    run = cli(tmp_path, "replay", "--date", "2025-10-22")
    assert_clear(run, 0, "0 event(s)", "nothing matched")


def test_an_unreachable_url_is_one_line(tmp_path: Path) -> None:
    run = cli(tmp_path, "send", "http://127.0.0.1:9/callback", str(SAMPLES[349]), "--timeout", "2")
    assert_clear(run, FAILURE, "HTTP 0 no answer", "is the URL right")


def test_serve_refuses_without_authentication_unless_dev_key(tmp_path: Path) -> None:
    assert_clear(cli(tmp_path, "serve", "--port", "0"), USAGE, "--dev-key", "CSS_CALLBACK_KEYS or CALLBACK_URL_TOKENS")


def test_serve_on_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = cli(tmp_path, "serve", "--port", str(port), CSS_CALLBACK_KEYS="k")
    assert_clear(run, FAILURE, f"port {port} is in use", "--port")


def test_serve_prints_the_url_to_post_to(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSS_")}
    env.update(LOCAL_SINK_DIR=str(tmp_path / "out"), CALLBACK_URL_TOKENS="tok-aaaaaaaaaaaaaaaaaaaa")
    proc = subprocess.Popen([sys.executable, str(ROOT / "index.py"), "serve", "--port", "0"], cwd=tmp_path, env=env,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline() if proc.stderr else ""
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert "POST callbacks to http://127.0.0.1:" in line and "/callback (append ?token=" in line
    assert "tok-aaaaaaaaaaaaaaaaaaaa" not in line


def test_sign_with_a_missing_file(tmp_path: Path) -> None:
    assert_clear(cli(tmp_path, "sign", "nope.json"), FAILURE, "nope.json: no such file")
