"""Shared materials end to end against the sandbox, under each way the API may treat them.

A material (project + name + manufacturer) is shared by every spec that uses it. These tests
hold ionworks-apply to: one definition in the manifests (disagreements are validation errors),
one material change in the plan with its reach, a guard when it reaches specs this directory
does not manage, convergence in one apply where the API allows it, and one plain failure (no
loop, nothing else touched) where it does not.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import Api, CliResult, env_for, spec_doc, write_manifests

from reconciler.sandbox.server import SandboxServer

Cli = Callable[..., CliResult]
NCM = {"name": "NCM622", "manufacturer": "BASF"}
OLD = {"type": "layered oxide", "d50": {"value": 10, "unit": "um"}}
NEW = {"type": "layered oxide", "d50": {"value": 12, "unit": "um"}}


def with_cathode(name: str, material: dict[str, Any], **fields: Any) -> dict[str, Any]:
    component = {"properties": {"loading": {"value": 20, "unit": "mg/cm**2"}}, "material": material}
    return spec_doc(name, cathode=component, **fields)


def catalog(definition: dict[str, Any]) -> str:
    return json.dumps({"kind": "material", **NCM, "definition": definition}) + "\n"


def write_with_catalog(directory: Path, definition: dict[str, Any], *specs: dict[str, Any]) -> Path:
    write_manifests(directory, *specs)
    (directory / "materials").mkdir(exist_ok=True)
    (directory / "materials" / "ncm622.yaml").write_text(catalog(definition))
    return directory


def live_definition(api: Api, spec_name: str) -> Any:
    return api.spec(spec_name)["cathode"]["material"]["definition"]


def api_writes(api: Api) -> list[dict[str, Any]]:
    return [w for w in api.writes() if not w["path"].startswith("/_sandbox")]


def test_two_manifests_disagreeing_on_a_material_is_a_validation_error(
    run_cli: Cli, tmp_path: Path
) -> None:
    manifests = write_manifests(
        tmp_path / "m",
        with_cathode("A", {**NCM, "definition": OLD}),
        with_cathode("B", {**NCM, "definition": NEW}),
    )
    result = run_cli("validate", str(manifests))
    assert result.code == 1
    [problem] = [line for line in result.err.splitlines() if "NCM622" in line]
    assert problem.startswith(f"{manifests}/spec-001.yaml:")
    assert f"{manifests}/spec-000.yaml:" in problem


def test_a_catalog_entry_twice_and_an_inline_definition_against_it_are_errors(
    run_cli: Cli, tmp_path: Path
) -> None:
    manifests = write_with_catalog(
        tmp_path / "m", OLD, with_cathode("A", {**NCM, "definition": NEW})
    )
    (manifests / "materials" / "again.yaml").write_text(catalog(OLD))
    result = run_cli("validate", str(manifests))
    assert result.code == 1
    assert "is already in the catalog at" in result.err
    assert "differs from the catalog's" in result.err


def test_a_catalog_with_references_applies_and_plans_empty(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    manifests = write_with_catalog(
        tmp_path / "m", OLD, with_cathode("A", NCM), with_cathode("B", NCM)
    )
    assert run_cli("validate", str(manifests)).code == 0
    applied = run_cli("apply", str(manifests), "--yes", env=sandbox_env)
    assert applied.code == 0, applied.output
    assert live_definition(api, "A") == live_definition(api, "B") == OLD
    assert run_cli("plan", str(manifests), "--detailed-exitcode", env=sandbox_env).code == 0


def test_a_material_change_is_one_change_written_once(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    manifests = write_with_catalog(
        tmp_path / "m", OLD, with_cathode("A", NCM), with_cathode("B", NCM)
    )
    assert run_cli("apply", str(manifests), "--yes", env=sandbox_env).code == 0
    write_with_catalog(manifests, NEW, with_cathode("A", NCM), with_cathode("B", NCM))
    planned = run_cli("plan", str(manifests), "--format", "json", env=sandbox_env)
    [plan] = json.loads(planned.out)["plans"]
    assert plan["changes"] == [], "the specs themselves did not change"
    [material] = plan["materials"]
    assert material["key"] == ["NCM622", "BASF"]
    assert [d["path"] for d in material["details"]] == ["definition.d50"]
    assert {r["name"] for r in material["reach"]} == {"A", "B"}
    api.clear_journal()
    applied = run_cli("apply", str(manifests), "--yes", env=sandbox_env)
    assert applied.code == 0, applied.output
    assert len([w for w in api_writes(api) if w["method"] == "PATCH"]) == 1
    assert live_definition(api, "A") == live_definition(api, "B") == NEW
    assert run_cli("plan", str(manifests), "--detailed-exitcode", env=sandbox_env).code == 0


def test_a_change_reaching_an_unmanaged_spec_is_blocked_until_allowed(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    api.create(with_cathode("Theirs", {**NCM, "definition": OLD}))
    manifests = write_with_catalog(tmp_path / "m", OLD, with_cathode("Mine", NCM))
    assert run_cli("apply", str(manifests), "--yes", env=sandbox_env).code == 0
    write_with_catalog(manifests, NEW, with_cathode("Mine", NCM))
    shown = run_cli("plan", str(manifests), "--detailed-exitcode", env=sandbox_env)
    assert shown.code == 3, shown.output
    assert "[BLOCKED]" in shown.out and '"Theirs"' in shown.out
    api.clear_journal()
    refused = run_cli("apply", str(manifests), "--yes", env=sandbox_env)
    assert refused.code == 3, refused.output
    assert "--allow-shared-material" in refused.err
    assert api_writes(api) == []
    assert live_definition(api, "Theirs") == OLD
    allowed = run_cli("apply", str(manifests), "--allow-shared-material", "--yes", env=sandbox_env)
    assert allowed.code == 0, allowed.output
    assert live_definition(api, "Theirs") == live_definition(api, "Mine") == NEW
    assert run_cli("plan", str(manifests), "--detailed-exitcode", env=sandbox_env).code == 0


def test_a_reference_without_a_definition_never_wipes_the_live_one(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    api.create(with_cathode("Theirs", {**NCM, "definition": OLD}))
    manifests = write_manifests(tmp_path / "m", with_cathode("Mine", NCM))
    shown = run_cli("plan", str(manifests), env=sandbox_env)
    assert "Ionworks keeps their definitions" in shown.out
    applied = run_cli("apply", str(manifests), "--yes", env=sandbox_env)
    assert applied.code == 0, applied.output
    assert live_definition(api, "Theirs") == live_definition(api, "Mine") == OLD
    assert run_cli("plan", str(manifests), "--detailed-exitcode", env=sandbox_env).code == 0


@pytest.fixture
def mode_sandbox(
    sandbox_factory: Callable[..., SandboxServer], request: pytest.FixtureRequest
) -> SandboxServer:
    return sandbox_factory(material_upsert=request.param)


@pytest.mark.parametrize("mode_sandbox", ["update", "per-spec"], indirect=True)
def test_a_material_change_converges_in_one_apply(
    run_cli: Cli, mode_sandbox: SandboxServer, tmp_path: Path
) -> None:
    env, api = env_for(mode_sandbox), Api(mode_sandbox)
    try:
        specs = [with_cathode(name, NCM) for name in ("A", "B", "C")]
        manifests = write_with_catalog(tmp_path / "m", OLD, *specs)
        assert run_cli("apply", str(manifests), "--yes", env=env).code == 0
        write_with_catalog(manifests, NEW, *specs)
        applied = run_cli("apply", str(manifests), "--yes", env=env)
        assert applied.code == 0, applied.output
        assert {json.dumps(live_definition(api, n)) for n in ("A", "B", "C")} == {json.dumps(NEW)}
        assert run_cli("plan", str(manifests), "--detailed-exitcode", env=env).code == 0
    finally:
        api.close()


@pytest.mark.parametrize("mode_sandbox", ["keep-first"], indirect=True)
def test_an_api_that_keeps_materials_is_reported_once_and_nothing_loops(
    run_cli: Cli, mode_sandbox: SandboxServer, tmp_path: Path
) -> None:
    env, api = env_for(mode_sandbox), Api(mode_sandbox)
    try:
        specs = [with_cathode(name, NCM) for name in ("A", "B")]
        manifests = write_with_catalog(tmp_path / "m", OLD, *specs)
        assert run_cli("apply", str(manifests), "--yes", env=env).code == 0
        write_with_catalog(manifests, NEW, *specs)
        api.clear_journal()
        applied = run_cli("apply", str(manifests), "--yes", env=env)
        assert applied.code == 1, applied.output
        assert applied.output.count("Ionworks kept the existing definition") == 1
        assert "it converges" not in applied.output
        assert len([w for w in api_writes(api) if w["method"] == "PATCH"]) == 1
        assert live_definition(api, "A") == live_definition(api, "B") == OLD
        replanned = run_cli("plan", str(manifests), "--format", "json", env=env)
        [plan] = json.loads(replanned.out)["plans"]
        assert plan["changes"] == [] and len(plan["materials"]) == 1
        drift = run_cli("drift", str(manifests), env=env)
        assert drift.code == 2 and drift.out.count("material") >= 1
    finally:
        api.close()


def test_a_saved_plan_with_a_material_change_applies_only_as_reviewed(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    specs = [with_cathode("A", NCM), with_cathode("B", NCM)]
    manifests = write_with_catalog(tmp_path / "m", OLD, *specs)
    assert run_cli("apply", str(manifests), "--yes", env=sandbox_env).code == 0
    write_with_catalog(manifests, NEW, *specs)
    plan_file = tmp_path / "plan.json"
    saved = run_cli("plan", str(manifests), "--out", str(plan_file), env=sandbox_env)
    assert saved.code == 0, saved.output
    a, loading = api.spec("A"), {"loading": {"value": 20, "unit": "mg/cm**2"}}

    def cathode(definition: dict[str, Any]) -> dict[str, Any]:
        return {"cathode": {"properties": loading, "material": {**NCM, "definition": definition}}}

    api.patch(a["id"], cathode({"type": "changed in the web app"}))
    api.clear_journal()
    stale = run_cli("apply", str(plan_file), env=sandbox_env)
    assert stale.code == 3, stale.output
    assert 'material "NCM622" (BASF) changed in Ionworks since the plan' in stale.err
    assert api_writes(api) == []
    api.patch(a["id"], cathode(OLD))
    applied = run_cli("apply", str(plan_file), env=sandbox_env)
    assert applied.code == 0, applied.output
    assert live_definition(api, "B") == NEW
    again = run_cli("apply", str(plan_file), env=sandbox_env)
    assert again.code == 0 and "already applied" in again.output
