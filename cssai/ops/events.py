"""Build SCF trigger events around a callback body: for the CLI, tests and benchmarks."""

from __future__ import annotations

import base64
import time
from typing import Any

from cssai import text
from cssai.signature import sign

SHAPES = ("apigw", "url", "direct")


def signed(body: dict[str, Any], key: str, now: float | None = None, valid_for: int = 600) -> dict[str, Any]:
    """The body with a fresh ``t`` and its ``sign``, as CSS would send it."""
    t = int(time.time() if now is None else now) + valid_for
    return {**body, "t": t, "sign": sign(key, t)}


def wrap(body: dict[str, Any] | bytes, shape: str = "apigw", *, base64_body: bool = False,
         method: str = "POST", source_ip: str = "127.0.0.1", query: dict[str, str] | None = None) -> dict[str, Any]:
    """An SCF event of the given trigger shape carrying ``body`` (``query``: the URL's, e.g. a token)."""
    if shape == "direct":
        if not isinstance(body, dict):
            raise ValueError("a direct invocation carries a JSON object")
        return dict(body)
    raw = body if isinstance(body, bytes) else text.json_utf8(body, allow_nan=True)  # tests send NaN too
    payload = base64.b64encode(raw).decode() if base64_body else raw.decode("utf-8", "surrogateescape")
    headers = {"content-type": "application/json"}
    event: dict[str, Any] = {"httpMethod": method, "headers": headers, "body": payload, "isBase64Encoded": base64_body}
    if shape == "apigw":
        event.update(
            path="/callback",
            queryString=dict(query or {}),
            requestContext={"sourceIp": source_ip, "stage": "release", "httpMethod": method, "path": "/callback"},
        )
    elif shape == "url":
        headers["x-scf-remote-addr"] = source_ip
        event.update(path="/", queryString=dict(query or {}))
    else:
        raise ValueError(f"unknown shape {shape!r}; choose from {SHAPES}")
    return event
