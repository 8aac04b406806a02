"""TC3-HMAC-SHA256, checked as Tencent Cloud's API gateway checks it (https://www.tencentcloud.com/document/api/
267/30765 "Signature v3"): the fakes of CLS and of the live API refuse a request whose signature is wrong."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def verify(headers: Mapping[str, str], payload: bytes, service: str, secret_id: str, secret_key: str,
           token: str | None = None) -> bool:
    auth = headers.get("Authorization", "")
    try:
        algorithm, rest = auth.split(" ", 1)
        parts = dict(p.strip().split("=", 1) for p in rest.split(","))
        sent_id, date, sent_service, _ = parts["Credential"].split("/")
    except ValueError:
        return False
    timestamp = headers.get("X-TC-Timestamp", "0")
    if algorithm != "TC3-HMAC-SHA256" or sent_id != secret_id or sent_service != service:
        return False
    if abs(time.time() - int(timestamp)) > 300:
        return False
    if token and headers.get("X-TC-Token") != token:
        return False
    canonical = "\n".join([
        "POST", "/", "",
        f"content-type:{headers.get('Content-Type')}\nhost:{headers.get('Host')}\n",
        "content-type;host",
        hashlib.sha256(payload).hexdigest(),
    ])
    scope = f"{date}/{service}/tc3_request"
    to_sign = f"TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = _hmac(_hmac(_hmac(("TC3" + secret_key).encode(), date), service), "tc3_request")
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("Signature", ""))
