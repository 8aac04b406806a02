from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cssai.keys import MAX_SEGMENT, segment


@pytest.mark.parametrize(
    "value",
    ["..", ".", "../../etc/passwd", "a/b", "a\\b", "nul\x00byte", "line\nbreak", "\u202eevil", "🎥live", "x" * 10_000],
)
def test_hostile_values_become_one_safe_segment(value: str) -> None:
    out = segment(value)
    assert "/" not in out and "\\" not in out
    assert out not in (".", "..")
    assert all(0x21 <= ord(c) < 0x7F for c in out)
    assert len(out) <= MAX_SEGMENT


def test_plain_ids_are_kept_readable() -> None:
    assert segment("livestream1") == "livestream1"
    assert segment("test_1820-a.b") == "test_1820-a.b"
    assert segment("") == segment(None) == "%"
    assert segment("_") == "_"


def test_similar_ids_do_not_collide() -> None:
    assert len({segment(v) for v in ["a/b", "a_b", "a%2Fb", "a b", "a\\b", "a.b"]}) == 6
    assert segment("x" * 500 + "1") != segment("x" * 500 + "2")


@given(st.text(max_size=60), st.text(max_size=60))
def test_segment_is_injective_and_stable(a: str, b: str) -> None:
    assert segment(a) == segment(a)
    if a != b:
        assert segment(a) != segment(b)


@given(st.text(min_size=1))
def test_segment_is_always_safe(value: str) -> None:
    out = segment(value)
    assert "/" not in out and out not in (".", "..") and len(out) <= MAX_SEGMENT
    assert out.isascii() and out.isprintable()
