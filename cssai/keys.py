"""Object-key segments from untrusted text: safe, stable and injective.

Every character outside ``[A-Za-z0-9._-]`` is percent-encoded (UTF-8), so
``a/b`` and ``a_b`` stay different, and a segment of only dots is encoded too,
so ``..`` can never climb. Long values keep a readable head plus a hash of the
whole, so two long ids that share a prefix still land apart.
"""

from __future__ import annotations

import hashlib
import re

MAX_SEGMENT = 96
_SAFE = re.compile(r"[A-Za-z0-9_\-.]")
_ALL_SAFE = re.compile(r"[A-Za-z0-9_\-.]+")
EMPTY = "%"  # "%" never appears unescaped otherwise, so an empty id collides with nothing


def segment(value: object) -> str:
    text = "" if value is None else str(value)
    if not text:
        return EMPTY
    if len(text) <= MAX_SEGMENT and _ALL_SAFE.fullmatch(text) and text.strip("."):
        return text  # the common case: an id that is already safe
    out = "".join(ch if _SAFE.fullmatch(ch) else _encode(ch) for ch in text)
    if set(out) == {"."}:
        out = out.replace(".", "%2E")
    if len(out) > MAX_SEGMENT:
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        head = out[: MAX_SEGMENT - 17]
        head = head[: head.rfind("%")] if "%" in head[-2:] else head
        out = f"{head}~{digest}"
    return out


def _encode(ch: str) -> str:
    return "".join(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass"))


def join(*segments: str) -> str:
    """Join already-sanitised segments into a key."""
    return "/".join(segments)
