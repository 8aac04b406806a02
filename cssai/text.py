"""Text that is not valid Unicode, made storable.

JSON allows ``"\\ud83d"``: a lone surrogate, which no UTF-8 encoder accepts. The archive keeps the
body byte for byte; everything derived from it (objects, records, log lines) gets U+FFFD instead,
so one odd character can neither fail a write nor dead-letter an event.
"""

from __future__ import annotations

import json
import re
from typing import Any

REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")
# A \\uD8xx-\\uDBxx escape not followed by a low one, or a \\uDCxx-\\uDFxx escape not preceded by a high one.
_LONE_ESCAPE = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


def clean(value: str) -> str:
    """``value`` with every lone surrogate replaced by U+FFFD (a no-op, and cheap, for valid text)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub(REPLACEMENT, value)
    return value


def utf8(value: str) -> bytes:
    """UTF-8 bytes of ``value``, lone surrogates replaced."""
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub(REPLACEMENT, value).encode("utf-8")


def json_utf8(value: Any, *, allow_nan: bool = False) -> bytes:
    """UTF-8 JSON of a parsed value; text that is not valid Unicode stays as escapes (as a JSON sender's would)."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=allow_nan).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, allow_nan=allow_nan).encode("ascii")


def has_lone_surrogates(raw: bytes) -> bool:
    """Whether a JSON body escapes a lone surrogate (logged, so the replacement is not silent).

    Only ``\\uD8xx``-``\\uDFxx`` escapes can be surrogates: bodies that escape other text (Chinese is
    ``\\u4e..``-``\\u9f..``) skip the search.
    """
    return (b"\\ud" in raw or b"\\uD" in raw) and _LONE_ESCAPE.search(raw) is not None


def clean_tree(value: Any) -> Any:
    """A copy of a parsed JSON value with every string cleaned (only called when a body needs it)."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {clean(k): clean_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_tree(v) for v in value]
    return value
