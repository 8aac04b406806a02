from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cssai.signature import CLOCK_SKEW_SECONDS, VALIDITY_SECONDS, SignatureError, sign, verify

NOW = 1_760_000_000
KEYS = ["new-key-123", "old-key-456"]


def body(t: object, s: object) -> dict:
    return {"event_type": 349, "t": t, "sign": s}


def test_md5_of_key_and_t_matches_the_documented_formula() -> None:
    import hashlib

    assert sign("abc", 1700000000) == hashlib.md5(b"abc1700000000").hexdigest() == "22bd6333f840eeeee03ad14f75fd96ac"


@pytest.mark.parametrize("key", KEYS)
def test_any_configured_key_verifies_for_rotation(key: str) -> None:
    t = NOW + 300
    verify(body(t, sign(key, t)), KEYS, NOW)


@pytest.mark.parametrize(
    ("t", "given", "message"),
    [
        (None, "0" * 32, "t is missing"),
        ("1760000300", None, "t is missing"),
        (True, "0" * 32, "t is missing"),
        (1.5, "0" * 32, "t is missing"),
        (-5, "0" * 32, "t is missing"),
        (NOW + 300, None, "sign is missing"),
        (NOW + 300, 12345, "sign is missing"),
        (NOW + 300, "abc", "sign is missing"),
        (NOW + 300, sign("new-key-123", NOW + 300).upper(), "sign is missing"),
        (NOW + 300, sign("new-key-123", NOW + 300)[:-1], "sign is missing"),
        (NOW + 300, sign("new-key-123", NOW + 300) + "0", "sign is missing"),
        (NOW + 300, sign("stranger", NOW + 300), "does not match"),
        (NOW + 300, sign("new-key-123", NOW + 301), "does not match"),
        (NOW - 1, sign("new-key-123", NOW - 1), "expired"),
        (NOW + VALIDITY_SECONDS + CLOCK_SKEW_SECONDS + 1, sign("new-key-123", NOW + 661), "future"),
    ],
)
def test_refusals(t: object, given: object, message: str) -> None:
    with pytest.raises(SignatureError, match=message):
        verify(body(t, given), KEYS, NOW)


def test_without_keys_everything_is_refused() -> None:
    t = NOW + 300
    with pytest.raises(SignatureError, match="no callback key"):
        verify(body(t, sign("", t)), [], NOW)


def test_edge_of_the_window_is_accepted() -> None:
    t = NOW + VALIDITY_SECONDS + CLOCK_SKEW_SECONDS
    verify(body(t, sign(KEYS[0], t)), KEYS, NOW)
    verify(body(NOW, sign(KEYS[0], NOW)), KEYS, NOW)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)


@given(st.dictionaries(st.sampled_from(["t", "sign", "event_type", "x"]) | st.text(max_size=5), json_values))
def test_verify_never_raises_anything_but_signature_error(candidate: dict) -> None:
    try:
        verify(candidate, KEYS, NOW)
    except SignatureError:
        return
    # only a correct signature gets here
    assert candidate["sign"] in {sign(k, candidate["t"]) for k in KEYS}
