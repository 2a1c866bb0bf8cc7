"""Answers as untrusted input: the JSON policy (depth, NaN and infinities) on plain bytes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.api.bodies import MAX_JSON_DEPTH, TooDeep, nesting_depth_exceeds, parse_json


def nested(depth: int, leaf: str = "1") -> bytes:
    return ("[" * depth + leaf + "]" * depth).encode()


# -- the JSON policy on plain bytes ------------------------------------------------------------


def test_nan_and_infinities_arrive_as_strings_and_finite_numbers_as_floats() -> None:
    text = b'{"a": NaN, "b": Infinity, "c": -Infinity, "d": 1e999, "e": -1E+999, "f": 2.5e-3}'
    assert parse_json(text) == {
        "a": "NaN",
        "b": "Infinity",
        "c": "-Infinity",
        "d": "Infinity",
        "e": "-Infinity",
        "f": 0.0025,
    }
    assert parse_json(b"[1, -0.0, 1e308]") == [1, -0.0, 1e308]


def test_nesting_up_to_the_limit_is_read_and_deeper_is_refused() -> None:
    assert parse_json(nested(MAX_JSON_DEPTH)) is not None
    with pytest.raises(TooDeep):
        parse_json(nested(MAX_JSON_DEPTH + 1))
    with pytest.raises(TooDeep):  # deeper than Python's own parser can go
        parse_json(nested(100_000))


@pytest.mark.parametrize(
    "text",
    [
        b'{"notes": "[[[[[[[[[[" , "x": []}',
        b'{"notes": "a \\" [[[[[[[[[[ \\\\", "y": "]]]]]]]]]]"}',
        b'{"\\\\": "{{{{{{{{{{{{"}',
    ],
)
def test_brackets_inside_strings_do_not_count(text: bytes) -> None:
    assert not nesting_depth_exceeds(text, 2)
    json.loads(text)  # the cases are valid JSON


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=40,
)


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


@given(json_values, st.integers(min_value=0, max_value=8), st.booleans())
def test_depth_on_bytes_agrees_with_the_parsed_value(
    value: Any, limit: int, ascii_only: bool
) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only).encode()
    assert nesting_depth_exceeds(text, limit) == (depth(value) > limit)


@pytest.mark.parametrize("text", [b"{", b'{"a": 1,}', b"\xff\xfe{}", b"[1] [2]"])
def test_invalid_json_is_a_value_error(text: bytes) -> None:
    with pytest.raises(ValueError):
        parse_json(text)
