"""The gateway layer reads every SCF shape and never raises on arbitrary input."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

import index
from cssai import gateway
from cssai.ops import events
from tests.conftest import KEY, sample

DOCUMENTED = {200, 400, 401, 403, 405, 413, 422, 503}

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
json_like = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
http_events = st.fixed_dictionaries(
    {"httpMethod": st.sampled_from(["POST", "GET", "PUT", "post"]) | scalars},
    optional={
        "headers": st.dictionaries(st.text(max_size=10), st.text(max_size=10)) | scalars,
        "body": st.text(max_size=200) | json_like,
        "isBase64Encoded": st.booleans() | scalars,
        "requestContext": st.dictionaries(st.sampled_from(["sourceIp", "x"]), scalars) | scalars,
    },
)


@given(st.one_of(json_like, http_events))
def test_main_handler_never_raises_and_answers_a_documented_status(event: object) -> None:
    answer = index.main_handler(event, None)
    assert answer["statusCode"] in DOCUMENTED
    assert json.loads(answer["body"])["code"] in (0, answer["statusCode"])


@given(st.binary(max_size=300), st.booleans(), st.sampled_from(["apigw", "url"]))
def test_arbitrary_bytes_get_a_clear_4xx(raw: bytes, as_base64: bool, shape: str) -> None:
    event = events.wrap(raw, shape, base64_body=as_base64)
    assert index.main_handler(event, None)["statusCode"] in {400, 401, 413}


@given(st.dictionaries(st.text(max_size=10), json_like, max_size=6))
def test_signed_near_valid_bodies_never_raise(extra: dict) -> None:
    body = events.signed({**sample(349), **extra}, KEY)
    answer = index.main_handler(events.wrap(body, "url"), None)
    assert answer["statusCode"] in DOCUMENTED


def test_parse_shapes() -> None:
    body = {"event_type": 349, "stream_id": "s"}
    apigw = gateway.parse(events.wrap(body, "apigw", source_ip="1.2.3.4"), 1000)
    assert (apigw.shape, apigw.method, apigw.source_ip) == ("apigw", "POST", "1.2.3.4")
    url = gateway.parse(events.wrap(body, "url", source_ip="5.6.7.8"), 1000)
    assert (url.shape, url.source_ip) == ("function_url", "5.6.7.8")
    direct = gateway.parse(body, 1000)
    assert direct.shape == "direct" and direct.parsed == body
    assert json.loads(apigw.body) == json.loads(url.body) == body
