"""Strict JSON for callback bodies: one object, no NaN/Infinity, no duplicate keys."""

from __future__ import annotations

import json
from typing import Any


class BodyError(Exception):
    """The body is not a strict-JSON object (answered 400)."""


def _no_constants(name: str) -> Any:
    raise BodyError(f"{name} is not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise BodyError("duplicate keys in a JSON object")
    return obj


def parse_object(raw: bytes) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError("body is not UTF-8") from exc
    try:
        value = json.loads(text, parse_constant=_no_constants, object_pairs_hook=_unique_keys)
    except BodyError:
        raise
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, huge ints, deep nesting
        raise BodyError(f"body is not valid JSON: {type(exc).__name__}") from exc
    if not isinstance(value, dict):
        raise BodyError("body is not a JSON object")
    return value
