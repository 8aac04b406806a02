"""serve, sign, send and replay, through real HTTP on 127.0.0.1 and real sinks."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import index
from cssai import runtime
from cssai.ops import cli, events
from cssai.ops import replay as replaying
from cssai.ops.serve import make_server
from tests.conftest import AI_SAMPLES, KEY, ROOT, SAMPLES, Cloud, clip_key, local_records, sample, tree


@pytest.fixture
def server() -> Iterator[str]:
    httpd = make_server("127.0.0.1", 0, index.main_handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/callback"
    httpd.shutdown()
    httpd.server_close()


def post(url: str, data: bytes, method: str = "POST") -> tuple[int, dict]:
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_serve_answers_a_real_http_client(server: str, sink: Path) -> None:
    status, body = post(server, json.dumps(events.signed(sample(349), KEY)).encode())
    assert (status, body) == (200, {"code": 0})
    assert (sink / "cos" / clip_key(sample(349))).is_file()
    assert post(server, json.dumps(events.signed(sample(349), "wrong-key")).encode())[0] == 401
    assert post(server, b"{not json")[0] == 400
    assert post(server, b"\xff\xfe binary")[0] == 400  # sent on base64-encoded, refused as not UTF-8
    assert post(server, b"{}", method="PUT")[0] == 405
    with urllib.request.urlopen(server, timeout=10) as response:
        assert response.status == 200 and json.loads(response.read())["status"] == "ok"


def test_serve_passes_the_peer_address_not_a_forged_header(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLBACK_ALLOWED_CIDRS", "10.0.0.0/8")
    runtime.reset()
    request = urllib.request.Request(server, data=json.dumps(events.signed(sample(349), KEY)).encode(),
                                     method="POST", headers={"x-scf-remote-addr": "10.1.1.1"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 403  # the peer is 127.0.0.1, whatever the header says


def test_send_reports_status_and_exit_code(server: str, sink: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(p) for p in AI_SAMPLES.values()]
    assert cli.main(["send", server, *files, "--key", KEY]) == 0
    out = capsys.readouterr().out
    assert out.count("HTTP 200") == 4
    assert len(local_records(sink)) == 10
    assert cli.main(["send", server, files[0], "--key", "not-the-key"]) == 1
    assert "HTTP 401" in capsys.readouterr().out
    assert cli.main(["send", "http://127.0.0.1:9/", files[0], "--key", KEY, "--timeout", "2"]) == 1
    assert "HTTP 0 no answer" in capsys.readouterr().out


def test_sign_prints_a_body_that_verifies(capsys: pytest.CaptureFixture[str], sink: Path) -> None:
    assert cli.main(["sign", str(SAMPLES[347]), "--key", KEY]) == 0
    signed = json.loads(capsys.readouterr().out)
    assert signed["sign"] != sample(347).get("sign")
    assert index.main_handler(events.wrap(signed, "url"), None)["statusCode"] == 200


def test_a_newcomer_can_curl_the_local_server(tmp_path: Path) -> None:
    """Clone to signed curl request, as the README shows: serve in one process, sign + curl in another."""
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    env = {k: v for k, v in os.environ.items() if k not in ("CSS_CALLBACK_KEYS",)}
    env.update(CSS_CALLBACK_KEYS="my-local-key", LOCAL_SINK_DIR=str(tmp_path / "out"))
    proc = subprocess.Popen([sys.executable, str(ROOT / "index.py"), "serve", "--port", "0"], cwd=tmp_path, env=env,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        url = line.split()[2]
        signed = subprocess.run([sys.executable, str(ROOT / "index.py"), "sign", str(SAMPLES[349])], env=env,
                                capture_output=True, text=True, check=True).stdout
        curl = subprocess.run(["curl", "-s", "-w", " %{http_code}", "-H", "Content-Type: application/json",
                               "-d", signed, url], capture_output=True, text=True, check=True, timeout=30)
        assert curl.stdout == '{"code":0} 200'
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def store_all(sink: Path) -> None:
    for event_type in AI_SAMPLES:
        index.main_handler(events.wrap(events.signed(sample(event_type), KEY), "apigw"), None)


def test_replay_from_the_local_sink(sink: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store_all(sink)
    shutil.rmtree(sink / "cos" / "highlights")
    records = local_records(sink)

    assert cli.main(["replay", "--type", "349", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"put {clip_key(sample(349))}" in out and "1 CLS record(s)" in out
    assert not (sink / "cos" / "highlights").exists()

    assert cli.main(["replay"]) == 0
    assert "4 event(s): 0 stored, 4 already stored" in capsys.readouterr().out  # deduplicated like redeliveries

    assert cli.main(["replay", "--type", "349", "--stream", "test1820", "--force"]) == 0
    assert "1 event(s): 1 stored" in capsys.readouterr().out
    assert (sink / "cos" / clip_key(sample(349))).is_file()
    assert len(local_records(sink)) == len(records) + 1  # forced: the highlight record again


def test_replay_filters_by_date_and_event_id(sink: Path) -> None:
    store_all(sink)
    current = runtime.current()
    by_date = list(replaying.candidates(current, "archive", replaying.Filters(date="2025-07-10")))
    assert sorted(b["event_type"] for _, _, b in by_date) == [344, 345]
    first_id = by_date[0][0].rsplit("/", 1)[1][:10]
    by_id = list(replaying.candidates(current, "archive", replaying.Filters(event_id=first_id)))
    assert len(by_id) == 1


def test_replay_a_dead_letter_after_a_fix(sink: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    body = {**sample(345), "average_score": "n/a"}
    assert index.main_handler(events.wrap(events.signed(body, KEY), "apigw"), None)["statusCode"] == 422
    (letter,) = (sink / "cos" / "deadletter").rglob("*.json")
    doc = json.loads(letter.read_text())
    doc["event"]["average_score"] = 12.5  # an operator repairs the dead letter (or deploys a fix)
    letter.write_text(json.dumps(doc))
    out = io.StringIO()
    summary = replaying.run(runtime.current(), "deadletter", replaying.Filters(), dry_run=False, force=False,
                            out=out, progress=None)
    assert (summary.stored, summary.failed) == (1, [])
    assert any(k.startswith("reports/quality/") for k in tree(sink / "cos"))


def test_replay_from_the_local_cos_server(cloud: Cloud, capsys: pytest.CaptureFixture[str]) -> None:
    cloud.configure(COS_PREFIX="css/")
    for event_type in AI_SAMPLES:
        index.main_handler(events.wrap(events.signed({**sample(event_type), "stream_id": "a/b c"}, KEY), "url"), None)
    uploads = len(cloud.cls.uploads)
    with cloud.cos.lock:
        del cloud.cos.objects[("callbacks-1250000000", "css/" + clip_key({**sample(349), "stream_id": "a/b c"}))]
    assert cli.main(["replay", "--type", "349", "--force"]) == 0
    assert "1 event(s): 1 stored" in capsys.readouterr().out
    assert "css/" + clip_key({**sample(349), "stream_id": "a/b c"}) in cloud.objects()
    assert len(cloud.cls.uploads) == uploads + 1
    assert cli.main(["replay", "--stream", "a/b c"]) == 0
    assert "4 event(s): 0 stored, 4 already stored" in capsys.readouterr().out
