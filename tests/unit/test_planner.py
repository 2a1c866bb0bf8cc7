"""The planner on plain data: an in-memory manifest set and live records, no HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.config import ProjectConfig
from reconciler.errors import LiveStateError, Location, ManifestError
from reconciler.manifests import Lifecycle, ManifestSet, SpecDocument
from reconciler.planner import build_plan

OURS = "ionworks-apply/default"
PROJECT = "p-1"
RATINGS = {
    "capacity": {"value": 5, "unit": "A*h"},
    "voltage_min": {"value": 2.5, "unit": "V"},
    "voltage_max": {"value": 4.2, "unit": "V"},
}


def spec(name: str, *, lifecycle: Lifecycle | None = None, **fields: Any) -> SpecDocument:
    where = Location(f"m/{name}.yaml", 1, 1)
    body = {"name": name, "ratings": RATINGS, **fields}
    return SpecDocument(where, body, lifecycle or Lifecycle(), {key: where for key in body})


def live(name: str, *, marker: str | None = OURS, **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": f"id-{name}",
        "name": name,
        "project_id": PROJECT,
        "updated_at": "t0",
        "ratings": RATINGS,
        **fields,
    }
    if marker:
        record["properties"] = {**record.get("properties", {}), "managed_by": marker}
    return record


def plan_of(
    specs: list[SpecDocument], records: list[dict[str, Any]], *, prune: bool = False, **config: Any
) -> Any:
    manifests = ManifestSet((Path("m"),), ProjectConfig(**config), tuple(specs), ())
    return build_plan(
        manifests, records, project_id=PROJECT, api_url="http://x", manifests_dir="m", prune=prune
    )


def kinds(plan: Any) -> dict[str, str]:
    return {c.name: c.kind for c in plan.changes}


def test_each_kind_of_change_from_plain_data() -> None:
    plan = plan_of(
        [
            spec("New"),
            spec("Same"),
            spec("Changed", notes="new"),
            spec("Theirs"),
            spec("Renamed", lifecycle=Lifecycle(previous_names=("Old name",))),
        ],
        [
            live("Same"),
            live("Changed", notes="old"),
            live("Theirs", marker=None),
            live("Old name"),
            live("Gone"),
            live("Unmanaged", marker=None),
        ],
    )
    assert kinds(plan) == {
        "New": "create",
        "Renamed": "rename",
        "Theirs": "adopt",
        "Changed": "update",
        "Gone": "orphan",
    }
    assert plan.unchanged == ("Same",)
    assert plan.unmanaged == ("Unmanaged",)
    [update] = plan.of_kind("update")
    assert update.body == {"notes": "new"}
    assert [(d.path, d.before, d.after) for d in update.details] == [("notes", "old", "new")]


def test_prune_turns_orphans_into_deletes_of_our_specs_only() -> None:
    plan = plan_of(
        [], [live("Gone"), live("Other team", marker="ionworks-apply/other")], prune=True
    )
    assert kinds(plan) == {"Gone": "delete"}
    assert plan.managed_count == 1


def test_units_and_float_noise_are_no_change() -> None:
    spelled = {**RATINGS, "capacity": {"value": 5000, "unit": "mA.h"}}
    plan = plan_of([spec("Same", ratings=spelled)], [live("Same")])
    assert plan.changes == () and plan.unchanged == ("Same",)


def test_another_owners_spec_under_our_name_is_a_manifest_problem() -> None:
    with pytest.raises(ManifestError) as raised:
        plan_of([spec("Cell")], [live("Cell", marker="ionworks-apply/other")])
    assert "managed by ionworks-apply/other" in str(raised.value.problems[0])


def test_a_duplicate_live_name_stops_the_plan() -> None:
    twin = {**live("Twin"), "id": "id-2"}
    with pytest.raises(LiveStateError, match="'Twin' \\(ids id-Twin and id-2\\)"):
        plan_of([], [live("Twin"), twin])


def test_records_of_another_project_are_left_out_entirely() -> None:
    stranger = {**live("Stranger"), "project_id": "p-2"}
    plan = plan_of([], [stranger], prune=True)
    assert plan.changes == () and plan.unmanaged == () and plan.live_ids == frozenset()


def test_adopting_keeps_every_live_property_and_adds_the_marker() -> None:
    record = live("Theirs", marker=None, properties={"lab_notes": "x"})
    plan = plan_of([spec("Theirs")], [record])
    [adopt] = plan.changes
    assert adopt.body == {"properties": {"lab_notes": "x", "managed_by": OURS}}


def test_an_ignored_whole_field_is_carried_over_from_live() -> None:
    record = live("Cell", notes="web app note", properties={"lab": "keep", "managed_by": OURS})
    doc = spec("Cell", notes="manifest note", properties={"assembly": "wound"})
    plan = plan_of([doc], [record], ignore_fields=["properties"])
    [update] = plan.changes
    assert update.fields == ("notes",)
    plan = plan_of(
        [spec("Cell", properties={"assembly": "wound"})],
        [live("Cell", marker=None, properties={"lab": "keep"})],
        ignore_fields=["properties"],
    )
    [adopt] = plan.changes
    assert adopt.body["properties"] == {"lab": "keep", "managed_by": OURS}


def test_a_create_body_carries_marker_and_project() -> None:
    plan = plan_of([spec("New", properties={"a": "b"})], [])
    [create] = plan.changes
    assert create.body["properties"] == {"a": "b", "managed_by": OURS}
    assert create.body["project_id"] == PROJECT


def test_a_released_spec_keeps_every_live_property_but_the_marker() -> None:
    properties = {"lab": "B", "cells": {"value": 3, "unit": "count"}}
    plan = plan_of(
        [spec("Keep")],
        [live("Keep"), live("Retired", properties=properties), live("Gone")],
        prune=True,
        release=["Retired*"],
    )
    assert kinds(plan) == {"Retired": "release", "Gone": "delete"}
    [release] = plan.of_kind("release")
    assert release.body == {"properties": properties}
    assert (release.spec_id, release.owned) == ("id-Retired", ("properties",))
    assert release.live_digest, "apply re-checks the spec is as planned before releasing it"


def test_release_globs_only_touch_our_own_specs() -> None:
    plan = plan_of(
        [],
        [live("Old-theirs", marker="ionworks-apply/team"), live("Old-lab", marker=None)],
        release=["Old-*"],
    )
    assert plan.changes == ()
    assert plan.other_owners == {"Old-theirs": "ionworks-apply/team"}
    assert plan.unmanaged == ("Old-lab",)


@pytest.mark.parametrize(
    "declared",
    [spec("Retired-A"), spec("New-name", lifecycle=Lifecycle(previous_names=("Retired-A",)))],
    ids=["by-name", "by-previous-name"],
)
def test_a_spec_both_declared_and_released_is_a_manifest_error(declared: SpecDocument) -> None:
    with pytest.raises(ManifestError) as raised:
        plan_of([declared], [live("Retired-A")], release=["Retired-*"])
    [problem] = raised.value.problems
    assert "'Retired-A' is declared by this manifest and matched by the release glob" in str(
        problem
    )
    assert str(problem).startswith(f"m/{declared.name}.yaml:1:1: ")
