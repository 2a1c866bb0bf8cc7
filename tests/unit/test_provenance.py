"""Whose change is it: each change of a plan judged against the manifests at a base commit.

Plans come from the real planner on plain data (manifests now, manifests at the base, live
records), so the paths judged are the paths the planner reports.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_planner import OURS, live, plan_of, spec

from reconciler.config import ProjectConfig
from reconciler.manifests import Lifecycle, ManifestSet
from reconciler.plan import Change, FieldChange, Plan
from reconciler.provenance import Base, classify, combine, field_reason, value_at
from reconciler.render import render

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def q(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit}


def ratings(capacity: float, unit: str = "A*h") -> dict[str, Any]:
    return {"capacity": q(capacity, unit), "voltage_min": q(2.5, "V"), "voltage_max": q(4.2, "V")}


def base_of(*specs: Any, **config: Any) -> Base:
    manifests = ManifestSet((Path("m"),), ProjectConfig(**config), tuple(specs), ())
    return Base.of(COMMIT, manifests)


def reasons(plan: Plan) -> dict[str, Any]:
    """Each change's reason, and its field reasons by path."""
    return {
        c.name: (c.reason, {d.path: d.reason for d in c.details}) if c.details else c.reason
        for c in plan.changes
    }


@pytest.mark.parametrize(
    ("declared", "base", "before", "after", "reason"),
    [
        (False, None, "x", "y", "this_change"),  # the base manifest did not own the field
        (True, "y", "x", "y", "outside"),  # the base already wanted it: Ionworks was edited
        (True, "x", "x", "y", "this_change"),  # the manifest changed, Ionworks as it was
        (True, "w", "x", "y", "both"),  # the manifest changed, and Ionworks was edited too
        (True, None, "x", None, "outside"),  # absent at the base and now: the live value goes
        (True, q(5000, "mA*h"), q(4, "A*h"), q(5, "A*h"), "outside"),  # units count physically
        (True, q(4000, "mA*h"), q(4, "A*h"), q(5, "A*h"), "this_change"),
    ],
)
def test_one_field_is_judged_by_the_base_manifest(
    declared: bool, base: Any, before: Any, after: Any, reason: str
) -> None:
    assert field_reason(declared, base, before, after) == reason


def test_reasons_combine_into_one_for_the_change() -> None:
    assert combine(["outside", "outside"]) == "outside"
    assert combine(["this_change"]) == "this_change"
    assert combine(["this_change", "outside"]) == "both"
    assert combine(["both"]) == "both"
    assert combine([]) == "this_change"


@pytest.mark.parametrize(
    ("path", "found"),
    [
        ("notes", (True, "n")),
        ("ratings.capacity", (True, q(5, "A*h"))),
        ("ratings.capacity.value", (True, 5)),
        ("ratings.energy", (True, None)),  # the field is declared; the key is not there
        ("source.doi", (False, None)),  # the field is not declared at all
        ("cleared.x", (True, None)),  # declared as null
        ("electrolyte.solvents[1]", (True, "EMC")),
        ("electrolyte.solvents[7]", (True, None)),
        ("properties.a.b", (True, "a key with a dot")),  # the longest key that fits wins
        ("properties.a.c", (True, None)),
    ],
)
def test_value_at_reads_a_path_as_field_differences_show_it(
    path: str, found: tuple[bool, Any]
) -> None:
    tree = {
        "notes": "n",
        "ratings": ratings(5),
        "cleared": None,
        "electrolyte": {"solvents": ["EC", "EMC"]},
        "properties": {"a.b": "a key with a dot", "a": {"x": 1}},
    }
    assert value_at(tree, path) == found


def test_an_update_marks_each_field_and_the_change() -> None:
    """Cell A: the manifest changed capacity (from this change). Cell B: someone edited notes
    in the app (the base already said "orig"), and the PR changes capacity that was edited
    too (both). Cell C: only an outside edit is reverted."""
    now = [
        spec("Cell A", ratings=ratings(5.2)),
        spec("Cell B", ratings=ratings(5.3), notes="orig"),
        spec("Cell C", notes="orig"),
    ]
    base = base_of(
        spec("Cell A", ratings=ratings(5)),
        spec("Cell B", ratings=ratings(5), notes="orig"),
        spec("Cell C", notes="orig"),
    )
    records = [
        live("Cell A", ratings=ratings(5)),
        live("Cell B", ratings=ratings(5.1), notes="edited in the app"),
        live("Cell C", notes="edited in the app"),
    ]
    plan = classify(plan_of(now, records), base)
    assert plan.base == COMMIT
    assert reasons(plan) == {
        "Cell A": ("this_change", {"ratings.capacity": "this_change"}),
        "Cell B": ("both", {"notes": "outside", "ratings.capacity": "both"}),
        "Cell C": ("outside", {"notes": "outside"}),
    }


def test_a_field_the_base_manifest_did_not_declare_is_this_change() -> None:
    """Declaring notes: null for the first time clears the live notes: the PR's doing."""
    plan = classify(
        plan_of([spec("Cell", notes=None)], [live("Cell", notes="from the app")]),
        base_of(spec("Cell")),
    )
    assert reasons(plan) == {"Cell": ("this_change", {"notes": "this_change"})}


def test_creates_deletes_and_releases() -> None:
    now = [spec("New"), spec("Deleted in app"), spec("Deleted and edited", notes="new")]
    base = base_of(
        spec("Deleted in app"),
        spec("Deleted and edited", notes="old"),
        spec("Dropped by this change"),
        spec("Released here"),
        release=["Released before"],
    )
    records = [
        live("Dropped by this change"),
        live("Stray"),
        live("Released here"),
        live("Released before"),
    ]
    plan = plan_of(now, records, prune=True, release=["Released *"])
    assert reasons(classify(plan, base)) == {
        "New": "this_change",
        "Deleted in app": "outside",
        "Deleted and edited": "both",
        "Dropped by this change": "this_change",
        "Stray": "outside",  # the base did not declare it either
        "Released here": "this_change",
        "Released before": "outside",  # released at the base already: marked again since
    }


def test_adopts_and_renames_are_this_change_unless_the_base_asked_for_them() -> None:
    now = [
        spec("Adopted now"),
        spec("Unmarked in app"),
        spec("Renamed now", lifecycle=Lifecycle(previous_names=("Old 1",))),
        spec("Renamed back in app", lifecycle=Lifecycle(previous_names=("Old 2",))),
    ]
    base = base_of(
        spec("Unmarked in app"),
        spec("Old 1"),
        spec("Renamed back in app", lifecycle=Lifecycle(previous_names=("Old 2",))),
    )
    records = [
        live("Adopted now", marker=None),
        live("Unmarked in app", marker=None),
        live("Old 1"),
        live("Old 2"),
    ]
    assert reasons(classify(plan_of(now, records), base)) == {
        "Adopted now": "this_change",
        "Unmarked in app": "outside",
        "Renamed now": "this_change",
        "Renamed back in app": "outside",
    }


def test_a_renamed_spec_is_judged_by_its_base_manifest_under_the_old_name() -> None:
    now = [spec("New name", notes="orig", lifecycle=Lifecycle(previous_names=("Old name",)))]
    plan = plan_of(now, [live("Old name", notes="edited in the app")])
    marked = classify(plan, base_of(spec("Old name", notes="orig")))
    assert reasons(marked) == {"New name": ("both", {"notes": "outside"})}


def test_orphans_are_not_judged() -> None:
    plan = classify(plan_of([spec("Kept")], [live("Kept"), live("Orphan")]), base_of())
    assert reasons(plan) == {"Orphan": None}


def test_without_a_base_directory_everything_written_is_this_change() -> None:
    """The manifests directory did not exist at the base: every manifest is new."""
    plan = plan_of(
        [spec("New"), spec("Changed", notes="x")],
        [live("Changed", notes="y"), live("Gone")],
        prune=True,
    )
    assert reasons(classify(plan, Base(COMMIT))) == {
        "New": "this_change",
        "Changed": ("this_change", {"notes": "this_change"}),
        "Gone": "outside",
    }


@given(st.lists(st.sampled_from(["this_change", "outside", "both"]), min_size=1))
def test_combine_is_order_free(found: list[Any]) -> None:
    assert combine(found) == combine(list(reversed(found)))


def test_reasons_survive_json_and_a_plan_file() -> None:
    plan = classify(
        plan_of([spec("Cell", notes="orig")], [live("Cell", notes="edited")]),
        base_of(spec("Cell", notes="orig")),
    )
    [data] = json.loads(render([plan], "json"))["plans"]
    assert data["base"] == COMMIT
    [change] = data["changes"]
    assert change["reason"] == "outside"
    assert change["details"][0]["reason"] == "outside"
    assert Plan.from_data(data) == plan


def test_a_bad_reason_in_a_plan_file_is_refused() -> None:
    change = Change(
        kind="update", name="x", details=(FieldChange("notes", "a", "b", "this_change"),)
    )
    plan = Plan("p", "o", "http://x", "m", False, (change,))
    [data] = json.loads(render([plan], "json"))["plans"]
    data["changes"][0]["details"][0]["reason"] = "someone said so"
    with pytest.raises(ValueError):
        Plan.from_data(data)


def test_ownership_marker_is_not_a_field_of_a_recreated_spec() -> None:
    """A create the base declared exactly: the marker apply adds is not a difference."""
    plan = classify(plan_of([spec("Cell")], []), base_of(spec("Cell")))
    assert reasons(plan) == {"Cell": "outside"}
    assert OURS in json.dumps(plan.changes[0].body)
