"""How a forward proves where it comes from: ``css`` (re-signed t/sign, as CSS signs) or ``standard``.

- ``css``: the callback's JSON object with ``t`` = now + 600 and ``sign`` = md5(key + t), key the first of
  ``CSS_CALLBACK_KEYS``, every other member unchanged, byte for byte, in its place (``t`` and ``sign`` are
  replaced where they stand, or added at the end). A downstream that verifies CSS keeps working. Without
  keys, and for relay 314 (never signed), the body as received.
- ``standard``: Standard Webhooks (https://www.standardwebhooks.com/, spec "Signature scheme"): the body
  byte for byte as received, headers ``webhook-id`` (the event_id), ``webhook-timestamp`` (unix seconds) and
  ``webhook-signature`` = ``v1,`` + base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}")), the key being the
  base64 after ``whsec_`` in ``FORWARD_SECRET``. Signed with the ``standardwebhooks`` package (the spec's
  Python library, pure Python, no dependencies); tests/test_forwarding.py checks it against an HMAC
  computed by hand and the downstream verifies with the library's ``verify``.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime, timezone

from cssai.signature import sign

VALID_FOR = 600  # as CSS: t is about 10 minutes ahead
SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
MIN_SECRET_BYTES = 16


def secret_bytes(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret; ValueError naming FORWARD_SECRET otherwise."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("FORWARD_SECRET must be a whsec_-prefixed base64 secret when FORWARD_SIGNING=standard "
                         "(e.g. python -c \"import base64,secrets; print('whsec_' + "
                         "base64.b64encode(secrets.token_bytes(32)).decode())\")")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("FORWARD_SECRET: the part after whsec_ is not base64") from None
    if len(key) < MIN_SECRET_BYTES:
        raise ValueError(f"FORWARD_SECRET: at least {MIN_SECRET_BYTES} bytes of secret after whsec_")
    return key


def standard_headers(event_id: str, timestamp: int, body: bytes, key: bytes) -> dict[str, str]:
    """The three headers, signed by the ``standardwebhooks`` library (the spec's own Python implementation)."""
    from standardwebhooks.webhooks import Webhook

    when = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    signature = Webhook(key).sign(event_id, when, body)
    return {"webhook-id": event_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature}


def css_body(raw: bytes, key: str, now: float) -> bytes:
    """``raw`` (a JSON object) with ``t``/``sign`` replaced in place, or added at the end; all else as received.

    The top-level members are walked with the json module's own scanner, each value skipped by a decoder
    that keeps nothing (objects and numbers become None as soon as they are read): a 6 MB evaluation parsed
    into objects again would cost tens of MB at SCF's 256 MB.
    """
    # Latin-1 maps each byte to one character, so indices are byte offsets and the text costs one byte a
    # byte; JSON's structure is ASCII and no byte of a multi-byte UTF-8 character is ASCII, so the walk is
    # the same as over the UTF-8 text (names compared are ASCII: "t", "sign").
    text = raw.decode("latin-1")
    spans = _member_values(text, ("t", "sign"))
    del text
    t = int(now) + VALID_FOR
    new = {"t": str(t).encode(), "sign": json.dumps(sign(key, t)).encode()}
    out, last = [], 0
    for name, (start, end) in sorted(spans.items(), key=lambda item: item[1]):
        out += [raw[last:start], new[name]]
        last = end
    out.append(raw[last:])
    body = b"".join(out)
    missing = [name for name in new if name not in spans]
    if missing:
        close = body.rstrip().rfind(b"}")
        head = body[:close].rstrip()
        members = b",".join(b'"' + name.encode() + b'":' + new[name] for name in missing)
        body = head + (b"" if head.endswith(b"{") else b",") + members + body[close:]
    return body


def _nothing(_: object) -> None:
    return None


# Finds where a value ends and keeps none of it: every object, number and constant is dropped as read.
_SKIP = json.JSONDecoder(object_pairs_hook=_nothing, parse_int=_nothing, parse_float=_nothing,
                         parse_constant=_nothing)


def _member_values(text: str, names: tuple[str, ...]) -> dict[str, tuple[int, int]]:
    """Where the values of the top-level members ``names`` stand in ``text`` (the last one, if repeated)."""
    ws = json.decoder.WHITESPACE.match
    found: dict[str, tuple[int, int]] = {}
    index = ws(text, 0).end()
    if text[index:index + 1] != "{":
        raise ValueError("not a JSON object")
    index = ws(text, index + 1).end()
    if text[index:index + 1] == "}":
        return found
    while True:
        if text[index] != '"':
            raise ValueError("expected a member name")
        name, index = json.decoder.scanstring(text, index + 1)
        index = ws(text, index).end()
        if text[index] != ":":
            raise ValueError("expected ':'")
        start = ws(text, index + 1).end()
        _, end = _SKIP.raw_decode(text, start)
        if name in names:
            found[name] = (start, end)
        index = ws(text, end).end()
        if text[index] == "}":
            return found
        if text[index] != ",":
            raise ValueError("expected ',' or '}'")
        index = ws(text, index + 1).end()
