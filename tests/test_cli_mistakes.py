"""Ordinary mistakes through the real CLI (a subprocess): one clear line, the right exit, no traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLES, sample

USAGE, FAILURE = 2, 1


def cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CSS_", "CALLBACK_", "COS_", "CLS_", "NOTIFY"))}
    base.update({"LOCAL_SINK_DIR": str(tmp_path / "out"), **env})
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
    assert_clear(run, FAILURE, "0 event(s)", "nothing matched")  # a replay that replays nothing is not a success


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


# The frictions a newcomer met, each through the real CLI in a subprocess -------------------------------------


def test_a_bare_interpreter_gets_one_line_not_a_traceback(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-S", str(ROOT / "index.py"), "doctor"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60, check=False)  # -S: no site-packages
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "is not installed" in run.stderr and ".venv/bin/pip install -r requirements.txt" in run.stderr


def test_report_without_matplotlib_says_how_to_install_it(tmp_path: Path) -> None:
    script = ("import sys; sys.modules['matplotlib'] = None; sys.argv = ['index.py', 'report', '--stream', 's']; "
              f"sys.path.insert(0, {str(ROOT)!r}); import runpy; runpy.run_path({str(ROOT / 'index.py')!r}, "
              "run_name='__main__')")
    run = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                         check=False, env={**os.environ, "LOCAL_SINK_DIR": str(tmp_path / "out")})
    assert_clear(run, FAILURE, "report needs matplotlib", "requirements-ops.txt")


def test_report_into_a_folder_that_cannot_be_made(tmp_path: Path) -> None:
    assert cli(tmp_path, str(SAMPLES[344])).returncode == 0
    (tmp_path / "a-file").write_text("")
    run = cli(tmp_path, "report", "--stream", "livestream1", "--out", str(tmp_path / "a-file" / "reports"))
    assert_clear(run, FAILURE, "cannot write the report to", "a-file")


def test_an_unwritable_sink_fails_at_once_naming_the_folder_and_the_reason(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    started = time.monotonic()
    run = cli(tmp_path, str(SAMPLES[1]), LOCAL_SINK_DIR=str(tmp_path / "a-file" / "out"))
    assert time.monotonic() - started < 10  # not a stall until the deadline
    assert_clear(run, FAILURE, "HTTP 503: storage unavailable", str(tmp_path / "a-file" / "out"), "Not a directory")


def test_a_read_only_sink_fails_at_once_saying_so(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro", "tmpfs", str(folder)], capture_output=True,
                             check=False)
    if mounted.returncode != 0:
        pytest.skip("mounting a read-only tmpfs needs root (CI runs as root)")
    try:
        run = cli(tmp_path, str(SAMPLES[1]), LOCAL_SINK_DIR=str(folder / "out"))
        assert_clear(run, FAILURE, "HTTP 503", str(folder / "out"), "Read-only file system")
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def test_an_empty_setting_means_unset(tmp_path: Path) -> None:
    run = cli(tmp_path, str(SAMPLES[1]), LOCAL_SINK_DIR="", DEADLINE_SECONDS="")
    assert_clear(run, 0, "stored (HTTP 200)")
    assert (tmp_path / "out" / "cos" / "streams").is_dir()  # the documented ./out, not the current folder


def test_replay_and_report_that_find_nothing_say_where_they_looked(tmp_path: Path) -> None:
    assert cli(tmp_path, str(SAMPLES[344])).returncode == 0
    replayed = cli(tmp_path, "replay", "--date", "2024-01-01")
    assert_clear(replayed, FAILURE, "nothing matched under", str(tmp_path / "out" / "cos" / "events"),
                 "dates there: 2025-07-10")
    reported = cli(tmp_path, "report", "--stream", "nobody")
    assert_clear(reported, FAILURE, "no archived event of stream 'nobody'", "looked under",
                 str(tmp_path / "out" / "cos" / "events"), f"streams stored: {sample(344)['stream_id']}")
    assert reported.stdout == ""  # the failure is on stderr


def test_flag_typos_get_a_suggestion_and_help_shows_each_default_once(tmp_path: Path) -> None:
    assert_clear(cli(tmp_path, "replay", "--dryrun"), USAGE, "did you mean --dry-run?")
    assert_clear(cli(tmp_path, "streams", "--lvie"), USAGE, "did you mean --live?")
    helped = cli(tmp_path, "invoke", "--help", COLUMNS="200")
    assert "(default: None)" not in helped.stdout and "(default: first of CSS_CALLBACK_KEYS)" in helped.stdout
    assert "archive: every verified event" in cli(tmp_path, "replay", "--help", COLUMNS="200").stdout


def test_since_after_until_is_refused(tmp_path: Path) -> None:
    run = cli(tmp_path, "report", "--stream", "s", "--since", "2025-07-11", "--until", "2025-07-10")
    assert_clear(run, USAGE, "--since 2025-07-11 is after --until 2025-07-10")


def test_send_sums_up_and_with_tokens_only_sends_unsigned(tmp_path: Path) -> None:
    run = cli(tmp_path, "send", "http://127.0.0.1:9/callback?token=" + "t" * 20, str(SAMPLES[349]), "--timeout", "2",
              CALLBACK_URL_TOKENS="t" * 20)
    assert_clear(run, FAILURE, "sending unsigned bodies", "0 of 1 file(s) answered 200")
    assert "dev key" not in run.stderr
