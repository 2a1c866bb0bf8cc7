"""compare: the comparable form both sides of a diff go through (with hypothesis)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import json_value

from reconciler import compare
from reconciler.paths import without_paths
from reconciler.plan import FieldChange


def test_quantities_compare_by_physical_value() -> None:
    same = [
        {"value": 2, "unit": "mA*h"},
        {"value": 0.002, "unit": "A*h"},
        {"value": 0.002, "unit": "A.h"},
        {"value": 7.2, "unit": "coulomb"},
    ]
    keys = {compare.comparable(q) for q in same}
    assert len(keys) == 1
    assert compare.comparable({"value": 2.1, "unit": "mA*h"}) not in keys


def test_absent_null_and_empty_are_alike_but_text_never_looks_like_a_number() -> None:
    assert compare.comparable({"a": None, "b": {}}) is None
    assert compare.comparable({}) is None
    assert compare.comparable("#5") != compare.comparable(5)
    assert compare.comparable("~#5 x") != compare.comparable({"value": 5, "unit": "x"})


def test_unknown_units_fall_back_to_their_spelling() -> None:
    odd = compare.comparable({"value": 1, "unit": "furlongs-ish"})
    assert odd == compare.comparable({"value": 1.0, "unit": "furlongs-ish"})
    assert odd != compare.comparable({"value": 1, "unit": "other-ish"})


def test_equivalent_allows_relative_tolerance_only() -> None:
    a = compare.comparable({"value": 1.0, "unit": "V"})
    b = compare.comparable({"value": 1.0 + 4e-10, "unit": "V"})
    c = compare.comparable({"value": 1.0 + 1e-6, "unit": "V"})
    assert compare.equivalent(a, b)
    assert not compare.equivalent(a, c)
    assert not compare.equivalent(a, compare.comparable({"value": 1.0, "unit": "A"}))


def test_without_paths_and_digest() -> None:
    body = {"properties": {"managed_by": "x", "keep": "y"}, "notes": "n"}
    stripped = without_paths(body, [("properties", "managed_by"), ("absent", "path")])
    assert stripped == {"properties": {"keep": "y"}, "notes": "n"}
    assert body["properties"] == {"managed_by": "x", "keep": "y"}, "the input is not mutated"
    assert compare.digest({"a": 1, "b": 2}) == compare.digest({"b": 2.0, "a": 1})
    assert compare.digest({"a": 1}) != compare.digest({"a": 2})


UNIT_SPELLINGS = [
    ("A*h", "A.h", 1.0),
    ("mA*h", "A.h", 1e-3),
    ("mg/cm**2", "mg.cm-2", 1.0),
    ("mA*h/g", "mA.h.g-1", 1.0),
    ("mol/L", "mol.L-1", 1.0),
    ("W*h", "mW.h", 1e3),
]


@settings(max_examples=80, deadline=None)
@given(
    value=st.floats(min_value=1e-6, max_value=1e6, allow_nan=False),
    spelling=st.sampled_from(UNIT_SPELLINGS),
)
def test_equal_quantities_in_different_spellings_compare_equal(
    value: float, spelling: tuple[str, str, float]
) -> None:
    first, second, factor = spelling
    a = compare.comparable({"value": value, "unit": first})
    b = compare.comparable({"value": value * factor, "unit": second})
    assert compare.equivalent(a, b)


@settings(max_examples=80, deadline=None)
@given(value=json_value)
def test_comparable_is_deterministic_and_reflexive(value: Any) -> None:
    assert compare.comparable(value) == compare.comparable(value)
    assert compare.equivalent(compare.comparable(value), compare.comparable(value))


def test_field_differences_report_only_real_changes_with_the_values_as_written() -> None:
    before = {
        "capacity": {"value": 2, "unit": "mA*h"},
        "voltage_min": {"value": 2.5, "unit": "V"},
        "voltage_max": {"value": 4.2, "unit": "V"},
        "energy": {"value": 1.0, "unit": "W*h"},
    }
    after = {
        "capacity": {"value": 0.002, "unit": "A.h"},  # the same charge, spelled otherwise
        "voltage_min": {"value": 2.5 * (1 + 4e-10), "unit": "V"},  # float noise
        "voltage_max": {"value": 4.3, "unit": "V"},
    }
    assert compare.field_differences("ratings", before, after) == [
        FieldChange("ratings.energy", {"value": 1.0, "unit": "W*h"}, None),
        FieldChange(
            "ratings.voltage_max", {"value": 4.2, "unit": "V"}, {"value": 4.3, "unit": "V"}
        ),
    ]


def test_field_differences_agree_with_equivalent() -> None:
    for before, after in [
        ({"a": 1.0}, {"a": 1.0 + 1e-12}),
        ({"a": [1, "x"]}, {"a": [1.0, "x"]}),
        ({"a": None, "b": {}}, {}),
        ({"a": "#5"}, {"a": 5}),
    ]:
        equal = compare.equivalent(compare.comparable(before), compare.comparable(after))
        assert (compare.field_differences("f", before, after) == []) == equal, (before, after)


def test_differing_fields_never_compare_the_project() -> None:
    live = {"notes": "n", "ratings": {"capacity": {"value": 5, "unit": "A*h"}}}
    body = {
        "project_id": "elsewhere",
        "notes": "n",
        "ratings": {"capacity": {"value": 5000, "unit": "mA*h"}},
    }
    assert compare.differing_fields(body, live) == []
    assert compare.differing_fields({**body, "notes": "m"}, live) == ["notes"]


def test_fingerprint_is_exact_and_ignores_absent_empty_and_project() -> None:
    body = {"name": "A", "notes": None, "source": {}, "project_id": "p"}
    assert compare.fingerprint(body) == compare.fingerprint({"name": "A"})
    assert compare.fingerprint({"v": 1}) != compare.fingerprint({"v": 1.0 + 1e-12})
    assert compare.same({"v": 1}, {"v": 1.0 + 1e-12})


def test_integers_beyond_any_float_compare_without_crashing() -> None:
    """Live data is not validated: a server may hold an integer no float can represent."""
    huge = {"value": 10**400, "unit": "V"}
    assert compare.same(huge, dict(huge))
    assert not compare.same(huge, {"value": 1, "unit": "V"})
    assert not compare.same({"a": 10**400}, {"a": 2 * 10**400})
    assert compare.field_differences("ratings", {"x": huge}, {"x": {"value": 1, "unit": "V"}})
