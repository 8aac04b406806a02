"""The stream report from a known archive: series, page and chart."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from cssai import cli, report, runtime
from tests.conftest import Invoke, clip_key, sample

FRAMES = [{"score": 25.0 + i, "time": 1752130785000 + 1000 * i} for i in range(8)]


@pytest.fixture
def archive(invoke: Invoke) -> None:
    assert invoke({**sample(344), "frames": FRAMES[:3]})["statusCode"] == 200
    average = {**sample(345), "frames": FRAMES, "average_score": 28.5, "event_time": 1752130800}
    assert invoke(average)["statusCode"] == 200
    assert invoke({**sample(345), "class": "VMAF", "average_score": 90.0})["statusCode"] == 200
    assert invoke({**sample(347), "stream_id": "livestream1"})["statusCode"] == 200
    body = {**sample(349), "stream_id": "livestream1"}
    body["items"].append({**body["items"][0], "begin_time": 1761129000, "end_time": 1761129030,
                          "title": "<script>alert(1)</script> Second clip"})
    assert invoke(body)["statusCode"] == 200
    assert invoke({**sample(344), "stream_id": "someone-else"})["statusCode"] == 200


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.mark.usefixtures("archive")
def test_series_match_the_archive() -> None:
    data = report.collect(runtime.current(), "livestream1", None, None)
    assert data.series["PSNR"] == [(f["time"], f["score"]) for f in FRAMES]
    assert data.averages["PSNR"] == [(1752130800000, 28.5)] and data.averages["VMAF"] == [(1752130787000, 90.0)]
    assert (1752130800000, 28.5) in data.alerts["PSNR"]  # 28.5 < PSNR=30
    assert not data.alerts["VMAF"]
    assert [t for t, _ in data.alerts["PSNR"]][:3] == [f["time"] for f in FRAMES[:3]]
    assert data.keyword_hits == [(1750402588000 + 957759 - 954864, "Central Commission for Discipline Inspection")]
    assert [h["title"][:10] for h in data.highlights] == ["Bed sheets", "<script>al"]


@pytest.mark.usefixtures("archive")
def test_the_page_and_chart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["report", "--stream", "livestream1", "--out", str(tmp_path / "r")]) == 0
    (html_path,) = (tmp_path / "r").glob("*.html")
    (png_path,) = (tmp_path / "r").glob("*.png")
    assert png_size(png_path.read_bytes()) == (report.WIDTH_PX, report.HEIGHT_PX)
    page = html_path.read_text(encoding="utf-8")
    assert "Bed sheets on flash sale, price reduced by 25 yuan!" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Second clip" in page and "<script>" not in page
    assert "Central Commission for Discipline Inspection" in page
    assert "http://" not in page.split("<body>")[0]  # nothing to fetch in the head
    assert 'src="http' not in page and "src='http" not in page  # no remote image, script or style
    assert "data:image/png;base64," in page


@pytest.mark.usefixtures("archive")
def test_dates_filter_the_archive() -> None:
    none = report.collect(runtime.current(), "livestream1", "2030-01-01", None)
    assert not none.series and not none.highlights
    only_quality = report.collect(runtime.current(), "livestream1", "2025-07-10", "2025-07-10")
    assert only_quality.series and not only_quality.highlights


def test_a_copied_cover_is_embedded(invoke: Invoke, sink: Path) -> None:
    assert invoke(sample(349))["statusCode"] == 200
    cover = sink / "cos" / clip_key(sample(349), ".jpg")
    cover.write_bytes(b"\xff\xd8\xff fake jpeg")
    data = report.collect(runtime.current(), "test1820", None, None)
    page = report.page(data, report.chart(data, {}), runtime.current())
    assert "data:image/jpeg;base64,/9j/" in page
