"""materials: which material changes a plan holds and whom they reach, from plain data."""

from __future__ import annotations

from typing import Any

from reconciler.catalog import DesiredMaterial
from reconciler.errors import Location
from reconciler.manifests import Lifecycle, SpecDocument
from reconciler.materials import HERE, plan_materials
from reconciler.normalise import MATERIAL_IDS

OURS = "ionworks-apply/default"
KEY = ("NCM622", "BASF")
OLD = {"d50": {"value": 10, "unit": "um"}}
NEW = {"d50": {"value": 12, "unit": "um"}}


def spec(name: str) -> SpecDocument:
    body = {"name": name, "cathode": {"material": {"name": KEY[0], "manufacturer": KEY[1]}}}
    return SpecDocument(Location(f"{name}.yaml", 1, 1), body, Lifecycle(), {})


def live(name: str, row: str, definition: Any, marker: str | None = OURS) -> dict[str, Any]:
    material = {"name": KEY[0], "manufacturer": KEY[1], "definition": definition}
    record: dict[str, Any] = {
        "id": f"id-{name}",
        "name": name,
        "cathode": {"material": material},
        MATERIAL_IDS: {"cathode": row},
        "instance_count": 3,
    }
    if marker:
        record["properties"] = {"managed_by": marker}
    return record


def plan(records: list[dict[str, Any]], matched: list[str], created: tuple[str, ...] = ()) -> Any:
    desired = [DesiredMaterial(KEY, NEW, None, Location("m.yaml", 1, 1))]
    by_name = {r["name"]: r for r in records}
    pairs = [(spec(n), by_name[n]) for n in matched]
    return plan_materials(desired, records, pairs, [spec(n) for n in created], [], OURS)


def test_one_shared_row_reaches_every_spec_using_it() -> None:
    records = [live("A", "row", OLD), live("B", "row", OLD), live("Theirs", "row", OLD, None)]
    [change], kept = plan(records, ["A", "B"])
    assert kept == []
    assert {(r.name, r.owner) for r in change.reach} == {("A", HERE), ("B", HERE), ("Theirs", None)}
    assert [d.path for d in change.details] == ["definition.d50"]
    assert change.via == "A" and change.body == {"cathode": spec("A").body["cathode"]}
    assert [r.name for r in change.beyond_here] == ["Theirs"]


def test_rows_kept_per_spec_reach_only_their_own_spec() -> None:
    records = [live("A", "r1", OLD), live("Theirs", "r2", OLD, None)]
    [change], _ = plan(records, ["A"])
    assert [r.name for r in change.reach] == ["A"] and change.beyond_here == ()


def test_a_new_use_joins_the_one_shared_row() -> None:
    records = [live("Theirs", "row", OLD, None)]
    [change], _ = plan(records, [], created=("New",))
    assert [(r.name, r.owner) for r in change.reach] == [("Theirs", None)]
    assert change.via is None, "nothing of ours uses it yet; the create writes it"


def test_rows_already_as_desired_plan_nothing() -> None:
    assert plan([live("A", "row", NEW)], ["A"]) == ([], [])
    assert plan([live("A", "row", {"d50": {"value": 12000, "unit": "nm"}})], ["A"]) == ([], [])
