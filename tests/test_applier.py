"""applier helpers: what a repair PATCH may touch, and explicit nulls for merging servers."""

from __future__ import annotations

from reconciler.applier import patch_for, repair_body, with_explicit_nulls

RECORD = {
    "id": "x",
    "name": "Cell A",
    "notes": "a colleague's note",
    "ratings": {
        "capacity": {"value": 5.0, "unit": "A*h"},
        "energy": {"value": 18.0, "unit": "W*h"},
    },
}


def test_repair_touches_only_the_given_fields() -> None:
    expected = {"ratings": {"capacity": {"value": 5000, "unit": "mA*h"}}, "notes": "ours"}
    assert repair_body(expected, RECORD, {"ratings"}) == {
        "ratings": {"capacity": {"value": 5000, "unit": "mA*h"}, "energy": None}
    }
    assert set(repair_body(expected, RECORD, {"ratings", "notes"})) == {"ratings", "notes"}
    assert repair_body({"name": "Cell A", "project_id": "p"}, RECORD, {"name", "project_id"}) == {}


def test_patch_for_compares_physically_and_ignores_project_id() -> None:
    body = {"project_id": "p", "ratings": {"capacity": {"value": 5, "unit": "A.h"}}}
    assert (
        patch_for(body, {**RECORD, "ratings": {"capacity": {"value": 5000, "unit": "mA*h"}}}) == {}
    )
    assert set(patch_for(body, RECORD)) == {"ratings"}


def test_explicit_nulls_only_for_keys_the_desired_value_lacks() -> None:
    desired = {"a": {"keep": 1}, "q": {"value": 1, "unit": "V"}}
    live = {"a": {"keep": 2, "drop": 3}, "q": {"value": 2, "unit": "V"}, "gone": True}
    assert with_explicit_nulls(desired, live) == {
        "a": {"keep": 1, "drop": None},
        "q": {"value": 1, "unit": "V"},
        "gone": None,
    }
