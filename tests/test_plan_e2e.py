"""`ionworks-apply plan` end to end: manifests on disk, the sandbox over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import Api, env_for, spec_doc, write_manifests

from reconciler.sandbox.server import SandboxServer

Cli = Callable[..., Any]


def plan_json(run_cli: Cli, env: dict[str, str], directory: Path, *extra: str) -> dict[str, Any]:
    result = run_cli("plan", str(directory), "--format", "json", *extra, env=env)
    assert result.code == 0, result.output
    document: dict[str, Any] = json.loads(result.out)
    assert document["format_version"] == 2
    [plan] = document["plans"]
    return plan


def kinds(plan: dict[str, Any]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for change in plan["changes"]:
        found.setdefault(change["kind"], []).append(change["name"])
    return found


def apply_ok(run_cli: Cli, env: dict[str, str], *args: str) -> None:
    result = run_cli("apply", *args, "--yes", env=env)
    assert result.code == 0, result.output


def test_plan_creates_then_apply_converges(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    manifests = write_manifests(tmp_path / "m", spec_doc("Cell A"), spec_doc("Cell B"))
    plan = plan_json(run_cli, sandbox_env, manifests)
    assert kinds(plan) == {"create": ["Cell A", "Cell B"]}
    assert api.writes() == [], "plan must never write"

    text = run_cli("plan", str(manifests), env=sandbox_env)
    assert "Plan: 2 to create, 0 to update, 0 to delete." in text.out

    apply_ok(run_cli, sandbox_env, str(manifests))
    live = api.spec("Cell A")
    assert live["properties"]["managed_by"] == "ionworks-apply/default"
    assert plan_json(run_cli, sandbox_env, manifests)["changes"] == []
    exit_code = run_cli("plan", str(manifests), "--detailed-exitcode", env=sandbox_env).code
    assert exit_code == 0


def test_detailed_exitcode_two_when_changes(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    manifests = write_manifests(tmp_path / "m", spec_doc("Cell A"))
    result = run_cli("plan", str(manifests), "--detailed-exitcode", env=sandbox_env)
    assert result.code == 2


def test_nested_update_shows_field_level_change_with_units(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    manifests = write_manifests(tmp_path / "m", spec_doc("Cell A", capacity=5.0))
    apply_ok(run_cli, sandbox_env, str(manifests))
    write_manifests(manifests, spec_doc("Cell A", capacity=5.1))
    plan = plan_json(run_cli, sandbox_env, manifests)
    [change] = plan["changes"]
    assert change["kind"] == "update"
    assert change["fields"] == ["ratings"]
    assert change["details"] == [
        {
            "path": "ratings.capacity",
            "before": {"value": 5.0, "unit": "A*h"},
            "after": {"value": 5.1, "unit": "A*h"},
            "reason": None,  # judged only with --base
        }
    ]
    text = run_cli("plan", str(manifests), env=sandbox_env).out
    assert "ratings.capacity" in text and "5 A*h" in text and "5.1 A*h" in text


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"value": 5.0, "unit": "A.h"}, {"value": 5.0, "unit": "A*h"}),
        ({"value": 2.0, "unit": "mA*h"}, {"value": 0.002, "unit": "A*h"}),
        ({"value": 2.0, "unit": "mA.h"}, {"value": 0.002, "unit": "A.h"}),
    ],
)
def test_unit_equivalent_values_are_no_change(
    run_cli: Cli,
    sandbox_env: dict[str, str],
    tmp_path: Path,
    first: dict[str, Any],
    second: dict[str, Any],
) -> None:
    manifests = write_manifests(tmp_path / "m", spec_doc("Cell A", first["value"], first["unit"]))
    apply_ok(run_cli, sandbox_env, str(manifests))
    write_manifests(manifests, spec_doc("Cell A", second["value"], second["unit"]))
    assert plan_json(run_cli, sandbox_env, manifests)["changes"] == []


def test_live_only_nested_key_in_owned_field_is_a_change(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    manifests = write_manifests(tmp_path / "m", spec_doc("Cell A"))
    apply_ok(run_cli, sandbox_env, str(manifests))
    live = api.spec("Cell A")
    ratings = {**live["ratings"], "energy": {"value": 18.0, "unit": "W*h"}}
    api.patch(live["id"], {"ratings": ratings})
    [change] = plan_json(run_cli, sandbox_env, manifests)["changes"]
    assert change["kind"] == "update"
    assert change["details"] == [
        {
            "path": "ratings.energy",
            "before": {"value": 18.0, "unit": "W*h"},
            "after": None,
            "reason": None,
        }
    ]


def test_undeclared_top_level_field_is_left_alone(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    manifests = write_manifests(tmp_path / "m", spec_doc("Cell A"))
    apply_ok(run_cli, sandbox_env, str(manifests))
    api.patch(api.spec("Cell A")["id"], {"notes": "written in the web app"})
    assert plan_json(run_cli, sandbox_env, manifests)["changes"] == []


def test_explicit_null_clears_a_field(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    manifests = write_manifests(tmp_path / "m", spec_doc("Cell A", notes="old note"))
    apply_ok(run_cli, sandbox_env, str(manifests))
    write_manifests(manifests, spec_doc("Cell A", notes=None))
    [change] = plan_json(run_cli, sandbox_env, manifests)["changes"]
    assert change["details"] == [
        {"path": "notes", "before": "old note", "after": None, "reason": None}
    ]
    apply_ok(run_cli, sandbox_env, str(manifests))
    assert api.spec("Cell A").get("notes") in (None, "")


def test_adopt_keeps_live_properties(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    api.create({**spec_doc("Cell A"), "properties": {"assembly_method": "wound"}})
    manifests = write_manifests(tmp_path / "m", spec_doc("Cell A"))
    plan = plan_json(run_cli, sandbox_env, manifests)
    assert kinds(plan) == {"adopt": ["Cell A"]}
    apply_ok(run_cli, sandbox_env, str(manifests))
    properties = api.spec("Cell A")["properties"]
    assert properties == {"assembly_method": "wound", "managed_by": "ionworks-apply/default"}
    assert plan_json(run_cli, sandbox_env, manifests)["changes"] == []


def test_rename_keeps_id_and_instances(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    manifests = write_manifests(tmp_path / "m", spec_doc("Old Name"))
    apply_ok(run_cli, sandbox_env, str(manifests))
    old = api.spec("Old Name")
    api.seed(old["id"], instances=2, measurements=1)
    renamed = spec_doc("New Name", lifecycle={"previous_names": ["Old Name"]})
    write_manifests(manifests, renamed)
    [change] = plan_json(run_cli, sandbox_env, manifests)["changes"]
    assert (change["kind"], change["previous_name"], change["body"]) == (
        "rename",
        "Old Name",
        {"name": "New Name"},
    )
    apply_ok(run_cli, sandbox_env, str(manifests))
    new = api.spec("New Name")
    assert new["id"] == old["id"]
    assert len(new["instance_ids"]) == 2


def test_rename_with_both_names_live_is_an_error(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    manifests = write_manifests(tmp_path / "m", spec_doc("Old"), spec_doc("New"))
    apply_ok(run_cli, sandbox_env, str(manifests))
    write_manifests(manifests, spec_doc("New", lifecycle={"previous_names": ["Old"]}))
    api.clear_journal()
    result = run_cli("plan", str(manifests), env=sandbox_env)
    assert result.code == 1
    assert "both 'New' and its previous name 'Old' exist" in result.err
    assert "spec-000.yaml:" in result.err


def test_orphan_without_and_with_prune_shows_cascade(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    manifests = write_manifests(tmp_path / "m", spec_doc("Keep"), spec_doc("Gone"))
    apply_ok(run_cli, sandbox_env, str(manifests))
    api.seed(api.spec("Gone")["id"], instances=3, measurements=4, batches=2)
    api.create(spec_doc("Someone Else's"))
    write_manifests(manifests, spec_doc("Keep"))
    api.clear_journal()

    plan = plan_json(run_cli, sandbox_env, manifests)
    assert kinds(plan) == {"orphan": ["Gone"]}
    assert plan["unmanaged"] == ["Someone Else's"]
    text = run_cli("plan", str(manifests), env=sandbox_env).out
    assert "prune is off" in text

    plan = plan_json(run_cli, sandbox_env, manifests, "--prune")
    [delete] = plan["changes"]
    assert delete["kind"] == "delete"
    assert delete["cascade"] == {"instances": 3, "batches": 2, "measurements": 12}
    assert [b["guard"] for b in delete["blocked_by"]] == ["cascade"]
    text = run_cli("plan", str(manifests), "--prune", env=sandbox_env).out
    assert "Plan: 0 to create, 0 to update, 1 to delete" in text
    assert api.writes() == [], "plan must never write"


def test_protected_and_threshold_marks(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    docs = [spec_doc(f"Cell {i:02d}") for i in range(12)]
    manifests = write_manifests(tmp_path / "m", *docs)
    apply_ok(run_cli, sandbox_env, str(manifests))
    config = "protect: ['Cell 0*']\nmax_deletes: 2\nmax_delete_percent: 20\n"
    write_manifests(manifests, *docs[3:], config=config)
    plan = plan_json(run_cli, sandbox_env, manifests, "--prune")
    guards = {c["name"]: sorted(b["guard"] for b in c["blocked_by"]) for c in plan["changes"]}
    assert guards == {
        "Cell 00": ["max_delete_percent", "max_deletes", "protect"],
        "Cell 01": ["max_delete_percent", "max_deletes", "protect"],
        "Cell 02": ["max_delete_percent", "max_deletes", "protect"],
    }
    markdown = run_cli("plan", str(manifests), "--prune", "--format", "markdown", env=sandbox_env)
    assert "max_deletes" in markdown.out


@pytest.mark.parametrize("patch_mode", ["replace", "merge"])
def test_apply_then_plan_is_empty_in_both_patch_modes(
    run_cli: Cli,
    sandbox_factory: Callable[..., SandboxServer],
    tmp_path: Path,
    patch_mode: str,
) -> None:
    server = sandbox_factory(patch_mode=patch_mode)
    env = env_for(server)
    rich = spec_doc(
        "Cell A",
        properties={"assembly_method": "wound", "tab_count": {"value": 2, "unit": "dimensionless"}},
        anode={
            "properties": {"coating_thickness": {"value": 80, "unit": "um"}, "binder": "CMC"},
            "material": {"name": "Graphite", "manufacturer": "Acme"},
        },
    )
    rich["ratings"]["energy"] = {"value": 18.0, "unit": "W*h"}
    manifests = write_manifests(tmp_path / "m", rich)
    apply_ok(run_cli, env, str(manifests))

    lean = spec_doc(
        "Cell A",
        capacity=4.9,
        properties={"assembly_method": "stacked"},
        anode={
            "properties": {"coating_thickness": {"value": 85, "unit": "um"}},
            "material": {"name": "Graphite", "manufacturer": "Acme"},
        },
    )
    write_manifests(manifests, lean)
    apply_ok(run_cli, env, str(manifests))
    assert plan_json(run_cli, env, manifests)["changes"] == []
    api = Api(server)
    try:
        live = api.spec("Cell A")
    finally:
        api.close()
    assert "energy" not in live["ratings"]
    assert live["properties"] == {
        "assembly_method": "stacked",
        "managed_by": "ionworks-apply/default",
    }
    assert live["anode"]["properties"] == {"coating_thickness": {"value": 85, "unit": "um"}}


def test_markdown_and_json_render_the_same_plan(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    manifests = write_manifests(tmp_path / "m", spec_doc("Cell A"), spec_doc("Cell B"))
    markdown = run_cli("plan", str(manifests), "--format", "markdown", env=sandbox_env).out
    plan = plan_json(run_cli, sandbox_env, manifests)
    assert markdown.startswith("<!-- ionworks-apply-plan -->")
    for change in plan["changes"]:
        assert change["name"] in markdown


def test_saved_plan_holds_no_secret(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    manifests = write_manifests(tmp_path / "m", spec_doc("Cell A"))
    out = tmp_path / "plan.json"
    result = run_cli("plan", str(manifests), "--out", str(out), env=sandbox_env)
    assert result.code == 0, result.output
    saved = json.loads(out.read_text())
    [plan] = saved["plans"]
    assert plan["api_url"] == sandbox_env["IONWORKS_API_URL"]
    assert plan["project_id"] == sandbox_env["IONWORKS_PROJECT_ID"]
    assert plan["owner"] == "default" and plan["desired_digest"]
    assert sandbox_env["IONWORKS_API_KEY"] not in out.read_text()
    assert sandbox_env["IONWORKS_API_KEY"] not in result.output


def test_ignored_fields_are_not_diffed_and_survive_updates(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    doc = spec_doc(
        "Cell A",
        properties={"assembly_method": "wound"},
        lifecycle={"ignore_fields": ["properties.last_calibrated"]},
    )
    manifests = write_manifests(tmp_path / "m", doc)
    apply_ok(run_cli, sandbox_env, str(manifests))
    live = api.spec("Cell A")
    api.patch(live["id"], {"properties": {**live["properties"], "last_calibrated": "2026-11-01"}})
    assert plan_json(run_cli, sandbox_env, manifests)["changes"] == []

    doc["properties"] = {"assembly_method": "stacked"}
    write_manifests(manifests, doc)
    [change] = plan_json(run_cli, sandbox_env, manifests)["changes"]
    assert change["details"] == [
        {
            "path": "properties.assembly_method",
            "before": "wound",
            "after": "stacked",
            "reason": None,
        }
    ]
    apply_ok(run_cli, sandbox_env, str(manifests))
    assert api.spec("Cell A")["properties"] == {
        "assembly_method": "stacked",
        "last_calibrated": "2026-11-01",
        "managed_by": "ionworks-apply/default",
    }


def test_spec_owned_by_another_owner_is_refused(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    api.create({**spec_doc("Cell A"), "properties": {"managed_by": "ionworks-apply/other-team"}})
    manifests = write_manifests(tmp_path / "m", spec_doc("Cell A"))
    api.clear_journal()
    result = run_cli("apply", str(manifests), "--yes", env=sandbox_env)
    assert result.code == 1
    assert "is managed by ionworks-apply/other-team, not ionworks-apply/default" in result.err
    assert api.writes() == []


def test_bad_manifest_stops_before_any_request(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    manifests = tmp_path / "m"
    manifests.mkdir()
    (manifests / "bad.yaml").write_text("name: Cell A\nratngs: {}\n")
    api.clear_journal()
    result = run_cli("apply", str(manifests), "--yes", env=sandbox_env)
    assert result.code == 1
    assert "bad.yaml:2:1:" in result.err and "did you mean 'ratings'" in result.err
    assert api.journal() == [], "a bad manifest must not even read the API"
