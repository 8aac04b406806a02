"""``python index.py doctor`` against the local COS and CLS servers, healthy and not."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cssai.ops import cli
from tests.conftest import SECRET_KEY, TOKEN, Cloud


def doctor(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = cli.main(["doctor", *args])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_healthy_services_pass_every_check(cloud: Cloud, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = doctor(capsys)
    assert code == 0, out
    assert "✗" not in out and "checks passed" in out
    assert "✓ COS" in out and "✓ create-if-absent: a second put was refused (409); versioning: never enabled" in out
    assert "✓ CLS" in out and "accepted a record of kind doctor" in out
    assert [r["kind"] for r in cloud.records()] == ["doctor"]
    assert not [k for k in cloud.objects() if k.startswith("doctor/")]  # the probe was cleaned up
    assert SECRET_KEY not in out and TOKEN not in out


def test_a_versioned_bucket_fails_and_says_why(cloud: Cloud, capsys: pytest.CaptureFixture[str]) -> None:
    cloud.cos.versioned = True
    code, out = doctor(capsys)
    assert code == 1
    line = next(x for x in out.splitlines() if x.startswith("✗ create-if-absent"))
    assert "versioning: Enabled" in line and "duplicated" in line
    assert "never had versioning enabled" in out


def test_wrong_credentials_fail_with_the_fix(cloud: Cloud, capsys: pytest.CaptureFixture[str]) -> None:
    cloud.configure(TENCENTCLOUD_SECRETKEY="not-the-right-key")
    code, out = doctor(capsys)
    assert code == 1
    assert "✗ COS" in out and "HTTP 403" in out and "fix: check TENCENTCLOUD_SECRETID" in out
    assert "✗ CLS" in out and "AuthFailure" in out
    assert "not-the-right-key" not in out and TOKEN not in out


def test_missing_authentication_fails(cloud: Cloud, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CSS_CALLBACK_KEYS")
    code, out = doctor(capsys)
    assert code == 1
    assert "✗ callback authentication: neither CSS_CALLBACK_KEYS nor CALLBACK_URL_TOKENS" in out
    assert "fix: set CSS_CALLBACK_KEYS" in out


def test_tokens_alone_pass_with_a_note(cloud: Cloud, capsys: pytest.CaptureFixture[str]) -> None:
    cloud.configure(CSS_CALLBACK_KEYS="", CALLBACK_URL_TOKENS="tok-aaaaaaaaaaaaaaaaaaaa")
    code, out = doctor(capsys)
    assert code == 0, out
    assert "✓ callback authentication: 1 URL token(s) (CSS must call the URL with ?token=" in out
    assert "tok-aaaaaaaaaaaaaaaaaaaa" not in out


def test_a_bad_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COS_BUCKET", "undefined")
    code, out = doctor(capsys)
    assert code == 1
    assert "✗ settings: COS_BUCKET: is the string 'undefined'" in out and "fix: set COS_BUCKET" in out


def test_the_local_default_passes(sink: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = doctor(capsys)
    assert code == 0, out
    assert "✓ local sink: writing under" in out and "✓ CLS: not configured" in out


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict]]]:
    seen: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", seen
    server.shutdown()
    server.server_close()


def test_notify_posts_a_test_message(sink: Path, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch, webhook: tuple[str, list[dict]]) -> None:
    url, seen = webhook
    monkeypatch.setenv("NOTIFY_URL", url)
    code, out = doctor(capsys, "--notify")
    assert code == 0, out
    assert "✓ notifications: json webhook: posted, HTTP 200" in out
    assert seen and "doctor" in seen[0]["title"]
    monkeypatch.delenv("NOTIFY_URL")
    code, out = doctor(capsys, "--notify")
    assert code == 1 and "✗ notifications: --notify asked for a test message but NOTIFY_URL is not set" in out


def test_a_short_callback_key_is_a_warning_on_stderr(cloud: Cloud, capsys: pytest.CaptureFixture[str]) -> None:
    cloud.configure(CSS_CALLBACK_KEYS="long-enough-key-0123,short")
    code = cli.main(["doctor"])
    out = capsys.readouterr()
    assert code == 0  # a warning, not a failure
    assert "! callback authentication: callback key #2 of CSS_CALLBACK_KEYS is shorter than 16" in out.err
    assert "short" not in out.err.replace("shorter", "") and "✓ COS" in out.out


def test_failures_go_to_stderr_and_passes_to_stdout(cloud: Cloud, capsys: pytest.CaptureFixture[str]) -> None:
    cloud.configure(TENCENTCLOUD_SECRETKEY="not-the-right-key")
    assert cli.main(["doctor"]) != 0
    out = capsys.readouterr()
    assert "✗ COS" in out.err and "✗ COS" not in out.out and "✓ settings" in out.out
    assert "checks passed: fix the ✗ lines above" in out.err


FUNCTION = "https://1250000000-abcdefgh.ap-guangzhou.tencentscf.com"
GOOD_TOKEN = "a-callback-token-0123456789"


def templates(cloud: Cloud, begin_url: str, key: str, domains: tuple[str, ...] = ("push.example.com",)) -> None:
    state = cloud.live.state
    state.templates = [{"TemplateId": 7, "TemplateName": "receiver", "StreamBeginNotifyUrl": begin_url,
                        "StreamEndNotifyUrl": f"{FUNCTION}?token={GOOD_TOKEN}", "RecordNotifyUrl": "",
                        "CallbackKey": key}]
    state.rules = [{"TemplateId": 7, "DomainName": "push.example.com", "AppName": ""}]
    state.domains = [{"Name": d, "Type": 0} for d in domains] + [{"Name": "play.example.com", "Type": 1}]


def test_templates_that_point_here_with_token_and_key_pass(cloud: Cloud, capsys: pytest.CaptureFixture[str]) -> None:
    cloud.configure(FUNCTION_URL=FUNCTION, CALLBACK_URL_TOKENS=GOOD_TOKEN)
    templates(cloud, f"{FUNCTION}/?token={GOOD_TOKEN}", "test-callback-key-1")
    code, out = doctor(capsys)
    assert code == 0, out
    assert "✓ CSS callback URLs: 2 URL(s) in 1 rule(s) point at" in out and "with a token" in out
    assert "✓ CSS callback key" in out and "✓ push domains: all 1 push domain(s) have a callback rule" in out


def test_a_template_pointing_elsewhere_without_token_or_known_key_fails(cloud: Cloud,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    cloud.configure(FUNCTION_URL=FUNCTION, CALLBACK_URL_TOKENS=GOOD_TOKEN)
    templates(cloud, "https://old-backend.example.com/css?token=wrong-token-0123456789", "a-rotated-old-key",
              domains=("push.example.com", "push2.example.com"))
    code, out = doctor(capsys)
    assert code == 1
    assert "✗ CSS callback URLs" in out and "StreamBeginNotifyUrl: points at https://old-backend.example.com/css" in out
    assert "✗ CSS callback key: the CallbackKey of push.example.com (template 7)" in out
    assert "✗ push domains: 1 push domain(s) bound to no callback template: push2.example.com" in out
    assert "play.example.com" not in out  # a playback domain sends no callbacks
    assert "a-rotated-old-key" not in out and "wrong-token-0123456789" not in out and GOOD_TOKEN not in out
    cloud.configure(FUNCTION_URL="")
    templates(cloud, f"{FUNCTION}?t=1", "test-callback-key-1")
    assert "StreamBeginNotifyUrl: has no ?token=" in doctor(capsys)[1]


@pytest.mark.parametrize("fault", ["500", "empty_response", "html"])
def test_an_unreadable_template_answer_fails_instead_of_passing(cloud: Cloud, capsys: pytest.CaptureFixture[str],
                                                                fault: str) -> None:
    cloud.live.inject("POST", "DescribeLiveCallbackRules", fault)
    code, out = doctor(capsys)
    assert code == 1 and "✗ CSS callback templates" in out and "live:DescribeLiveCallbackRules" in out
