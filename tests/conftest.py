"""Shared fixtures: a fresh runtime per test, samples, and a way to invoke main_handler."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

import index
from cssai import runtime
from cssai.ops import events

ROOT = Path(__file__).resolve().parent.parent
# One sample per event type: samples/{event_type}_{name}.json
SAMPLES = {int(p.name.split("_", 1)[0]): p for p in sorted((ROOT / "samples").glob("*.json"))}
AI_SAMPLES = {t: SAMPLES[t] for t in (344, 345, 347, 349)}  # the four families the product began with
KEY = "test-callback-key-1"
OLD_KEY = "test-callback-key-0"

settings.register_profile("ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile("thorough", max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

_SETTING_NAMES = (
    "CSS_CALLBACK_KEYS", "LOCAL_SINK_DIR", "COS_BUCKET", "COS_REGION", "COS_PREFIX", "COS_ENDPOINT_URL",
    "CLS_TOPIC_ID", "CLS_REGION", "CLS_ENDPOINT_URL", "QUALITY_ALERT_THRESHOLDS", "DEADLINE_SECONDS",
    "REQUEST_TIMEOUT_SECONDS", "WRITE_ATTEMPTS", "MAX_BODY_BYTES", "MEDIA_COPY", "MEDIA_COPY_SOURCE_HOSTS",
    "CALLBACK_ALLOWED_CIDRS", "LOG_LEVEL", "TENCENTCLOUD_SECRETID", "TENCENTCLOUD_SECRETKEY",
    "TENCENTCLOUD_SESSIONTOKEN", "CALLBACK_URL_TOKENS", "NOTIFY_URL", "NOTIFY_FORMAT", "NOTIFY_KINDS",
    "NOTIFY_WINDOW_SECONDS", "NOTIFY_TIMEOUT_SECONDS", "NOTIFY_DINGTALK_SECRET", "FORWARD_RULES", "FORWARD_SIGNING",
    "FORWARD_SECRET", "RECONCILE_EVERY_SECONDS", "RECONCILE_LOOKBACK_SECONDS", "RECONCILE_MAX_CALLS",
    "LIVE_ENDPOINT_URL", "FUNCTION_URL",
)


def sample(event_type: int) -> dict[str, Any]:
    body = json.loads(SAMPLES[event_type].read_text(encoding="utf-8"))
    body.pop("t", None)
    body.pop("sign", None)
    return body


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Every test starts with only the keys and a private local sink."""
    for name in _SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    sink = tmp_path / "out"
    monkeypatch.setenv("CSS_CALLBACK_KEYS", f"{KEY},{OLD_KEY}")
    monkeypatch.setenv("LOCAL_SINK_DIR", str(sink))
    runtime.reset()
    yield sink
    runtime.reset()


@pytest.fixture
def sink(clean_env: Path) -> Path:
    return clean_env


Invoke = Callable[..., dict[str, Any]]


RELAY_TOKEN = "test-relay-token-0123456789"


def url_token() -> str | None:
    """The first of CALLBACK_URL_TOKENS, as a callback URL would carry it."""
    configured = [t for t in os.environ.get("CALLBACK_URL_TOKENS", "").split(",") if t.strip()]
    return configured[0].strip() if configured else None


def relay_ready(monkeypatch: pytest.MonkeyPatch) -> str:
    """Relay callbacks (314) are admitted by a URL token alone: configure one if none is."""
    token = url_token()
    if token is None:
        monkeypatch.setenv("CALLBACK_URL_TOKENS", RELAY_TOKEN)
        runtime.reset()
        token = RELAY_TOKEN
    return token


@pytest.fixture
def invoke(monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """Sign ``body`` (unless told not to), wrap it in a trigger shape, run main_handler.

    The URL carries the first configured token (``token=""`` for none); a relay callback (314) gets a
    token configured first, as an operator who receives them must.
    """

    def run(body: dict[str, Any], shape: str = "apigw", key: str = KEY, sign: bool = True,
            context: dict[str, Any] | None = None, token: str | None = None, **wrap: Any) -> dict[str, Any]:
        if token is None and body.get("event_type") == 314 and shape != "direct":
            relay_ready(monkeypatch)
        token = url_token() if token is None else token
        payload = events.signed(body, key) if sign else body
        ctx = {"request_id": "test", "time_limit_in_ms": 30000} if context is None else context
        query = {"token": token} if token and shape != "direct" else None
        return index.main_handler(events.wrap(payload, shape, query=query, **wrap), ctx)

    return run


def clip_key(body: dict[str, Any], ext: str = ".json", item: int = 0) -> str:
    """Where a 349 item's clip record lands: highlights/{stream}/{date}/{begin}-{end}-{id16}{ext}."""
    from cssai import keys
    from cssai.identity import day, event_id, event_seconds

    it = body["items"][item]
    name = f"{it['begin_time']}-{it['end_time']}-{event_id(body)[:16]}{ext}"
    return keys.join("highlights", keys.segment(body["stream_id"]), day(event_seconds(body)), name)


def answer_body(answer: dict[str, Any]) -> dict[str, Any]:
    return json.loads(answer["body"])


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes, to compare before and after."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def local_records(root: Path) -> list[dict[str, Any]]:
    path = root / "cls" / "records.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


SECRET_ID = "AKIDtestsecretid0001"
SECRET_KEY = "test-secret-key-do-not-log"
TOKEN = "test-session-token-do-not-log"
BUCKET = "callbacks-1250000000"
TOPIC = "topic-0000-1111"


class Cloud:
    """The local COS and CLS servers, and the settings that point the receiver at them."""

    def __init__(self, cos: Any, cls: Any, monkeypatch: pytest.MonkeyPatch, live: Any = None) -> None:
        self.cos = cos
        self.cls = cls
        self.live = live  # CSS's live API (doctor's template check, the reconcile job)
        self.monkeypatch = monkeypatch

    def configure(self, **env: str) -> None:
        for name, value in env.items():
            self.monkeypatch.setenv(name, value)
        runtime.reset()

    def objects(self) -> dict[str, bytes]:
        return self.cos.keys(BUCKET)

    def records(self) -> list[dict[str, Any]]:
        return self.cls.records(TOPIC)

    cls_topic = TOPIC


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[Cloud]:
    from tests.fake_cls import ClsServer
    from tests.fake_cos import CosServer
    from tests.fake_live import LiveServer

    cos = CosServer(SECRET_ID, SECRET_KEY, TOKEN).start()
    cls = ClsServer(SECRET_ID, SECRET_KEY, TOKEN).start()
    live = LiveServer(SECRET_ID, SECRET_KEY, TOKEN).start()
    env = {
        "COS_BUCKET": BUCKET, "COS_REGION": "ap-guangzhou", "COS_ENDPOINT_URL": cos.url,
        "CLS_TOPIC_ID": TOPIC, "CLS_REGION": "ap-guangzhou", "CLS_ENDPOINT_URL": cls.url, "LIVE_ENDPOINT_URL": live.url,
        "TENCENTCLOUD_SECRETID": SECRET_ID, "TENCENTCLOUD_SECRETKEY": SECRET_KEY,
        "TENCENTCLOUD_SESSIONTOKEN": TOKEN, "REQUEST_TIMEOUT_SECONDS": "2",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    runtime.reset()
    yield Cloud(cos, cls, monkeypatch, live)
    runtime.reset()
    cos.stop()
    cls.stop()
    live.stop()
