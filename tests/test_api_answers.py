"""Answers as untrusted input: JSON too deep, NaN and infinities, records without id or name.

Pure checks of the JSON policy on plain bytes, then the CLI against fake servers on 127.0.0.1:
each bad answer is one clear ``Error:`` line (exit 1) or, for NaN, a plan that renders and saves.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import spec_doc
from hypothesis import given
from hypothesis import strategies as st
from test_api_support import RawServer, http_answer, list_server, one_error, plan_against

from reconciler.api.bodies import MAX_JSON_DEPTH, TooDeep, nesting_depth_exceeds, parse_json

Cli = Callable[..., Any]


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


def test_an_integer_no_float_can_hold_arrives_as_a_string_too() -> None:
    huge = 10**400
    text = f'{{"up": {huge}, "down": -{huge}, "fits": {10**300}, "small": 7}}'.encode()
    assert parse_json(text) == {"up": "Infinity", "down": "-Infinity", "fits": 10**300, "small": 7}


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


# -- the CLI against answers nobody should send ------------------------------------------------


def live_spec(**fields: Any) -> dict[str, Any]:
    return {"id": "s-1", "project_id": "p1", **spec_doc("Cell A"), **fields}


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ({"id": "s-1", "project_id": "p1"}, "record 0 of the list has no string 'name'"),
        ({"name": "Cell A", "project_id": "p1"}, "record 0 of the list has no string 'id'"),
        ({"id": 42, "name": "Cell A"}, "record 0 of the list has no string 'id'"),
        ({"id": "s-1", "name": ["Cell A"]}, "record 0 of the list has no string 'name'"),
    ],
)
def test_a_listed_spec_without_a_string_id_or_name_is_one_clear_error(
    run_cli: Cli, tmp_path: Path, record: dict[str, Any], problem: str
) -> None:
    with list_server([record]) as server:
        line = one_error(plan_against(run_cli, server.url, tmp_path / "m"))
    assert line.startswith("Error: listing cell specifications (GET /cell_specifications): ")
    assert problem in line
    assert set(server.methods()) == {"GET"}


@pytest.mark.parametrize("levels", [MAX_JSON_DEPTH + 10, 5_000, 200_000])
def test_an_answer_nested_too_deeply_is_one_clear_error(
    run_cli: Cli, tmp_path: Path, levels: int
) -> None:
    notes = "[" * levels + "]" * levels
    body = f'{{"items": [{{"id": "s-1", "name": "Cell A", "notes": {notes}}}], "total": 1}}'

    def respond(server: RawServer, conn: Any, request: str) -> None:
        conn.sendall(http_answer(200, body.encode()))

    with RawServer(respond) as server:
        line = one_error(plan_against(run_cli, server.url, tmp_path / "m"))
    assert "the Ionworks API sent JSON nested too deeply to read (HTTP 200)" in line
    assert server.methods() == ["GET"], "a broken answer is not asked for again"


def test_nan_and_infinity_in_a_live_spec_render_and_save_as_strings(
    run_cli: Cli, tmp_path: Path
) -> None:
    ratings = spec_doc("Cell A")["ratings"]
    ratings["capacity"] = {"value": math.nan, "unit": "A*h"}
    ratings["energy"] = {"value": math.inf, "unit": "W*h"}
    ratings["voltage_max"] = {"value": 10**400, "unit": "V"}  # no float holds it
    record = live_spec(ratings=ratings)
    out = tmp_path / "plan.json"
    with list_server([record]) as server:  # json.dumps writes the bare NaN / Infinity tokens
        result = plan_against(
            run_cli, server.url, tmp_path / "m", after=("--format", "json", "--out", str(out))
        )
    assert result.code == 0, result.output
    assert "Traceback" not in result.output and "Internal error" not in result.output

    def strict(token: str) -> Any:
        raise AssertionError(f"bare {token} in a JSON output")

    shown = json.loads(result.out, parse_constant=strict)
    saved = json.loads(out.read_text(), parse_constant=strict)
    assert '"NaN"' in json.dumps(shown) and '"Infinity"' in json.dumps(saved)
