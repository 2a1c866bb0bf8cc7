"""Live specs outside our schema (issue 15, item 6), and what the API refuses anyway (3, 4).

Colleagues write specs through the web app or the API directly: empty or missing ratings,
``source: {}``, negative or inverted ratings, units nobody knows, unknown ``source`` keys, bare
numbers, values of the wrong type. ``POST /_sandbox/raw_specs`` stores such bodies as sent.
Plan and drift must read every one of them, unmanaged, adopted or declared by a manifest,
without one odd spec blocking the directory; apply converges where the API takes the write,
and where it refuses one, that change fails alone, clearly, saying a re-run will not help.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import Api, CliResult, env_for, spec_doc, write_manifests
from matrix_support import api_requests

from reconciler.sandbox.server import SandboxServer

Cli = Callable[..., CliResult]
OURS = "ionworks-apply/default"


def q(value: Any, unit: Any) -> dict[str, Any]:
    return {"value": value, "unit": unit}


CORE = {"voltage_min": q(2.5, "V"), "voltage_max": q(4.2, "V")}
#: Bodies as other clients may have stored them, each odd in its own way.
ODD: dict[str, dict[str, Any]] = {
    "Empty ratings": {"ratings": {}, "source": {}},
    "Nothing nested": {"ratings": None, "properties": None, "source": None},
    "Negative": {"ratings": {"capacity": q(-5, "A*h"), **CORE}},
    "Inverted": {"ratings": {**CORE, "capacity": q(5, "A*h"), "voltage_min": q(4.2, "V")}},
    "Unknown units": {"ratings": {"capacity": q(5, "furlongs"), "energy": q(1, "")}},
    "Wrong types": {"ratings": {"capacity": q("5", 5), "voltage_min": q([1], ["V"])}},
    "Odd source": {"source": {"doi": "10.1/x", "lab": "B7", "nested": {"a": 1}}},
    "Bare numbers": {"properties": {"mass": 69, "deep": {"list": [1, None]}}},
    "Not objects": {"ratings": [1, 2], "properties": "text", "source": 5},
    "Huge": {"ratings": {"capacity": q(1e308, "A*h"), "voltage_max": q(-1e308, "kV")}},
    "Odd anode": {
        "anode": {
            "properties": {"thickness": 80, "binder": None},
            "material": {"name": "G", "definition": {"d50": 15, "x": None}},
        }
    },
}


def raw(api: Api, name: str, fields: dict[str, Any], marker: str | None) -> None:
    body = {"name": name, **json.loads(json.dumps(fields))}
    if marker:
        properties = body.get("properties")
        kept = properties if isinstance(properties, dict) else {}
        body["properties"] = {**kept, "managed_by": marker}
    api.http.post("/_sandbox/raw_specs", json=body).raise_for_status()


@pytest.fixture
def odd_project(sandbox: SandboxServer, api: Api) -> SandboxServer:
    """Each odd body four times: unmanaged, to adopt, ours and declared, ours and orphaned."""
    for name, fields in ODD.items():
        raw(api, f"{name} (unmanaged)", fields, None)
        raw(api, f"{name} (to adopt)", fields, None)
        raw(api, f"{name} (ours)", fields, OURS)
        raw(api, f"{name} (orphan)", fields, OURS)
    return sandbox


def declared(name: str) -> dict[str, Any]:
    """A manifest for an odd spec: it declares properties, so adopting replaces them."""
    return spec_doc(name, properties={"assembly_method": "wound"})


def test_plan_and_drift_read_every_odd_live_spec(
    odd_project: SandboxServer, run_cli: Cli, tmp_path: Path, api: Api
) -> None:
    names = [f"{n} ({role})" for n in ODD for role in ("to adopt", "ours")]
    docs = [declared(name) for name in names]
    manifests = write_manifests(tmp_path / "m", *docs, spec_doc("A new one"))
    env = env_for(odd_project)

    for fmt in ("text", "markdown", "json"):
        for command in ("plan", "drift"):
            result = run_cli(command, str(manifests), "--format", fmt, env=env)
            assert result.code == (0 if command == "plan" else 2), result.output
            assert "Traceback" not in result.output and "Error" not in result.err
    [plan] = json.loads(run_cli("plan", str(manifests), "--format", "json", env=env).out)["plans"]
    kinds: dict[str, list[str]] = {}
    for change in plan["changes"]:
        kinds.setdefault(change["kind"], []).append(change["name"])
    assert kinds == {
        "create": ["A new one"],
        "adopt": sorted(f"{n} (to adopt)" for n in ODD),
        "update": sorted(f"{n} (ours)" for n in ODD),
        "orphan": sorted(f"{n} (orphan)" for n in ODD),
    }
    assert plan["unmanaged"] == sorted(f"{n} (unmanaged)" for n in ODD)
    pruned = run_cli("plan", str(manifests), "--prune", "--format", "json", env=env)
    [plan] = json.loads(pruned.out)["plans"]
    deletes = sorted(c["name"] for c in plan["changes"] if c["kind"] == "delete")
    assert deletes == sorted(f"{n} (orphan)" for n in ODD)
    assert api.writes() == [], "plan and drift never write"


def test_apply_takes_over_odd_specs_and_fails_alone_where_the_api_refuses(
    odd_project: SandboxServer, run_cli: Cli, tmp_path: Path, api: Api
) -> None:
    """Declared specs are set right; adopting one whose live properties the API itself now
    refuses (bare numbers), with a manifest that leaves properties to Ionworks, fails alone."""
    docs = [declared(f"{n} (ours)") for n in ODD]
    docs += [spec_doc(f"{n} (to adopt)") for n in ODD]  # properties left as they are
    manifests = write_manifests(tmp_path / "m", *docs)
    env = env_for(odd_project)
    report = tmp_path / "report.json"
    result = run_cli("apply", str(manifests), "--yes", "--report", str(report), env=env)

    assert result.code == 1, result.output
    [outcome] = json.loads(report.read_text())["results"]
    failed = [c for c in outcome["changes"] if c["status"] == "failed"]
    assert [c["name"] for c in failed] == ["Bare numbers (to adopt)"]
    assert "rejected the request (422): properties.mass: Numeric values" in failed[0]["message"]
    assert "; properties.deep.list.0: Numeric values" in failed[0]["message"]
    assert "Some need you to act first" in result.err, "a re-run sends the same body"
    plan = run_cli("plan", str(manifests), "--format", "json", env=env)
    changes = json.loads(plan.out)["plans"][0]["changes"]
    [left] = [change for change in changes if change["kind"] != "orphan"]
    assert (left["kind"], left["name"]) == ("adopt", "Bare numbers (to adopt)")


def test_a_merging_api_that_validates_the_merged_ratings_refuses_clearly(
    sandbox_factory: Callable[..., SandboxServer], run_cli: Cli, tmp_path: Path
) -> None:
    """A live rating the API does not know survives a merging PATCH, so the merged ratings
    are refused: the change fails with the API's reason naming the key, once."""
    server = sandbox_factory(patch_mode="merge")
    api = Api(server)
    try:
        ratings = {"capacity": q(5, "A*h"), **CORE, "capacity_ah": q(5, "A*h")}
        raw(api, "Cell", {"ratings": ratings}, OURS)
        manifests = write_manifests(tmp_path / "m", spec_doc("Cell", capacity=4.0))
        api.clear_journal()
        result = run_cli("apply", str(manifests), "--yes", env=env_for(server))
        assert result.code == 1, result.output
        assert "failed   update  Cell: updating cell specification" in result.out
        assert "(422): ratings.capacity_ah: Unknown rating" in result.out
        patches = [r for r in api_requests(api) if r["method"] == "PATCH"]
        assert [r["status"] for r in patches] == [422]
    finally:
        api.close()


def test_a_name_the_database_refuses_is_a_warning_first_and_one_clear_failure(
    sandbox_factory: Callable[..., SandboxServer], run_cli: Cli, tmp_path: Path
) -> None:
    server = sandbox_factory(strict_text=True)
    long_name = "Cell " + "x" * 251
    manifests = write_manifests(tmp_path / "m", spec_doc(long_name), spec_doc("Short"))
    validated = run_cli("validate", str(manifests))
    assert validated.code == 0
    assert "warning: name is 256 characters long" in validated.output
    env = env_for(server)
    result = run_cli("apply", str(manifests), "--yes", env=env)
    assert result.code == 1, result.output
    assert result.out.count("failed   create") == 1
    assert "rejected the request (422): name:" in result.out
    assert "Some need you to act first" in result.err
    assert "applied  create  Short" in result.out
