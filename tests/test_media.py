from __future__ import annotations

import pytest

from cssai.media import cos_source

HOSTS = frozenset({"clips-1250000000.cos.ap-guangzhou.myqcloud.com"})
GOOD = "https://clips-1250000000.cos.ap-guangzhou.myqcloud.com/live/a/clip.mp4"


def test_allowlisted_cos_object_is_accepted() -> None:
    source = cos_source(GOOD, HOSTS)
    assert source is not None
    assert (source.bucket, source.region, source.key) == ("clips-1250000000", "ap-guangzhou", "live/a/clip.mp4")


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.0.23/latest/meta-data/",
        "http://metadata.tencentyun.com/latest/meta-data/cam/security-credentials/",
        "http://127.0.0.1:9000/x.mp4",
        "http://[::1]/x.mp4",
        "http://clips-1250000000.cos.ap-guangzhou.myqcloud.com@evil.example/x.mp4",
        "http://evil.example#@clips-1250000000.cos.ap-guangzhou.myqcloud.com/x.mp4",
        "https://clips-1250000000.cos.ap-guangzhou.myqcloud.com:8443/x.mp4",
        "https://user:pw@clips-1250000000.cos.ap-guangzhou.myqcloud.com/x.mp4",
        "file:///etc/passwd",
        "gopher://clips-1250000000.cos.ap-guangzhou.myqcloud.com/x",
        "ftp://clips-1250000000.cos.ap-guangzhou.myqcloud.com/x.mp4",
        "https://other-1250000000.cos.ap-guangzhou.myqcloud.com/x.mp4",
        "https://clips-1250000000.cos.ap-guangzhou.myqcloud.com.evil.example/x.mp4",
        "https://clips-1250000000.cos.ap-guangzhou.myqcloud.com/../secret",
        "https://clips-1250000000.cos.ap-guangzhou.myqcloud.com/a/%2e%2e/secret",
        "https://clips-1250000000.cos.ap-guangzhou.myqcloud.com/",
        "https://clips-1250000000.cos.ap-guangzhou.myqcloud.com/x.mp4?response-content-type=x",
        "https://clips-1250000000.cos.ap-guangzhou.myqcloud.com/x\n.mp4",
        "https://clips-1250000000.cos.ap-guangzhou.myqcloud.com\\@evil/x.mp4",
        "",
        "not a url",
    ],
)
def test_everything_else_is_refused(url: str) -> None:
    assert cos_source(url, HOSTS) is None


def test_nothing_is_copied_without_an_allowlist() -> None:
    assert cos_source(GOOD, frozenset()) is None
