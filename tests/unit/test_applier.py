"""applier helpers: what a repair PATCH may touch, explicit nulls for merging servers, and the
cheap converged check."""

from __future__ import annotations

from reconciler.applier import patch_for
from reconciler.compare import fingerprint
from reconciler.plan import Change, Plan
from reconciler.removals import nested_nulls, repair_body, with_explicit_nulls
from reconciler.results import ApplyResult

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


def test_fingerprint_is_equal_only_where_the_comparison_sees_no_change() -> None:
    body = {
        "project_id": "p",
        "name": "Cell A",
        "ratings": {"capacity": {"value": 5, "unit": "A*h"}},
    }
    echoed = {"ratings": {"capacity": {"unit": "A*h", "value": 5}}, "name": "Cell A", "source": {}}
    assert fingerprint(body) == fingerprint(echoed)  # key order, project_id, an empty source
    assert fingerprint({**body, "notes": None}) == fingerprint(body)
    assert fingerprint({**body, "notes": []}) != fingerprint(body)  # [] is a value, not absent
    assert fingerprint({**body, "name": "Cell B"}) != fingerprint(body)
    for same_physics in ({"value": 5000, "unit": "mA*h"}, {"value": 5.0, "unit": "A*h"}):
        other = {**body, "ratings": {"capacity": same_physics}}
        assert fingerprint(other) != fingerprint(body)  # not equal text: compared the slow way
        assert patch_for(body, other) == {}


def test_a_plan_knows_how_many_specs_it_listed() -> None:
    changes = [Change(kind, f"Cell {kind}") for kind in ("create", "update", "delete", "orphan")]
    plan = Plan("p", "o", "http://api", "m", False, tuple(changes), ("A", "B"), ("Theirs",))
    assert plan.live_count == 3 + 2 + 1  # all but the create, the unchanged, the unmanaged


def test_plans_and_results_repr_as_one_short_line_whatever_their_size() -> None:
    """asyncio formats a run's result in passing; a full repr of 1,000 changes took 0.1 s."""
    changes = tuple(
        Change("create", f"Cell {n}", body={"name": f"Cell {n}"}) for n in range(10_000)
    )
    plan = Plan("p", "o", "http://api", "m", False, changes, unchanged=("Cell X",))
    assert repr(plan) == (
        "Plan(project_id='p', owner='o', changes=[10000 create], unchanged=1, unmanaged=0)"
    )
    assert len(repr(ApplyResult(plan))) < 250


def test_repair_never_nulls_a_shared_material_s_definition() -> None:
    """A material's definition is every spec's that uses it: a spec's repair leaves it alone,
    even where the manifest names the material without defining it."""
    component = {"properties": {"binder": "CMC", "thickness": {"value": 80, "unit": "um"}}}
    material = {"name": "Graphite", "manufacturer": "Acme"}
    record = {
        "id": "x",
        "anode": {**component, "material": {**material, "definition": {"d50": "15 um"}}},
    }
    expected = {"anode": {"properties": {"binder": "CMC"}, "material": material}}
    assert repair_body(expected, record, {"anode"}) == {
        "anode": {"properties": {"binder": "CMC", "thickness": None}, "material": material}
    }


def test_nested_nulls_are_the_keys_a_patch_removes() -> None:
    body = {
        "notes": None,  # a field set to null clears it: not a nested key
        "ratings": {"energy": None, "capacity": {"value": 1, "unit": "A*h"}},
        "anode": {"properties": {"binder": None, "deep": {"x": None}}},
    }
    assert nested_nulls(body) == [
        "anode.properties.binder",
        "anode.properties.deep.x",
        "ratings.energy",
    ]
    assert nested_nulls({"ratings": {"capacity": {"value": 1, "unit": "A*h"}}}) == []
