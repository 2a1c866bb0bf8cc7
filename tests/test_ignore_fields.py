"""Ignored paths: never diffed, and their live values survive every write, at any depth.

A one-segment path (``properties``) used to be dropped from what was carried over, so adopting
replaced the whole live object; a path inside a Quantity carried the live number into the
manifest's unit (3000 mA*h written as 3000 A*h).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import Api, CliResult, spec_doc, write_manifests

from reconciler.planner import whole_quantities

Cli = Callable[..., CliResult]
LAB_PROPERTIES = {"lab_notes": "cycled at 45 C", "calibration": {"value": 2, "unit": "mV"}}


@pytest.mark.parametrize("where", ["config", "lifecycle"])
def test_ignoring_properties_whole_keeps_every_live_property_when_adopting(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api, where: str
) -> None:
    api.create({**spec_doc("Cell A"), "properties": LAB_PROPERTIES})
    doc = spec_doc("Cell A", properties={"assembly_method": "wound"})
    config = None
    if where == "config":
        config = "ignore_fields: [properties]\n"
    else:
        doc["lifecycle"] = {"ignore_fields": ["properties"]}
    manifests = write_manifests(tmp_path / "m", doc, config=config)
    result = run_cli("apply", str(manifests), "--yes", env=sandbox_env)
    assert result.code == 0, result.output
    assert api.spec("Cell A")["properties"] == {
        **LAB_PROPERTIES,
        "managed_by": "ionworks-apply/default",
    }
    assert run_cli("plan", str(manifests), "--detailed-exitcode", env=sandbox_env).code == 0


def test_ignoring_a_whole_field_keeps_it_through_an_update(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    manifests = write_manifests(
        tmp_path / "m",
        spec_doc("Cell A", notes="from the manifest"),
        config="ignore_fields: [notes]\n",
    )
    assert run_cli("apply", str(manifests), "--yes", env=sandbox_env).code == 0
    api.patch(api.spec("Cell A")["id"], {"notes": "written in the web app"})
    write_manifests(
        manifests,
        spec_doc("Cell A", capacity=4.0, notes="from the manifest"),
        config="ignore_fields: [notes]\n",
    )
    assert run_cli("apply", str(manifests), "--yes", env=sandbox_env).code == 0
    live = api.spec("Cell A")
    assert live["notes"] == "written in the web app"
    assert live["ratings"]["capacity"]["value"] == 4.0


def test_a_path_inside_a_rating_is_refused_with_its_location(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    manifests = write_manifests(
        tmp_path / "m", spec_doc("Cell A"), config="ignore_fields: [ratings.capacity.value]\n"
    )
    result = run_cli("validate", str(manifests))
    assert result.code == 1
    assert "ionworks-apply.yaml:1:" in result.err
    assert "ratings.capacity is a Quantity" in result.err
    api.clear_journal()
    assert run_cli("apply", str(manifests), "--yes", env=sandbox_env).code == 1
    assert api.writes() == []


def test_a_path_inside_a_property_quantity_carries_value_and_unit_together(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    live = api.create(
        {
            **spec_doc("Cell A"),
            "properties": {
                "mass": {"value": 3000, "unit": "g"},
                "managed_by": "ionworks-apply/default",
            },
        }
    )
    doc = spec_doc(
        "Cell A",
        capacity=4.0,
        properties={"mass": {"value": 3, "unit": "kg"}, "assembly_method": "wound"},
        lifecycle={"ignore_fields": ["properties.mass.value"]},
    )
    manifests = write_manifests(tmp_path / "m", doc)
    result = run_cli("apply", str(manifests), "--yes", env=sandbox_env)
    assert result.code == 0, result.output
    after = api.spec("Cell A")
    assert after["id"] == live["id"]
    assert after["properties"]["mass"] == {"value": 3000, "unit": "g"}
    assert after["properties"]["assembly_method"] == "wound"
    assert run_cli("plan", str(manifests), "--detailed-exitcode", env=sandbox_env).code == 0


def test_whole_quantities_widens_only_paths_into_a_quantity() -> None:
    live = {"properties": {"mass": {"value": 3, "unit": "g"}, "notes": {"value": "x"}}}
    paths = [
        ("properties", "mass", "value"),
        ("properties", "mass", "unit"),
        ("properties", "notes", "value"),
        ("properties",),
        ("ratings", "capacity", "value"),
    ]
    assert whole_quantities(
        paths, live, {"ratings": {"capacity": {"value": 1, "unit": "A*h"}}}
    ) == [
        ("properties", "mass"),
        ("properties", "mass"),
        ("properties", "notes", "value"),
        ("properties",),
        ("ratings", "capacity"),
    ]
