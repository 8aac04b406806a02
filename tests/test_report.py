"""The stream report from a known archive: series, summary, robustness, and the page in a real browser."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cssai import runtime
from cssai.ops import cli, report
from tests.conftest import Invoke, clip_key, sample

FRAMES = [{"score": 25.0 + i, "time": 1752130785000 + 1000 * i} for i in range(8)]
UTC = ZoneInfo("UTC")


@pytest.fixture
def archive(invoke: Invoke) -> None:
    assert invoke({**sample(344), "frames": FRAMES[:3]})["statusCode"] == 200
    average = {**sample(345), "frames": FRAMES, "average_score": 28.5, "event_time": 1752130800}
    assert invoke(average)["statusCode"] == 200
    assert invoke({**sample(345), "class": "VMAF", "average_score": 90.0})["statusCode"] == 200
    erasing = sample(347)
    erasing["data"]["subtitle_tmp_res"][0]["start_unix_time"] = 1752130790
    assert invoke({**erasing, "stream_id": "livestream1"})["statusCode"] == 200
    body = {**sample(349), "stream_id": "livestream1"}
    body["items"] = [{**body["items"][0], "begin_time": 1752130795, "end_time": 1752130805},
                     {**body["items"][0], "begin_time": 1752130810, "end_time": 1752130830,
                      "title": "<script>alert(1)</script> Second clip"}]
    assert invoke(body)["statusCode"] == 200
    assert invoke({**sample(344), "stream_id": "someone-else"})["statusCode"] == 200


@pytest.fixture
def whole_day(archive: None, invoke: Invoke) -> None:
    for other in day_of_the_other_families("livestream1", 1752130700):
        assert invoke(other)["statusCode"] == 200


def day_of_the_other_families(stream: str, t0: int) -> list[dict]:
    """One stream's events of every other family around ``t0``: two sessions, a recording, a screenshot..."""
    def at(event_type: int, **change: object) -> dict:
        return {**sample(event_type), "stream_id": stream, **change}

    subtitles = at(338)
    subtitles["data"]["subtitle_tmp_res"][0].update(start_unix_time=t0 + 50, end_unix_time=t0 + 53,
                                                    dst_txt="今天我们学习一元一次方程。")
    return [
        at(1, sequence="100", event_time=t0), at(0, sequence="100", event_time=t0 + 65, errcode=13),
        at(1, sequence="101", event_time=t0 + 70),
        at(100, start_time=t0, end_time=t0 + 60, duration=60, file_id="f-1", video_url="https://v.example/f-1.m3u8"),
        at(200, create_time=t0 + 10),
        {**sample(317), "streamId": stream, "channelId": stream, "screenshotTime": t0 + 20},
        at(343, event_time=t0 + 30), at(321, data_time=(t0 + 40) * 1000),
        at(332, record_event="record_error", event_time=t0 + 45),
        at(348, begin_time=t0, end_time=t0 + 120, title="Bedding sale"), subtitles,
    ]


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.mark.usefixtures("archive")
def test_series_are_what_each_family_means() -> None:
    data = report.collect(runtime.current(), "livestream1", None, None)
    assert data.frames["PSNR"] == [(f["time"], f["score"]) for f in FRAMES[:3]]  # only 344's: below CSS's threshold
    assert data.averages["PSNR"] == [(1752130800000, 28.5)] and data.averages["VMAF"] == [(1752130787000, 90.0)]
    # alerts only where one was raised: the 344 event (at its time, its lowest score) and the 345 under PSNR=30
    assert data.alerts["PSNR"] == [(1752130787000, 25.0), (1752130800000, 28.5)]
    assert "VMAF" not in data.alerts
    assert data.keyword_hits == [(1752130790000 + 957759 - 954864, "Central Commission for Discipline Inspection")]
    assert [h["title"][:10] for h in data.highlights] == ["Bed sheets", "<script>al"]
    assert data.families == {344: 1, 345: 2, 347: 1, 349: 1} and not data.skipped


@pytest.mark.usefixtures("archive")
def test_the_page_has_a_summary_and_the_chart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["report", "--stream", "livestream1", "--out", str(tmp_path / "r")]) == 0
    (html_path,) = (tmp_path / "r").glob("*.html")
    (png_path,) = (tmp_path / "r").glob("*.png")
    assert html_path.name == "livestream1_2025-07-10_2025-07-10.html"
    assert png_size(png_path.read_bytes())[0] == report.WIDTH_PX
    page = html_path.read_text(encoding="utf-8")
    for fact in ("period covered</th><td>2025-07-10 06:59:45 UTC to 2025-07-10 07:00:10 UTC",
                 "344 threshold: 1, 345 average: 2, 347 erasing: 1, 349 highlight: 1",
                 "<th>PSNR</th><td>2 alert(s); 3 frame(s) below CSS", "threshold (344), lowest 25; 1 period "
                 "average(s) (345), mean 28.5, lowest 28.5; alert threshold 30", "<th>VMAF</th><td>0 alert(s)",
                 "<h2>Quality alerts (2)</h2>", "<td>PSNR</td><td>25</td>", "generated ", " from ",
                 "Central Commission for Discipline Inspection × 1", "<th>highlights</th><td>2",
                 "<th>events skipped</th><td>none"):
        assert fact in page, fact
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Second clip" in page and "<script>" not in page
    assert 'src="http' not in page and "src='http" not in page  # no remote image, script or style
    assert "wrote" in capsys.readouterr().out


def test_events_that_fail_validation_or_have_odd_times_are_skipped_and_counted(
    invoke: Invoke, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert invoke({**sample(349), "items": [{"begin_time": "x", "end_time": 1}]})["statusCode"] == 422
    assert invoke({**sample(344), "stream_id": "test1820", "frames": [{"score": 1.0, "time": 5}]})["statusCode"] == 200
    assert invoke(sample(349))["statusCode"] == 200
    assert cli.main(["report", "--stream", "test1820", "--out", str(tmp_path)]) == 0
    page = next(tmp_path.glob("*.html")).read_text()
    assert "failed validation: 1" in page and "odd times: 1" in page
    assert "2 skipped" in capsys.readouterr().out


def test_nothing_in_range_says_so_and_exits_1(invoke: Invoke, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert invoke(sample(349))["statusCode"] == 200
    out = tmp_path / "reports"
    assert cli.main(["report", "--stream", "test1820", "--since", "2030-01-01", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "no archived event of stream 'test1820' between 2030-01-01" in err and "Traceback" not in err
    assert not out.exists()
    assert cli.main(["report", "--stream", "nobody", "--out", str(out)]) == 1


def test_undated_events_are_left_out_when_dates_are_given(invoke: Invoke, tmp_path: Path) -> None:
    undated = {"event_type": 349, "stream_id": "s", "items": []}
    assert invoke(undated)["statusCode"] == 200
    assert report.collect(runtime.current(), "s", None, None).families == {349: 1}
    assert report.collect(runtime.current(), "s", "2000-01-01", None).empty


def test_time_zone_shows_on_the_page(invoke: Invoke, tmp_path: Path) -> None:
    assert invoke(sample(349))["statusCode"] == 200
    assert cli.main(["report", "--stream", "test1820", "--tz", "Asia/Shanghai", "--out", str(tmp_path)]) == 0
    page = next(tmp_path.glob("*.html")).read_text()
    assert "2025-10-22 18:26:48 CST" in page  # 1761128808 is 2025-10-22 10:26:48 UTC


def test_a_copied_cover_is_embedded(invoke: Invoke, sink: Path) -> None:
    assert invoke(sample(349))["statusCode"] == 200
    cover = sink / "cos" / clip_key(sample(349), ".jpg")
    cover.write_bytes(b"\xff\xd8\xff fake jpeg")
    data = report.collect(runtime.current(), "test1820", None, None)
    page = report.page(data, report.chart(data, {}, UTC), runtime.current(), UTC)
    assert "data:image/jpeg;base64,/9j/" in page


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """The report folder over HTTP, recording every request the browser makes."""
    requests: list[str] = []

    class Recording(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            requests.append(self.path)

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Recording, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", requests
    server.shutdown()
    server.server_close()


def chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and os.environ.get("CI"):
        pytest.fail("CI installs Debian's chromium (.ci/run): it is missing")
    return found


@pytest.mark.usefixtures("whole_day")
def test_the_page_renders_in_a_real_browser_without_errors_or_network(
    tmp_path: Path, served: tuple[str, list[str]]
) -> None:
    browser = chromium()
    if browser is None:
        pytest.skip("chromium is not installed (CI installs it)")
    assert cli.main(["report", "--stream", "livestream1", "--out", str(tmp_path)]) == 0
    (html_path,) = tmp_path.glob("*.html")
    base, requests = served
    shot = tmp_path / "screenshot.png"
    run = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
                          "--v=0", "--hide-scrollbars", "--window-size=1280,2200", f"--screenshot={shot}",
                          f"{base}/{html_path.name}"], capture_output=True, text=True, timeout=120, check=False)
    assert shot.exists() and png_size(shot.read_bytes()) == (1280, 2200), run.stderr[-2000:]
    console = [line for line in run.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == []
    assert [r for r in requests if r != "/favicon.ico"] == [f"/{html_path.name}"]  # nothing else is fetched
    artifacts = Path(os.environ.get("REPORT_SCREENSHOT_DIR", tmp_path))
    artifacts.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, artifacts / "report-screenshot.png")


@pytest.mark.usefixtures("whole_day")
def test_the_page_shows_the_streams_day_of_every_family(tmp_path: Path) -> None:
    assert cli.main(["report", "--stream", "livestream1", "--out", str(tmp_path)]) == 0
    page = next(tmp_path.glob("*.html")).read_text()
    for heading in ("Sessions (2)", "Recordings (1)", "Moderation (1)", "Quality-control alerts (343) (1)",
                    "Push errors (321) (2)", "Recording errors (1)", "Live summaries (348) (1)",
                    "Live subtitles (338) (1)", "Highlights (2)", "Keyword hits (1)"):
        assert f"<h2>{heading}</h2>" in page, heading
    assert "<td>101</td>" in page and "<td>live</td>" in page and "<td>network</td>" in page  # stop reason
    assert "<td>1 min 5 s</td>" in page
    assert "https://v.example/f-1.m3u8" in page and 'href="https://v.example' not in page  # URL as text
    assert "<th>screenshots</th><td>1</td>" in page and "the latest is live" in page
    assert "今天我们学习一元一次方程。" in page and "Blur" in page and "record_error" in page


def test_a_stream_without_highlights_has_no_empty_sections(invoke: Invoke, tmp_path: Path) -> None:
    assert invoke({**sample(1), "stream_id": "quiet"})["statusCode"] == 200
    assert cli.main(["report", "--stream", "quiet", "--out", str(tmp_path)]) == 0
    page = next(tmp_path.glob("*.html")).read_text()
    assert "<h2>Sessions (1)</h2>" in page
    assert "Highlights" not in page and "Keyword hits" not in page and "Recordings" not in page


@pytest.mark.parametrize("span_s", [0, 1, 60, 3600, 86_400, 7 * 86_400])
def test_the_time_axis_spans_the_data_for_one_event_or_a_week(span_s: int) -> None:
    data = report.StreamData("s")
    data.seen(1_752_130_785_000)
    data.seen(1_752_130_785_000 + span_s * 1000)
    low, high = report.x_range(data)
    assert low < 1_752_130_785_000 and high > 1_752_130_785_000 + span_s * 1000
    assert high - low <= span_s * 1000 * 1.06 + 60_000  # never years around a single event


def test_a_344_without_frames_is_reported_not_a_crash(invoke: Invoke, tmp_path: Path) -> None:
    assert invoke({**sample(344), "frames": []})["statusCode"] == 200
    assert invoke({**sample(345), "stream_id": "livestream1"})["statusCode"] == 200
    assert cli.main(["report", "--stream", "livestream1", "--out", str(tmp_path)]) == 0
    page = next(tmp_path.glob("*.html")).read_text()
    assert "344 threshold: 1, 345 average: 1" in page
    assert "<th>PSNR</th><td>1 alert(s); 1 period average(s) (345), mean 27.77" in page
