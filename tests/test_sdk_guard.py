"""What the receiver relies on in the SDKs, and how it behaves when that changes: the pinned lock, the CLS
connection hook and its fallbacks, and proxies honoured as the SDKs honour them."""

from __future__ import annotations

import base64
import re
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from tencentcloud.common.common_client import CommonClient
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile

from cssai.credentials import EnvCredential
from cssai.sinks import transport
from tests.conftest import Cloud, Invoke, sample
from tests.fake_proxy import ProxyServer

ROOT = Path(__file__).resolve().parent.parent


def pins(path: Path) -> dict[str, str]:
    return dict(re.findall(r"^([A-Za-z0-9_.\-]+)==([^\s\\]+)", path.read_text(), flags=re.M))


def test_what_is_installed_is_exactly_the_lock_that_ships() -> None:
    """CI installs requirements-dev.txt; the runtime's pins in it equal requirements.txt's, with hashes."""
    shipped = pins(ROOT / "requirements.txt")
    assert {"pydantic", "cos-python-sdk-v5", "tencentcloud-sdk-python-common", "protobuf"} <= set(shipped)
    assert "--hash=sha256:" in (ROOT / "requirements.txt").read_text()
    dev = pins(ROOT / "requirements-dev.txt")
    for name, pinned in shipped.items():
        assert dev.get(name) == pinned, name
        assert version(name) == pinned, (name, version(name), pinned)


def client(**http: Any) -> CommonClient:
    profile = ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint="127.0.0.1:9", **http))
    return CommonClient("cls", "2020-10-16", EnvCredential(), "ap-guangzhou", profile)


def test_the_pinned_sdk_still_has_what_the_hook_replaces() -> None:
    """Fails in CI the moment a pinned tencentcloud-sdk-python-common lacks ApiRequest.conn's shape."""
    sdk = client()
    assert transport.hook_fits(sdk.request)
    hooked = transport.use_for(sdk, transport.Connections(1))
    assert isinstance(hooked.request.conn, transport._ClsConnection)


class _NoConn:
    host = "127.0.0.1:9"


class _Client:
    def __init__(self, api: Any) -> None:
        self.request = api


def test_an_sdk_without_the_hook_keeps_its_own_sending_path(caplog: pytest.LogCaptureFixture) -> None:
    api = _NoConn()
    transport.use_for(_Client(api), transport.Connections(1))
    assert not hasattr(api, "conn")
    assert "SDK's own sending path" in caplog.text


class _RenamedCall:
    """An SDK connection whose call changed: ``request(method, uri, data, header)``."""

    proxy = None
    request_length = 0

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def request(self, method: str, uri: str, data: Any = None, header: Any = None) -> str:
        self.calls.append((method, uri, data, header))
        self.request_length = len(data or b"")
        return "answered by the SDK"


def test_a_call_that_no_longer_binds_goes_to_the_sdks_own_connection(caplog: pytest.LogCaptureFixture) -> None:
    fallback = _RenamedCall()
    conn = transport._ClsConnection(transport.Connections(1), "127.0.0.1:9", fallback)
    assert conn.request("POST", uri="http://127.0.0.1:9/", data=b"abc", header={}) == "answered by the SDK"
    assert fallback.calls and conn.request_length == 3
    assert "SDK's own sending path" in caplog.text


@pytest.fixture
def proxy() -> Any:
    server = ProxyServer().start()
    yield server
    server.stop()


def cloud_hosts(cloud: Cloud) -> set[str]:
    return {cloud.cos.url.split("//")[1], cloud.cls.url.split("//")[1]}


def test_the_environments_proxy_carries_cos_and_cls(cloud: Cloud, proxy: ProxyServer, invoke: Invoke,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    cloud.configure(HTTP_PROXY=proxy.url, http_proxy=proxy.url)
    assert invoke(sample(349))["statusCode"] == 200
    assert [r for r in cloud.records() if r["kind"] == "highlight"]
    methods = {m for m, _ in proxy.seen}
    assert {"PUT", "POST"} <= methods  # COS objects and the CLS upload, both through the proxy
    seen = {url.split("//")[1].split("/")[0] for _, url in proxy.seen}
    assert cloud_hosts(cloud) <= {h.replace("localhost", "127.0.0.1") for h in seen} | seen


def test_no_proxy_is_honoured_as_each_sdk_reads_it(cloud: Cloud, proxy: ProxyServer, invoke: Invoke) -> None:
    """requests (COS) bypasses 127.0.0.1 by NO_PROXY's host rule; tencentcloud-sdk-python-common looks for its
    ``host:port`` inside NO_PROXY as a substring, so only that form bypasses it for CLS. Both as the SDKs do."""
    cloud.configure(HTTP_PROXY=proxy.url, http_proxy=proxy.url, NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
    assert invoke(sample(349))["statusCode"] == 200
    assert {m for m, _ in proxy.seen} == {"POST"}  # CLS only: the SDK's own rule did not match 127.0.0.1
    proxy.seen.clear()
    cls_host = cloud.cls.url.split("//")[1]
    cloud.configure(NO_PROXY=f"127.0.0.1,{cls_host}", no_proxy=f"127.0.0.1,{cls_host}")
    assert invoke(sample(345))["statusCode"] == 200
    assert proxy.seen == []


def test_the_sdks_proxy_option_and_proxy_credentials_are_used(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    """tencentcloud's HttpProfile(proxy=...), with user:password sent as Proxy-Authorization."""
    for name in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    expected = "Basic " + base64.b64encode(b"ops:s3cret").decode()
    server = ProxyServer(require_auth=expected).start()
    try:
        via = server.url.replace("http://", "http://ops:s3cret@")
        sdk = CommonClient("cls", "2020-10-16", EnvCredential(), "ap-guangzhou", ClientProfile(
            httpProfile=HttpProfile(protocol="http", endpoint=cloud.cls.url.split("//")[1], proxy=via)))
        hooked = transport.use_for(sdk, transport.Connections(2))
        from cssai.sinks.cls import ACTION, encode
        from cssai.writes import record

        answer = hooked.call_octet_stream(ACTION, {"X-CLS-TopicId": cloud.cls_topic}, encode([record(1000, kind="k")]))
        assert "RequestId" in answer["Response"]
        assert [m for m, _ in server.seen] == ["POST"]
    finally:
        server.stop()
