"""``setup`` with the real SDKs against local COS and CLS servers that check signatures; ``.env`` reading."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from cssai.ops import cli
from tests.conftest import BUCKET, ROOT, SECRET_ID, SECRET_KEY, TOKEN, Cloud

INDEX = json.loads((ROOT / "deploy" / "cls-index.json").read_text(encoding="utf-8"))["Rule"]


@pytest.fixture
def fresh(cloud: Cloud, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Cloud:
    """An account where nothing exists yet: COS knows only its registered buckets, CLS is empty."""
    cloud.cos.registry = True
    monkeypatch.delenv("CLS_TOPIC_ID")
    monkeypatch.chdir(tmp_path)  # no .env here unless a test writes one
    return cloud


def run_setup(capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = cli.main(["setup"])
    out = capsys.readouterr()
    assert not [line for line in out.out.splitlines() if line.startswith("✗")]  # failures go to stderr
    return status, out.out + out.err


@pytest.mark.parametrize("no_index", ["rule null", "error code"])
def test_from_nothing_it_creates_everything_and_prints_the_env_lines(fresh: Cloud, capsys: pytest.CaptureFixture[str],
                                                                      no_index: str) -> None:
    fresh.cls.no_index_as_error = no_index == "error code"
    status, out = run_setup(capsys)
    assert status == 0, out
    assert fresh.cos.created == [BUCKET] and fresh.cls.calls == ["CreateLogset", "CreateTopic", "CreateIndex"]
    (topic,) = fresh.cls.topics
    assert fresh.cls.indexes[topic] == INDEX  # the file as sent: CreateIndex's Rule, nothing dropped
    assert f"COS_BUCKET={BUCKET}" in out and f"CLS_TOPIC_ID={topic}" in out and "3 created" not in out
    assert "4 created" in out


def test_a_second_run_creates_nothing_and_says_so(fresh: Cloud, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_setup(capsys)[0] == 0
    calls, created = list(fresh.cls.calls), list(fresh.cos.created)
    status, out = run_setup(capsys)
    assert status == 0 and "nothing to create: everything exists" in out
    assert fresh.cls.calls == calls and fresh.cos.created == created


@pytest.mark.parametrize("no_index", ["rule null", "error code"])
def test_what_exists_is_found_by_name_and_left_alone(fresh: Cloud, capsys: pytest.CaptureFixture[str],
                                                     no_index: str) -> None:
    fresh.cls.no_index_as_error = no_index == "error code"
    fresh.cos.buckets[BUCKET] = ""
    fresh.cls.logsets["logset-9"] = "css-callbacks"
    fresh.cls.topics["topic-9"] = ("logset-9", "css-callbacks")
    status, out = run_setup(capsys)
    assert status == 0 and fresh.cos.created == [] and fresh.cls.calls == ["CreateIndex"]
    assert "CLS_TOPIC_ID=topic-9" in out


@pytest.mark.parametrize("state", ["Enabled", "Suspended"])
def test_a_bucket_that_ever_had_versioning_is_refused(fresh: Cloud, capsys: pytest.CaptureFixture[str],
                                                      state: str) -> None:
    fresh.cos.buckets[BUCKET] = state
    status, out = run_setup(capsys)
    assert status == 1 and f"exists with versioning {state}" in out and "x-cos-forbid-overwrite" in out
    assert fresh.cos.created == []


def test_an_existing_different_index_is_reported_not_changed(fresh: Cloud, capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    fresh.cls.logsets["logset-1"] = "css-callbacks"
    fresh.cls.topics["topic-1"] = ("logset-1", "css-callbacks")
    theirs = {"FullText": {"CaseSensitive": False, "Tokenizer": ",", "ContainZH": False}}
    fresh.cls.indexes["topic-1"] = theirs
    status, out = run_setup(capsys)
    assert status == 0 and "differs from cls-index.json: left as it is" in out
    assert fresh.cls.indexes["topic-1"] == theirs and "CreateIndex" not in fresh.cls.calls


def test_a_topic_named_by_its_id(fresh: Cloud, capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    fresh.cls.logsets["logset-1"] = "mine"
    fresh.cls.topics["topic-7"] = ("logset-1", "mine")
    monkeypatch.setenv("CLS_TOPIC_ID", "topic-7")
    status, out = run_setup(capsys)
    assert status == 0 and "CLS topic topic-7 (ap-guangzhou): exists" in out
    monkeypatch.setenv("CLS_TOPIC_ID", "topic-404")
    status, out = run_setup(capsys)
    assert status == 1 and "CLS_TOPIC_ID names no topic" in out


def test_wrong_credentials_are_one_line_each_with_the_fix(fresh: Cloud, capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENCENTCLOUD_SECRETKEY", "not-the-key")
    status, out = run_setup(capsys)
    assert status == 1 and "Traceback" not in out
    assert "HTTP 403" in out and "AuthFailure.SignatureFailure" in out
    assert "cam-policy-operator.json" in out and fresh.cos.created == [] and fresh.cls.calls == []
    monkeypatch.delenv("TENCENTCLOUD_SECRETID")
    status, out = run_setup(capsys)
    assert status == 1 and "TENCENTCLOUD_SECRETID and TENCENTCLOUD_SECRETKEY are not set" in out


def test_the_index_file_is_a_rule_the_sdk_sends_unchanged() -> None:
    from tencentcloud.cls.v20201016 import models

    rule = models.RuleInfo()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the SDK warns of every field it does not know, and drops it
        rule._deserialize(INDEX)
    assert rule._serialize() == INDEX  # what the client puts in CreateIndex (AbstractModel._serialize)
    assert "FullText" not in INDEX  # none, rather than an empty FullTextInfo (full-text indexing, default settings)


def test_the_operator_policy_covers_what_setup_calls() -> None:
    policy = json.loads((ROOT / "deploy" / "cam-policy-operator.json").read_text(encoding="utf-8"))
    actions = {a.removeprefix("name/") for statement in policy["statement"] for a in statement["action"]}
    for action in ("cos:HeadBucket", "cos:PutBucket", "cos:GetBucketVersioning", "cls:DescribeLogsets",
                   "cls:CreateLogset", "cls:DescribeTopics", "cls:CreateTopic", "cls:DescribeIndex",
                   "cls:CreateIndex"):
        assert action in actions, action
    assert not any("Delete" in a or "Modify" in a for a in actions if a.startswith("cls:"))


# .env, as the deploy reads it ---------------------------------------------------------------------------------


def cli_run(tmp: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CSS_", "CALLBACK_", "COS_", "CLS_",
                                                                      "TENCENTCLOUD_", "LOCAL_SINK"))}
    return subprocess.run([sys.executable, str(ROOT / "index.py"), *args], cwd=tmp, env={**base, **env},
                          capture_output=True, text=True, timeout=60, check=False)


def test_doctor_reads_the_deploys_env_file_and_says_so(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("CSS_CALLBACK_KEYS=from-the-env-file-0123456789\nLOCAL_SINK_DIR=./from-env-file\n")
    run = cli_run(tmp_path, "doctor")
    assert "read .env (2 setting(s); the environment wins over the file)" in run.stderr
    assert "callback authentication: 1 callback key(s)" in run.stdout and "from-env-file" in run.stdout
    wins = cli_run(tmp_path, "doctor", LOCAL_SINK_DIR="./from-the-environment")
    assert "from-the-environment" in wins.stdout and "(1 setting(s)" in wins.stderr


def test_an_env_file_named_with_a_flag(tmp_path: Path) -> None:
    (tmp_path / "prod.env").write_text("CSS_CALLBACK_KEYS=k1-long-enough-0123456\n")
    run = cli_run(tmp_path, "doctor", "--env-file", "prod.env")
    assert "read prod.env" in run.stderr and "1 callback key(s)" in run.stdout
    missing = cli_run(tmp_path, "doctor", "--env-file", "nope.env")
    assert missing.returncode == 1 and "--env-file nope.env: no such file" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_local_trials_do_not_read_env_unless_asked(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"COS_BUCKET={BUCKET}\nCOS_REGION=ap-guangzhou\n")
    run = cli_run(tmp_path, str(ROOT / "samples" / "1_stream_push.json"))
    assert run.returncode == 0 and "read .env" not in run.stderr  # the samples stay in ./out
    assert (tmp_path / "out" / "cos" / "streams").is_dir()


def test_setup_from_the_command_line_with_the_operators_keys(fresh: Cloud, tmp_path: Path) -> None:
    env = {"COS_BUCKET": BUCKET, "COS_REGION": "ap-guangzhou", "CLS_REGION": "ap-guangzhou",
           "COS_ENDPOINT_URL": fresh.cos.url, "CLS_ENDPOINT_URL": fresh.cls.url, "TENCENTCLOUD_SECRETID": SECRET_ID,
           "TENCENTCLOUD_SECRETKEY": SECRET_KEY, "TENCENTCLOUD_SESSIONTOKEN": TOKEN}
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    first = cli_run(tmp_path, "setup")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "✓ COS bucket" in first.stdout and "created" in first.stdout and "read .env" in first.stderr
    again = cli_run(tmp_path, "setup")
    assert again.returncode == 0 and "nothing to create: everything exists" in again.stdout
