"""Malformed requests get their documented status, never an exception, and write nothing when refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import index
from cssai import runtime
from cssai.ops import events
from tests import bad_requests
from tests.conftest import KEY, sample, tree

CASES = list(bad_requests.cases())


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 100
    assert {status for _, _, allowed in CASES for status in allowed} >= {200, 400, 401, 405, 413, 422}


@pytest.mark.parametrize(("name", "event", "allowed"), CASES, ids=[c[0] for c in CASES])
def test_each_bad_request(sink: Path, name: str, event: object, allowed: set[int]) -> None:
    answer = index.main_handler(event, {"request_id": name})
    assert answer["statusCode"] in allowed, (name, answer)
    if answer["statusCode"] in (400, 401, 403, 405, 413):
        assert tree(sink) == {}


NASTY = st.one_of(
    st.text(max_size=50),
    st.sampled_from(["..", "/", "\\", "\x00", "\u202e", "🎥", "a" * 10_000, "%2F", "\n", "CON", ".."]),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.none(),
    st.booleans(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
FIELDS = {
    344: ["stream_id", "domain", "appname", "event_time", "frames", "class", "appid"],
    345: ["stream_id", "average_score", "max_score", "class", "event_time"],
    347: ["stream_id", "task_id", "channel_id", "data"],
    349: ["stream_id", "domain", "path", "items", "appid"],
}


@st.composite
def near_valid(draw: st.DrawFn) -> dict:
    """A real sample with a few fields removed, retyped or replaced by hostile values."""
    event_type = draw(st.sampled_from(sorted(FIELDS)))
    body = sample(event_type)
    for name in draw(st.lists(st.sampled_from(FIELDS[event_type]), max_size=3, unique=True)):
        if draw(st.booleans()):
            body.pop(name, None)
        else:
            body[name] = draw(NASTY)
    items = body.get("items")
    if event_type == 349 and isinstance(items, list) and items and isinstance(items[0], dict):
        item = dict(body["items"][0])
        item[draw(st.sampled_from(["title", "begin_time", "key_words", "video_store_url"]))] = draw(NASTY)
        body["items"] = [item]
    return body


@given(near_valid(), st.sampled_from(["apigw", "url", "direct"]))
def test_near_valid_signed_events_are_stored_or_dead_lettered(body: dict, shape: str) -> None:
    answer = index.main_handler(events.wrap(events.signed(body, KEY), shape), None)
    assert answer["statusCode"] in (200, 422), answer


@given(near_valid(), st.sampled_from(["apigw", "url"]), st.sampled_from(["drop", "garble", "stale"]))
def test_near_valid_events_with_bad_signatures_are_refused(body: dict, shape: str, how: str) -> None:
    signed = events.signed(body, KEY)
    if how == "drop":
        signed.pop("sign")
    elif how == "garble":
        signed["sign"] = signed["sign"][::-1]
    else:
        signed["t"] -= 3600
    answer = index.main_handler(events.wrap(signed, shape), None)
    assert answer["statusCode"] == 401


def test_refused_requests_in_bulk_leave_the_sink_empty(sink: Path) -> None:
    runtime.reset()
    for _, event, allowed in CASES:
        if allowed <= {400, 401, 405, 413}:
            index.main_handler(event, None)
    assert tree(sink) == {}
