"""Strict JSON for callback bodies: one object, no NaN/Infinity, no duplicate keys, bounded depth.

Two limits are the parser's own, stated here so that everything downstream can rely on them:

- **Depth.** At most ``MAX_DEPTH`` nested objects/arrays (CSS bodies nest 4 or 5 deep). Deeper is a
  400. Without an explicit limit the parser's accidental one (Python's recursion limit, ~990) let a
  body through that the dead letter, one level deeper, could not encode: 503 on every attempt.
- **Doubles.** A number such as ``1e400`` is valid JSON text but no double holds it; Python reads it
  as infinity, which is not JSON. It is kept as its own text (a string), so the models refuse it where
  a number is expected (422, dead-lettered) and stored objects stay strict JSON. The archive keeps the
  body's bytes as received.
- **Integers.** Any size is JSON; Python converts at most ``sys.get_int_max_str_digits()`` digits (4,300)
  and raises beyond, because conversion is quadratic. A longer integer is kept as its own text, like a
  double that overflows (a 422 where a number is expected), never a 400 for a valid body.
"""

from __future__ import annotations

import json
import math
import re
import sys
from typing import Any

MAX_DEPTH = 100


class BodyError(Exception):
    """The body is not a strict-JSON object (answered 400)."""


def _no_constants(name: str) -> Any:
    raise BodyError(f"{name} is not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise BodyError("duplicate keys in a JSON object")
    return obj


def finite_or_text(text: str) -> float | str:
    """A JSON number as a float, or as its own text when no double holds it (``1e400``)."""
    value = float(text)
    return value if math.isfinite(value) else text


MAX_INT_DIGITS = getattr(sys, "get_int_max_str_digits", lambda: 0)() or 4300


def int_or_text(text: str) -> int | str:
    """A JSON integer as an int, or as its own text when Python will not convert that many digits."""
    return int(text) if len(text.lstrip("-")) <= MAX_INT_DIGITS else text


_LONG_INT = re.compile(rb"[0-9]{%d}" % (MAX_INT_DIGITS + 1))

# Only a literal with a 3-digit exponent or 309+ digits can overflow a double: bodies without one
# (nearly all) keep the C parser's own float reading, which is several times faster.
_MAY_OVERFLOW = re.compile(rb"[0-9][eE]\+?[0-9]{3}|[0-9]{309}")


def parse_object(raw: bytes) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError("body is not UTF-8") from exc
    floats, ints = (finite_or_text, int_or_text if _LONG_INT.search(raw) else None) if _MAY_OVERFLOW.search(raw) \
        else (None, None)
    try:
        value = json.loads(text, parse_constant=_no_constants, object_pairs_hook=_unique_keys, parse_float=floats,
                           parse_int=ints)
    except BodyError:
        raise
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, huge ints, deep nesting
        raise BodyError(f"body is not valid JSON: {type(exc).__name__}") from exc
    if not isinstance(value, dict):
        raise BodyError("body is not a JSON object")
    if raw.count(b"{") + raw.count(b"[") > MAX_DEPTH:  # fewer containers cannot nest too deep
        check_depth(value)
    return value


def check_depth(value: object, limit: int = MAX_DEPTH) -> None:
    """Raise BodyError when containers nest deeper than ``limit`` (iterative: no recursion to exhaust)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        for child in children:  # type: ignore[union-attr]
            if isinstance(child, (dict, list)):
                if depth >= limit:
                    raise BodyError(f"body nests deeper than {limit} levels")
                if child:
                    stack.append((child, depth + 1))
