"""A hand-made corpus of malformed callback requests, each with the status it must get.

Built from a list of bad bodies and bad framings, sent in each of the three SCF shapes.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

from cssai.ops import events
from cssai.signature import sign
from tests.conftest import KEY, sample

VALID = events.signed(sample(349), KEY)
T = VALID["t"]


def _with(**changes: Any) -> dict[str, Any]:
    return {**VALID, **changes}


def _without(*names: str) -> dict[str, Any]:
    return {k: v for k, v in VALID.items() if k not in names}


def _resigned(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "t": T, "sign": sign(KEY, T)}


# Raw bodies (bytes) that are not strict JSON objects -> 400.
NOT_JSON: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("whitespace", b"   \n"),
    ("array", b"[]"),
    ("string", b'"event"'),
    ("number", b"349"),
    ("null", b"null"),
    ("true", b"true"),
    ("nan", json.dumps(VALID).replace('"appid": 1234', '"appid": NaN').encode()),
    ("infinity", json.dumps(VALID).replace('"appid": 1234', '"appid": Infinity').encode()),
    ("minus infinity", json.dumps(VALID).replace('"appid": 1234', '"appid": -Infinity').encode()),
    ("duplicate key", json.dumps(VALID).replace('"appid": 1234', '"appid": 1, "appid": 2').encode()),
    ("duplicate t", json.dumps(VALID).replace('"path"', f'"t": {T}, "path"').encode()),
    ("trailing comma", json.dumps(VALID)[:-1].encode() + b",}"),
    ("single quotes", b"{'event_type': 349}"),
    ("unquoted key", b"{event_type: 349}"),
    ("comment", b'{"event_type": 349 /* x */}'),
    ("truncated", json.dumps(VALID).encode()[:-5]),
    ("two objects", json.dumps(VALID).encode() * 2),
    ("bom", b"\xef\xbb\xbf" + json.dumps(VALID).encode()),
    ("latin-1 byte", json.dumps(VALID).replace("test1820", "test\xe91820").encode("latin-1")),
    ("overlong utf-8", b'{"stream_id": "\xc0\xaf"}'),
    ("lone continuation byte", b'{"stream_id": "\x80"}'),
    ("nul byte outside string", b'{"event_type": 349}\x00'),
    ("deep nesting", b'{"a":' * 50_000 + b"1" + b"}" * 50_000),
    ("deep arrays", b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
    # an integer of any length is JSON (kept as its text past 4,300 digits): tests/test_tolerant.py
    ("hex number", b'{"event_type": 0x15D}'),
    ("leading zero", b'{"event_type": 0349}'),
    ("plus sign", b'{"event_type": +349}'),
    ("control char in string", b'{"stream_id": "a\x01b"}'),
    ("bad escape", b'{"stream_id": "\\x41"}'),
    ("utf-16", json.dumps(VALID).encode("utf-16")),
]

# Strict-JSON objects whose t/sign do not verify -> 401.
BAD_SIGNATURE: list[tuple[str, dict[str, Any]]] = [
    ("no sign", _without("sign")),
    ("no t", _without("t")),
    ("neither", _without("t", "sign")),
    ("sign null", _with(sign=None)),
    ("sign number", _with(sign=12345)),
    ("sign list", _with(sign=[VALID["sign"]])),
    ("sign upper-case", _with(sign=VALID["sign"].upper())),
    ("sign truncated", _with(sign=VALID["sign"][:31])),
    ("sign padded", _with(sign=VALID["sign"] + " ")),
    ("sign empty", _with(sign="")),
    ("sign of other key", _with(sign=sign("someone-else", T))),
    ("sign of other t", _with(sign=sign(KEY, T + 1))),
    ("t string", _with(t=str(T))),
    ("t float", _with(t=float(T))),
    ("t bool", _with(t=True)),
    ("t zero", _with(t=0, sign=sign(KEY, 0))),
    ("t negative", _with(t=-T, sign=sign(KEY, -T))),
    ("t expired", _with(t=1_600_000_000, sign=sign(KEY, 1_600_000_000))),
    ("t far future", _with(t=T + 86_400, sign=sign(KEY, T + 86_400))),
    ("t huge", _with(t=2**70, sign=sign(KEY, 2**70))),
    ("t nested", _with(t={"t": T})),
]

# Verified, but not valid for the event type -> 422 (dead-lettered).
INVALID: list[tuple[str, dict[str, Any]]] = [
    ("items not a list", _resigned({**sample(349), "items": {"begin_time": 1}})),
    ("item not an object", _resigned({**sample(349), "items": [7]})),
    ("begin_time string", _resigned({**sample(349), "items": [{"begin_time": "now", "end_time": 2}]})),
    ("begin_time negative", _resigned({**sample(349), "items": [{"begin_time": -1, "end_time": 2}]})),
    ("begin_time huge", _resigned({**sample(349), "items": [{"begin_time": 2**64, "end_time": 2}]})),
    ("end_time missing", _resigned({**sample(349), "items": [{"begin_time": 1}]})),
    ("key_words not strings",
     _resigned({**sample(349), "items": [{"begin_time": 1, "end_time": 2, "key_words": [{"a": 1}]}]})),
    ("stream_id missing", _resigned({k: v for k, v in sample(349).items() if k != "stream_id"})),
    ("stream_id empty", _resigned({**sample(349), "stream_id": ""})),
    ("stream_id object", _resigned({**sample(349), "stream_id": {"a": 1}})),
    ("344 frames not list", _resigned({**sample(344), "frames": "many"})),
    ("344 score string", _resigned({**sample(344), "frames": [{"score": "bad", "time": 1}]})),
    ("344 time missing", _resigned({**sample(344), "frames": [{"score": 1.0}]})),
    ("344 class missing", _resigned({k: v for k, v in sample(344).items() if k != "class"})),
    ("344 event_time missing", _resigned({k: v for k, v in sample(344).items() if k != "event_time"})),
    ("345 average missing", _resigned({k: v for k, v in sample(345).items() if k != "average_score"})),
    ("347 data list", _resigned({**sample(347), "data": []})),
    ("347 segments string", _resigned({**sample(347), "data": {"subtitle_tmp_res": "text"}})),
    ("347 keyword word missing", _resigned({**sample(347), "data": {"subtitle_tmp_res": [{"keywords_info": [{}]}]}})),
    ("347 pts string", _resigned({**sample(347), "data": {"subtitle_tmp_res": [{"start_pts": "x"}]}})),
]

# Verified and acceptable in spite of oddities -> 200.
ODD_BUT_FINE: list[tuple[str, dict[str, Any]]] = [
    ("unknown event type", _resigned({"event_type": 12345, "stream_id": "s"})),
    ("event_type string", _resigned({**sample(349), "event_type": "349"})),
    ("event_type float", _resigned({**sample(349), "event_type": 349.5})),
    ("event_type missing", _resigned({k: v for k, v in sample(349).items() if k != "event_type"})),
    ("extra fields", _resigned({**sample(349), "new": {"deep": [1, 2, {"x": None}]}})),
    ("no items", _resigned({**sample(349), "items": []})),
    ("null is absent (DESIGN.md, tolerant reading)", _resigned({**sample(345), "average_score": None})),
    ("a number where text is expected", _resigned({**sample(349), "items": [{"begin_time": 1, "end_time": 2,
                                                                             "key_words": [1]}]})),
]


def cases() -> Iterator[tuple[str, dict[str, Any], set[int]]]:
    """(name, SCF event, allowed statuses) over every shape."""
    for shape in ("apigw", "url"):
        for name, raw in NOT_JSON:
            yield f"{shape}: {name}", events.wrap(raw, shape) if _text_ok(raw) else _b64(raw, shape), {400}
            yield f"{shape} base64: {name}", _b64(raw, shape), {400}
    for group, expected in ((BAD_SIGNATURE, {401}), (INVALID, {422}), (ODD_BUT_FINE, {200})):
        for name, body in group:
            for shape in ("apigw", "url", "direct"):
                if shape == "direct" and "event_type" not in body:
                    yield f"{shape}: {name}", body, {400}  # a direct invocation is known by event_type
                    continue
                yield f"{shape}: {name}", events.wrap(body, shape), expected
    yield from framing()


def _text_ok(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _b64(raw: bytes, shape: str) -> dict[str, Any]:
    return events.wrap(raw, shape, base64_body=True)


def framing() -> Iterator[tuple[str, dict[str, Any], set[int]]]:
    good = json.dumps(VALID)
    yield "not an object: list", [good], {400}  # type: ignore[misc]
    yield "not an object: string", good, {400}  # type: ignore[misc]
    yield "no recognisable shape", {"body": good}, {400}
    yield "method number", {"httpMethod": 1, "body": good}, {400}
    yield "method PUT", {**events.wrap(VALID, "apigw"), "httpMethod": "PUT"}, {405}
    yield "method DELETE", {**events.wrap(VALID, "url"), "httpMethod": "DELETE"}, {405}
    yield "method get lower-case", {**events.wrap(VALID, "url"), "httpMethod": "get"}, {200}
    yield "headers a list", {**events.wrap(VALID, "apigw"), "headers": ["a"]}, {400}
    yield "body an object", {**events.wrap(VALID, "apigw"), "body": VALID}, {400}
    yield "body a number", {**events.wrap(VALID, "url"), "body": 5}, {400}
    yield "isBase64Encoded odd", {**events.wrap(VALID, "apigw"), "isBase64Encoded": "yes"}, {400}
    yield "base64 with junk", {**events.wrap(VALID, "apigw"), "isBase64Encoded": True, "body": good}, {400}
    cut = base64.b64encode(good.encode()).decode()[:-1]
    yield "base64 padding wrong", {**_b64(good.encode(), "url"), "body": cut}, {400}
    yield "lone surrogate in body", {**events.wrap(VALID, "apigw"), "body": good[:-1] + '"x": "\ud800"}'}, {400}
    yield "oversize text", events.wrap(good.encode() + b" " * (6 * 1024 * 1024), "apigw"), {413}
    yield "oversize base64", _b64(good.encode() + b" " * (6 * 1024 * 1024), "url"), {413}
    yield "oversize direct", {**VALID, "pad": "x" * (6 * 1024 * 1024)}, {413}
    yield "direct with NaN", {**VALID, "appid": float("nan")}, {400}
    huge = json.dumps(_resigned({**sample(344), "frames": [{"score": 0.5, "time": 1}]})).replace("0.5", "1e400")
    yield "1e400 parses to infinity: invalid score", events.wrap(huge.encode(), "apigw"), {422}
    yield "direct with object value", {**VALID, "appid": object()}, {400}
