"""SCF event shapes in, integrated-response dict out.

Three shapes arrive at ``main_handler``: the API Gateway trigger, the Function URL
trigger, and a direct invocation whose event is the callback object itself.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from cssai import text
from cssai.body import BodyError, check_depth


class GatewayError(Exception):
    """The request cannot be read; carries the status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


SOURCE_HEADER = "x-scf-remote-addr"


@dataclass(frozen=True)
class Request:
    shape: str
    method: str
    body: bytes
    parsed: dict[str, Any] | None = None
    source_ip: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)  # ambiguous (repeated) parameters are left out


def parse(event: object, max_body: int) -> Request:
    if not isinstance(event, dict):
        raise GatewayError(400, "event is not an object")
    if "httpMethod" in event:
        return _http(event, max_body)
    if "event_type" in event:
        try:
            raw = text.json_utf8(event)
        except (TypeError, ValueError, RecursionError):
            raise GatewayError(400, "callback object is not strict JSON") from None
        if len(raw) > max_body:
            raise GatewayError(413, f"body is over {max_body} bytes")
        try:
            check_depth(event)
        except BodyError as exc:
            raise GatewayError(400, str(exc)) from None
        return Request(shape="direct", method="POST", body=raw, parsed=event)
    raise GatewayError(400, "unrecognised event shape: expected an HTTP trigger or a callback object")


def _http(event: dict[str, Any], max_body: int) -> Request:
    method = event.get("httpMethod")
    if not isinstance(method, str):
        raise GatewayError(400, "httpMethod is not a string")
    raw_headers = event.get("headers") or {}
    if not isinstance(raw_headers, dict):
        raise GatewayError(400, "headers is not an object")
    headers: dict[str, str] = {}
    conflicting: set[str] = set()
    for key, value in raw_headers.items():
        name, text = str(key).lower(), str(value)
        if headers.get(name, text) != text:
            conflicting.add(name)  # e.g. x-scf-remote-addr and X-SCF-Remote-Addr that disagree
        headers[name] = text
    context = event.get("requestContext")
    shape = "apigw" if isinstance(context, dict) else "function_url"
    if isinstance(context, dict):
        source_ip = context.get("sourceIp")
    else:  # two copies that disagree leave the address unknown: an allowlist then refuses (403)
        source_ip = None if SOURCE_HEADER in conflicting else headers.get(SOURCE_HEADER)
    body = _body(event, max_body) if method.upper() == "POST" else b""
    return Request(
        shape=shape,
        method=method.upper(),
        body=body,
        source_ip=source_ip if isinstance(source_ip, str) else None,
        headers=headers,
        query=_query(event),
    )


def _query(event: dict[str, Any]) -> dict[str, str]:
    """The URL's query parameters: ``queryString`` (Function URL, API Gateway) and API Gateway's
    ``queryStringParameters`` (doc 583/96099 and 583/31927). A name given twice with different values,
    or as a list, is dropped: an ambiguous token is no token."""
    merged: dict[str, str] = {}
    dropped: set[str] = set()
    for source in ("queryString", "queryStringParameters"):
        params = event.get(source)
        if not isinstance(params, dict):
            continue
        for name, value in params.items():
            key = str(name)
            if not isinstance(value, str) or merged.get(key, value) != value:
                dropped.add(key)
                continue
            merged[key] = value
    for key in dropped:
        merged.pop(key, None)
    return merged


def _body(event: dict[str, Any], max_body: int) -> bytes:
    body = event.get("body")
    if body is None:
        body = ""
    if not isinstance(body, str):
        raise GatewayError(400, "body is not a string")
    encoded = event.get("isBase64Encoded", False)
    if encoded not in (True, False, "true", "false", None):
        raise GatewayError(400, "isBase64Encoded is not a boolean")
    if encoded in (True, "true"):
        if len(body) > (max_body + 2) // 3 * 4 + 4:
            raise GatewayError(413, f"body is over {max_body} bytes")
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise GatewayError(400, "body is not valid base64") from None
    else:
        try:
            raw = body.encode("utf-8")
        except UnicodeEncodeError:
            raise GatewayError(400, "body is not valid UTF-8") from None
    if len(raw) > max_body:
        raise GatewayError(413, f"body is over {max_body} bytes")
    return raw


def response(status: int, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "isBase64Encoded": False,
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(payload, ensure_ascii=False, separators=(",", ":")),  # {"code":0}, as CSS suggests
    }


def error(status: int, message: str) -> dict[str, Any]:
    return response(status, {"code": status, "message": message})


OK = {"code": 0}
