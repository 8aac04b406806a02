"""Callback authentication as CSS sends it: signed bodies, URL tokens, both, or neither."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import index
from cssai import auth, runtime
from cssai.ops import events
from tests.conftest import KEY, answer_body, sample, tree

TOKEN_A = "tok-aaaaaaaaaaaaaaaaaaaaaaaa"
TOKEN_B = "tok-bbbbbbbbbbbbbbbbbbbbbbbb"


def configure(monkeypatch: pytest.MonkeyPatch, keys: str | None, tokens: str | None) -> None:
    for name, value in (("CSS_CALLBACK_KEYS", keys), ("CALLBACK_URL_TOKENS", tokens)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    runtime.reset()


def call(body: dict[str, Any], shape: str, token: str | None = None, *, signed: bool) -> dict[str, Any]:
    payload = events.signed(body, KEY) if signed else body
    event = events.wrap(payload, shape)
    if token is not None and shape != "direct":
        event["queryString"] = {"token": token}
        if shape == "apigw":
            event["queryStringParameters"] = {"token": token}
    return index.main_handler(event, None)


@pytest.mark.parametrize("shape", ["apigw", "url"])
def test_tokens_only_accept_unsigned_callbacks_with_the_right_token(
    monkeypatch: pytest.MonkeyPatch, sink: Path, shape: str
) -> None:
    configure(monkeypatch, None, f"{TOKEN_A},{TOKEN_B}")
    assert call(sample(349), shape, TOKEN_A, signed=False)["statusCode"] == 200
    assert call(sample(344), shape, TOKEN_B, signed=False)["statusCode"] == 200  # rotation: both accepted
    assert call(sample(347), shape, TOKEN_A, signed=True)["statusCode"] == 200  # a t/sign is not needed
    before = tree(sink)
    for token in (None, "", "tok-wrong-wrong-wrong-wrong", TOKEN_A + "x", TOKEN_A[:-1]):
        answer = call({**sample(345), "stream_id": "x"}, shape, token, signed=False)
        assert answer["statusCode"] == 401, token
        assert "token" in answer_body(answer)["message"]
    assert tree(sink) == before


def test_tokens_only_refuse_a_direct_invocation(monkeypatch: pytest.MonkeyPatch, sink: Path) -> None:
    configure(monkeypatch, None, TOKEN_A)
    answer = call(sample(349), "direct", signed=True)
    assert answer["statusCode"] == 401 and answer_body(answer)["message"] == auth.DIRECT_NEEDS_KEY
    assert tree(sink) == {}


@pytest.mark.parametrize("shape", ["apigw", "url"])
def test_both_configured_both_checks_apply(monkeypatch: pytest.MonkeyPatch, sink: Path, shape: str) -> None:
    configure(monkeypatch, KEY, TOKEN_A)
    assert call(sample(349), shape, TOKEN_A, signed=True)["statusCode"] == 200
    assert call(sample(344), shape, None, signed=True)["statusCode"] == 401  # signed, but no token
    assert call(sample(344), shape, TOKEN_A, signed=False)["statusCode"] == 401  # token, but unsigned
    assert call(sample(344), shape, "tok-wrong-wrong-wrong-wrong", signed=True)["statusCode"] == 401
    assert call(sample(344), "direct", signed=True)["statusCode"] == 200  # no URL: the key alone


@pytest.mark.parametrize("shape", ["apigw", "url", "direct"])
def test_an_unsigned_callback_is_told_what_to_configure(
    monkeypatch: pytest.MonkeyPatch, sink: Path, capsys: pytest.CaptureFixture[str], shape: str
) -> None:
    configure(monkeypatch, KEY, None)
    answer = call(sample(349), shape, signed=False)
    assert answer["statusCode"] == 401
    assert answer_body(answer)["message"] == auth.NO_SIGNATURE
    assert "CSS_CALLBACK_KEYS" in auth.NO_SIGNATURE and "CALLBACK_URL_TOKENS" in auth.NO_SIGNATURE
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["error"] == auth.NO_SIGNATURE and line["outcome"] == "refused"
    assert tree(sink) == {}


@pytest.mark.parametrize("shape", ["apigw", "url", "direct"])
def test_neither_configured_refuses_everything(monkeypatch: pytest.MonkeyPatch, sink: Path, shape: str) -> None:
    configure(monkeypatch, None, None)
    answer = call(sample(349), shape, TOKEN_A, signed=True)
    assert answer["statusCode"] == 401 and answer_body(answer)["message"] == auth.NOTHING_CONFIGURED
    assert tree(sink) == {}


def test_an_ambiguous_token_is_no_token(monkeypatch: pytest.MonkeyPatch, sink: Path) -> None:
    configure(monkeypatch, None, TOKEN_A)
    event = events.wrap(sample(349), "apigw")
    event["queryString"] = {"token": TOKEN_A}
    event["queryStringParameters"] = {"token": "tok-other-other-other-other"}
    assert index.main_handler(event, None)["statusCode"] == 401
    event = events.wrap(sample(349), "url")
    event["queryString"] = {"token": [TOKEN_A, TOKEN_A]}
    assert index.main_handler(event, None)["statusCode"] == 401
    assert tree(sink) == {}


def test_a_token_never_reaches_a_log_line_an_answer_or_the_archive(
    monkeypatch: pytest.MonkeyPatch, sink: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    configure(monkeypatch, None, TOKEN_A)
    answers = [call(sample(t), "url", TOKEN_A, signed=False) for t in (344, 345, 347, 349)]
    answers.append(call(sample(349), "url", TOKEN_A + "-nearly", signed=False))
    answers.append(call({**sample(349), "items": [{"begin_time": "x", "end_time": 1}]}, "url", TOKEN_A, signed=False))
    assert [a["statusCode"] for a in answers] == [200, 200, 200, 200, 401, 422]
    out = capsys.readouterr()
    seen = out.out + out.err + json.dumps(answers) + "".join(
        p.read_text(errors="replace") for p in sink.rglob("*") if p.is_file())
    assert "callback" in out.out  # the log lines were captured
    assert TOKEN_A not in seen


@pytest.mark.parametrize("tokens", ["short", "has space-aaaaaaaaaaaaaaa", "a&b=cccccccccccccccccccc", "undefined"])
def test_unusable_tokens_are_a_configuration_error(monkeypatch: pytest.MonkeyPatch, tokens: str) -> None:
    configure(monkeypatch, None, tokens)
    answer = call(sample(349), "url", tokens, signed=False)
    assert answer["statusCode"] == 503
    assert "CALLBACK_URL_TOKENS" in answer_body(answer)["message"]
