from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cssai.body import BodyError, parse_object
from cssai.identity import UNDATED, day, event_id, event_seconds


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"[]",
        b'"text"',
        b"42",
        b"null",
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b'{"a": -Infinity}',
        b'{"a": 1, "a": 2}',
        b"{'a': 1}",
        b'{"a": 1,}',
        b'{"a": "\xff"}',
        b"\xef\xbb\xbf{}",
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
def test_not_a_strict_json_object(raw: bytes) -> None:
    with pytest.raises(BodyError):
        parse_object(raw)


def test_a_json_object_parses() -> None:
    assert parse_object(b'{"event_type": 349, "items": []}') == {"event_type": 349, "items": []}


@given(st.binary(max_size=200))
def test_parse_never_raises_anything_but_body_error(raw: bytes) -> None:
    with contextlib.suppress(BodyError):
        assert isinstance(parse_object(raw), dict)


def test_event_id_ignores_t_sign_and_key_order() -> None:
    a = {"event_type": 349, "stream_id": "s", "t": 1, "sign": "x"}
    b = {"sign": "y", "stream_id": "s", "t": 2, "event_type": 349}
    assert event_id(a) == event_id(b)
    assert event_id(a) != event_id({**a, "stream_id": "s2"})
    assert len(event_id(a)) == 64
    import hashlib
    import json

    body = {"event_type": 349, "stream_id": "直播×1", "items": [{"title": "x"}], "t": 5, "sign": "s"}
    one_line = hashlib.sha256(json.dumps({k: v for k, v in body.items() if k not in ("t", "sign")},
                                         sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert event_id(body) == one_line  # recomputable with the stdlib's defaults


def test_event_day_comes_from_the_event_not_the_clock() -> None:
    assert day(1752130787) == "2025-07-10"
    assert day(None) == UNDATED
    assert day(10**20) == UNDATED
    assert event_seconds({"event_time": 5}) == 5
    assert event_seconds({"event_type": 349, "items": [{"begin_time": 7}]}) == 7
    assert event_seconds({"event_type": 347, "data": {"subtitle_tmp_res": [{"start_unix_time": 9}]}}) == 9
    assert event_seconds({"event_time": "soon"}) is None
    # ints, floats and numeric strings alike (314 sends its event_time as a string); ms where the family uses ms
    assert event_seconds({"event_time": 1752130787.0}) == event_seconds({"event_time": "1752130787"}) == 1752130787
    assert event_seconds({"event_type": 321, "data_time": 1670588074971}) == 1670588074
    assert event_seconds({"event_type": 100, "end_time": 1642089598, "event_time": 1}) == 1642089598
