"""The manifest schema: pydantic models, extra checks, and the committed JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.editor_schema import json_schema
from reconciler.schema import CellSpecManifest, Issue, check_spec

REPO = Path(__file__).resolve().parent.parent
SCHEMA_FILE = REPO / "manifests" / "cellspec.schema.json"


def spec(**fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": "Cell",
        "ratings": {
            "capacity": {"value": 5, "unit": "A*h"},
            "voltage_min": {"value": 2.5, "unit": "V"},
            "voltage_max": {"value": 4.2, "unit": "V"},
        },
    }
    doc.update(fields)
    return doc


def messages(issues: list[Issue]) -> dict[tuple[str | int, ...], str]:
    return {issue.path: issue.message for issue in issues}


def test_a_valid_spec_has_no_issues() -> None:
    assert check_spec(spec()) == []
    assert check_spec({"name": "Only a name"}) == []


def test_committed_json_schema_is_current() -> None:
    """`ionworks-apply schema > manifests/cellspec.schema.json` regenerates it."""
    expected = json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
    assert SCHEMA_FILE.read_text(encoding="utf-8") == expected


def test_json_schema_describes_fields_and_forbids_unknown_keys() -> None:
    document = json_schema()
    assert document["then"] == {"$ref": "#/$defs/MaterialManifest"}
    assert document["else"] == {"$ref": "#/$defs/CellSpecManifest"}
    material = document["$defs"]["MaterialManifest"]
    assert material["required"] == ["name", "kind"] and material["additionalProperties"] is False
    schema = {**document["$defs"]["CellSpecManifest"], "$defs": document["$defs"]}
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["name"]
    for name, field in schema["properties"].items():
        assert field.get("description"), name
    ratings = schema["$defs"]["Ratings"]
    assert ratings["additionalProperties"] is False
    assert set(ratings["required"]) == {"capacity", "voltage_min", "voltage_max"}
    free_form = schema["properties"]["properties"]["anyOf"][0]
    assert free_form["additionalProperties"] == {"$ref": "#/$defs/PropertyValue"}
    value_types = schema["$defs"]["PropertyValue"]["anyOf"]
    assert {"type": "number"} not in value_types  # editors flag bare numbers too
    assert "lifecycle" in schema["properties"]
    assert "project_id" not in schema["properties"]


def test_unknown_keys_at_every_strict_level_get_suggestions() -> None:
    doc = spec(
        ratngs={},
        anode={"propertes": {}, "material": {"name": "G", "manufacturor": "X"}},
        source={"dio": "10.1/x"},
        lifecycle={"previous_name": []},
    )
    doc["ratings"]["capcity"] = {"value": 1, "unit": "A*h"}
    found = messages(check_spec(doc))
    assert found[("ratngs",)] == "unknown key 'ratngs' (did you mean 'ratings'?)"
    assert found[("ratings", "capcity")] == "unknown key 'capcity' (did you mean 'capacity'?)"
    assert found[("anode", "propertes")].endswith("(did you mean 'properties'?)")
    assert found[("anode", "material", "manufacturor")].endswith("(did you mean 'manufacturer'?)")
    assert found[("source", "dio")].endswith("(did you mean 'doi'?)")
    assert found[("lifecycle", "previous_name")].endswith("(did you mean 'previous_names'?)")
    assert all(issue.at_key for issue in check_spec(doc))


def test_project_id_is_refused_with_a_hint() -> None:
    (issue,) = check_spec(spec(project_id="abc"))
    assert issue.path == ("project_id",)
    assert "ionworks-apply.yaml" in issue.message


def test_bare_numbers_anywhere_in_free_form_fields() -> None:
    doc = spec(
        properties={"diameter": 15, "nested": {"list": [{"mass": 2}]}, "binder": "PVDF"},
        cathode={"material": {"name": "NMC", "definition": {"particle_size_d50": 10}}},
    )
    found = messages(check_spec(doc))
    assert found[("properties", "diameter")] == (
        "bare number 15 in properties.diameter: numbers need a unit; use {value: 15, unit: mm}"
    )
    assert "unit: g}" in found[("properties", "nested", "list", 0, "mass")]
    assert "unit: um}" in found[("cathode", "material", "definition", "particle_size_d50")]
    assert len(found) == 3


def test_booleans_strings_and_lists_are_fine_in_free_form_fields() -> None:
    doc = spec(properties={"a": True, "c": ["x", {"value": 1, "unit": "mm"}], "d": {}})
    assert check_spec(doc) == []


def test_a_null_inside_a_nested_object_is_a_warning_not_an_error() -> None:
    doc = spec(properties={"b": None, "c": [None]}, source={"doi": None})
    found = check_spec(doc)
    assert [(issue.path, issue.severity) for issue in found] == [
        (("properties", "b"), "warning"),
        (("source", "doi"), "warning"),
    ]
    assert "leave b out instead" in found[0].message


def test_ratings_units_must_have_the_right_dimension() -> None:
    doc = spec()
    doc["ratings"]["capacity"] = {"value": 5, "unit": "W*h"}
    doc["ratings"]["max_charge_rate"] = {"value": 1, "unit": "A"}
    doc["ratings"]["energy_density_volumetric"] = {"value": 700, "unit": "W.h.L-1"}
    found = messages(check_spec(doc))
    assert found[("ratings", "capacity", "unit")] == (
        "unit 'W*h' is an energy, not a charge: ratings.capacity is written e.g. in A*h, mA*h, A.h"
    )
    assert found[("ratings", "max_charge_rate", "unit")].startswith(
        "unit 'A' is a current, not a rate (1/time, e.g. C)"
    )
    assert len(found) == 2


def test_voltage_window_is_compared_physically() -> None:
    doc = spec()
    doc["ratings"]["voltage_min"] = {"value": 2500, "unit": "mV"}
    assert check_spec(doc) == []
    doc["ratings"]["voltage_min"] = {"value": 4300, "unit": "mV"}
    found = messages(check_spec(doc))
    assert found == {
        (
            "ratings",
            "voltage_min",
            "value",
        ): "voltage_min (4300 mV) must be below voltage_max (4.2 V)"
    }


@pytest.mark.parametrize("value", [0, -1, -0.5])
def test_capacity_must_be_positive(value: float) -> None:
    doc = spec()
    doc["ratings"]["capacity"]["value"] = value
    assert list(messages(check_spec(doc))) == [("ratings", "capacity", "value")]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_numbers_are_rejected_once(value: float) -> None:
    doc = spec(properties={"mass": {"value": value, "unit": "g"}})
    doc["ratings"]["capacity"]["value"] = value
    found = messages(check_spec(doc))
    assert set(found) == {("ratings", "capacity", "value"), ("properties", "mass", "value")}
    assert all("not a finite number" in message for message in found.values())


def test_huge_values_are_rejected_in_si_units() -> None:
    doc = spec(properties={"span": {"value": 1e14, "unit": "um"}})  # 1e8 m: fine
    doc["ratings"]["capacity"] = {"value": 1e9, "unit": "A*h"}  # 3.6e12 C: too big
    found = messages(check_spec(doc))
    assert list(found) == [("ratings", "capacity", "value")]
    assert "implausibly large" in found[("ratings", "capacity", "value")]


def test_missing_required_keys_point_at_their_parent() -> None:
    doc = spec()
    del doc["ratings"]["voltage_max"]
    del doc["name"]
    issues = check_spec(doc)
    assert {(i.path, i.at_key, i.message) for i in issues} == {
        ((), True, "missing required key 'name'"),
        (("ratings",), True, "missing required key 'voltage_max' in ratings"),
    }


def test_numbers_in_text_fields_get_a_quoting_hint() -> None:
    found = messages(check_spec(spec(form_factor=21700)))
    assert (
        found[("form_factor",)]
        == 'form_factor must be text, got the number 21700; quote it: "21700"'
    )


def test_name_must_be_non_empty_and_unpadded() -> None:
    assert messages(check_spec(spec(name="  "))) == {("name",): "name must not be empty"}
    assert "leading or trailing" in messages(check_spec(spec(name=" X")))[("name",)]


def test_lifecycle_checks() -> None:
    doc = spec(
        lifecycle={
            "previous_names": ["Cell", "Old", "Old"],
            "ignore_fields": ["properties.last_calibrated", "name", "nope.x"],
        }
    )
    found = messages(check_spec(doc))
    assert found == {
        ("lifecycle", "previous_names", 0): "'Cell' is this spec's current name",
        ("lifecycle", "previous_names", 2): "'Old' is listed twice",
        ("lifecycle", "ignore_fields", 1): "name cannot be ignored: it identifies the spec",
        (
            "lifecycle",
            "ignore_fields",
            2,
        ): "'nope.x' does not start with a spec field (did you mean 'notes'?)",
    }


def test_the_model_accepts_what_check_spec_accepts() -> None:
    model = CellSpecManifest.model_validate(spec(notes=None, anode={"material": {"name": "G"}}))
    assert model.ratings is not None
    assert model.ratings.capacity.value == 5.0
    assert model.anode is not None and model.anode.material is not None
