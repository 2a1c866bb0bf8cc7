"""normalise: the comparable form both sides of a diff go through (with hypothesis)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler import normalise

LIVE_RECORD: dict[str, Any] = {
    "id": "spec-1",
    "name": "Cell A",
    "organization_id": "org",
    "project_id": "proj",
    "form_factor": "21700",
    "manufacturer": None,
    "ratings": {"capacity": {"value": 5.0, "unit": "A.h"}},
    "properties": {"managed_by": "ionworks-apply/default"},
    "source": {},
    "notes": None,
    "anode_id": "comp-1",
    "created_at": "2026-01-01T00:00:00+00:00",
    "updated_at": "2026-01-02T00:00:00+00:00",
    "created_by": "user",
    "instance_ids": ["i1"],
    "anode": {
        "id": "comp-1",
        "component_type": "anode",
        "material_id": "mat-1",
        "created_at": "2026-01-01T00:00:00+00:00",
        "properties": {"thickness": {"value": 80, "unit": "um"}},
        "material": {
            "id": "mat-1",
            "name": "Graphite",
            "manufacturer": "Acme",
            "product_id": None,
            "definition": {"type": "graphite"},
            "organization_id": "org",
        },
    },
    "cathode": None,
}


def test_live_body_keeps_only_what_a_manifest_can_declare() -> None:
    assert normalise.live_body(LIVE_RECORD) == {
        "name": "Cell A",
        "form_factor": "21700",
        "ratings": {"capacity": {"value": 5.0, "unit": "A.h"}},
        "properties": {"managed_by": "ionworks-apply/default"},
        "source": {},
        "anode": {
            "properties": {"thickness": {"value": 80, "unit": "um"}},
            "material": {
                "name": "Graphite",
                "manufacturer": "Acme",
                "definition": {"type": "graphite"},
            },
        },
    }


def test_quantities_compare_by_physical_value() -> None:
    same = [
        {"value": 2, "unit": "mA*h"},
        {"value": 0.002, "unit": "A*h"},
        {"value": 0.002, "unit": "A.h"},
        {"value": 7.2, "unit": "coulomb"},
    ]
    keys = {normalise.comparable(q) for q in same}
    assert len(keys) == 1
    assert normalise.comparable({"value": 2.1, "unit": "mA*h"}) not in keys


def test_absent_null_and_empty_are_alike_but_text_never_looks_like_a_number() -> None:
    assert normalise.comparable({"a": None, "b": {}}) is None
    assert normalise.comparable({}) is None
    assert normalise.comparable("#5") != normalise.comparable(5)
    assert normalise.comparable("~#5 x") != normalise.comparable({"value": 5, "unit": "x"})


def test_unknown_units_fall_back_to_their_spelling() -> None:
    odd = normalise.comparable({"value": 1, "unit": "furlongs-ish"})
    assert odd == normalise.comparable({"value": 1.0, "unit": "furlongs-ish"})
    assert odd != normalise.comparable({"value": 1, "unit": "other-ish"})


def test_equivalent_allows_relative_tolerance_only() -> None:
    a = normalise.comparable({"value": 1.0, "unit": "V"})
    b = normalise.comparable({"value": 1.0 + 4e-10, "unit": "V"})
    c = normalise.comparable({"value": 1.0 + 1e-6, "unit": "V"})
    assert normalise.equivalent(a, b)
    assert not normalise.equivalent(a, c)
    assert not normalise.equivalent(a, normalise.comparable({"value": 1.0, "unit": "A"}))


def test_without_paths_and_digest() -> None:
    body = {"properties": {"managed_by": "x", "keep": "y"}, "notes": "n"}
    stripped = normalise.without_paths(body, [("properties", "managed_by"), ("absent", "path")])
    assert stripped == {"properties": {"keep": "y"}, "notes": "n"}
    assert body["properties"] == {"managed_by": "x", "keep": "y"}, "the input is not mutated"
    assert normalise.digest({"a": 1, "b": 2}) == normalise.digest({"b": 2.0, "a": 1})
    assert normalise.digest({"a": 1}) != normalise.digest({"a": 2})


UNIT_SPELLINGS = [
    ("A*h", "A.h", 1.0),
    ("mA*h", "A.h", 1e-3),
    ("mg/cm**2", "mg.cm-2", 1.0),
    ("mA*h/g", "mA.h.g-1", 1.0),
    ("mol/L", "mol.L-1", 1.0),
    ("W*h", "mW.h", 1e3),
]

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=8),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=80, deadline=None)
@given(
    value=st.floats(min_value=1e-6, max_value=1e6, allow_nan=False),
    spelling=st.sampled_from(UNIT_SPELLINGS),
)
def test_equal_quantities_in_different_spellings_compare_equal(
    value: float, spelling: tuple[str, str, float]
) -> None:
    first, second, factor = spelling
    a = normalise.comparable({"value": value, "unit": first})
    b = normalise.comparable({"value": value * factor, "unit": second})
    assert normalise.equivalent(a, b)


@settings(max_examples=80, deadline=None)
@given(record=st.dictionaries(st.sampled_from(list(LIVE_RECORD)), json_value, max_size=8))
def test_live_body_is_idempotent_and_digest_stable(record: dict[str, Any]) -> None:
    once = normalise.live_body(record)
    assert normalise.live_body(once) == once
    assert normalise.digest(once) == normalise.digest(normalise.live_body(once))


@settings(max_examples=80, deadline=None)
@given(value=json_value)
def test_comparable_is_deterministic_and_reflexive(value: Any) -> None:
    assert normalise.comparable(value) == normalise.comparable(value)
    assert normalise.equivalent(normalise.comparable(value), normalise.comparable(value))
