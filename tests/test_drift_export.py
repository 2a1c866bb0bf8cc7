"""`drift` and `export` against the sandbox over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import Api, spec_doc, write_manifests

Cli = Callable[..., Any]


def spec_files(directory: Path) -> list[Path]:
    """The spec manifests an export wrote (not its config, schema or material catalog)."""
    return sorted(p for p in directory.glob("*.yaml") if p.name != "ionworks-apply.yaml")


EXAMPLES = Path(__file__).parent.parent / "manifests"


def test_drift_in_sync_then_each_kind_of_drift(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    manifests = write_manifests(tmp_path / "m", spec_doc("A"), spec_doc("B"), spec_doc("C"))
    assert run_cli("apply", str(manifests), "--yes", env=sandbox_env).code == 0
    in_sync = run_cli("drift", str(manifests), env=sandbox_env)
    assert in_sync.code == 0, in_sync.output
    assert "In sync: 3 specs match the manifests." in in_sync.out

    a = api.spec("A")
    api.patch(a["id"], {"ratings": {**a["ratings"], "capacity": {"value": 4.5, "unit": "A*h"}}})
    api.http.delete(f"/cell_specifications/{api.spec('B')['id']}").raise_for_status()
    api.create(spec_doc("Not ours"))
    write_manifests(manifests, spec_doc("A"), spec_doc("B"))
    api.clear_journal()

    drifted = run_cli("drift", str(manifests), env=sandbox_env)
    assert drifted.code == 2, drifted.output
    assert "ratings.capacity: live 4.5 A*h, manifest 5 A*h" in drifted.out
    assert "Drift: 1 changed live, 1 missing live, 1 orphaned." in drifted.out
    assert "Not ours" in drifted.out

    document = json.loads(run_cli("drift", str(manifests), "--format", "json", env=sandbox_env).out)
    [project] = document["projects"]
    assert document["in_sync"] is False
    assert project["counts"] == {
        "update": 1,
        "create": 1,
        "adopt": 0,
        "rename": 0,
        "orphan": 1,
        "release": 0,
        "material": 0,
    }
    assert project["unmanaged"] == ["Not ours"]
    markdown = run_cli("drift", str(manifests), "--format", "markdown", env=sandbox_env).out
    assert markdown.startswith("<!-- ionworks-apply-drift -->")
    assert not [w for w in api.writes() if not w["path"].startswith("/_sandbox")]


def test_drift_ignores_config_prune(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    manifests = write_manifests(tmp_path / "m", spec_doc("A"), spec_doc("B"))
    assert run_cli("apply", str(manifests), "--yes", env=sandbox_env).code == 0
    write_manifests(manifests, spec_doc("A"), config="prune: true\n")
    result = run_cli("drift", str(manifests), "--format", "json", env=sandbox_env)
    assert result.code == 2
    [project] = json.loads(result.out)["projects"]
    assert [(d["kind"], d["name"]) for d in project["drift"]] == [("orphan", "B")]


def test_export_round_trip_plans_no_changes(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    applied = run_cli("apply", str(EXAMPLES), "--yes", env=sandbox_env)
    assert applied.code == 0, applied.output
    api.create(spec_doc("Made in the web app", notes="unmanaged"))
    out = tmp_path / "exported"
    result = run_cli("export", "--out", str(out), "--owner", "examples", env=sandbox_env)
    assert result.code == 0, result.output
    files = sorted(p.name for p in spec_files(out))
    assert len(files) == len([s for s in api.specs() if s["name"] != "Made in the web app"])
    for path in spec_files(out):
        text = path.read_text()
        assert text.startswith("# yaml-language-server: $schema=")
        for server_field in ("managed_by", "created_at", "anode_id", "material_id", "project_id"):
            assert server_field not in text
    assert "owner: examples" in (out / "ionworks-apply.yaml").read_text()
    plan = run_cli("plan", str(out), "--detailed-exitcode", env=sandbox_env)
    assert plan.code == 0, plan.output
    assert "No changes." in plan.out


def test_export_include_unmanaged_plans_only_adoption(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    api.create(spec_doc("Legacy cell", notes="from the web app", properties={"cycles": "many"}))
    out = tmp_path / "exported"
    result = run_cli("export", "--out", str(out), "--include-unmanaged", env=sandbox_env)
    assert result.code == 0, result.output
    assert [p.name for p in spec_files(out)] == ["legacy-cell.yaml"]
    plan = json.loads(run_cli("plan", str(out), "--format", "json", env=sandbox_env).out)
    [change] = plan["plans"][0]["changes"]
    assert (change["kind"], change["details"]) == ("adopt", [])


def test_export_refuses_to_overwrite_without_force(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    api.create(spec_doc("Cell/One"))
    out = tmp_path / "exported"
    out.mkdir()
    (out / "cell-one.yaml").write_text("name: keep me\n")
    refused = run_cli("export", "--out", str(out), "--include-unmanaged", env=sandbox_env)
    assert refused.code == 1
    assert "refusing to overwrite" in refused.err and "--force" in refused.err
    assert (out / "cell-one.yaml").read_text() == "name: keep me\n"
    forced = run_cli("export", "--out", str(out), "--include-unmanaged", "--force", env=sandbox_env)
    assert forced.code == 0
    assert "Cell/One" in (out / "cell-one.yaml").read_text()


@pytest.mark.parametrize("name", ["Ionworks Apply", "IONWORKS-APPLY", "ionworks apply!"])
def test_export_never_writes_over_the_config(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api, name: str
) -> None:
    config = "owner: default\nprune: true\nprotect: ['Keep*']\nmax_deletes: 2\n"
    out = write_manifests(tmp_path / "m", config=config)
    api.create({**spec_doc(name), "properties": {"managed_by": "ionworks-apply/default"}})
    result = run_cli("export", "--out", str(out), "--force", env=sandbox_env)
    assert result.code == 0, result.output
    assert (out / "ionworks-apply.yaml").read_text() == config
    [written] = spec_files(out)
    assert f"name: {name}" in written.read_text()
    assert run_cli("validate", str(out)).code == 0


def test_export_writes_shared_materials_once_and_plans_back_empty(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    assert run_cli("apply", str(EXAMPLES), "--yes", env=sandbox_env).code == 0
    out = tmp_path / "exported"
    result = run_cli("export", "--out", str(out), "--owner", "examples", env=sandbox_env)
    assert result.code == 0, result.output
    catalog = out / "materials" / "lp57-solvionic.yaml"
    assert "kind: material" in catalog.read_text() and "solvent_ratio" in catalog.read_text()
    coin = (out / "ncm622-graphite-coin-cell.yaml").read_text()
    assert "name: LP57" in coin and "solvent_ratio" not in coin, "specs only name the material"
    assert (out / "cellspec.schema.json").exists(), "$schema points at a file that exists"
    assert run_cli("validate", str(out)).code == 0
    assert run_cli("plan", str(out), "--detailed-exitcode", env=sandbox_env).code == 0


def test_export_takes_owner_and_project_from_the_directory_and_hints_when_empty(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    manifests = write_manifests(tmp_path / "m", spec_doc("Lab cell"), config="owner: lab\n")
    assert run_cli("apply", str(manifests), "--yes", env=sandbox_env).code == 0
    out = write_manifests(tmp_path / "out", config="owner: lab\n")
    result = run_cli("export", "--out", str(out), env=sandbox_env)
    assert result.code == 0, result.output
    assert [p.name for p in spec_files(out)] == ["lab-cell.yaml"]
    assert run_cli("plan", str(out), "--detailed-exitcode", env=sandbox_env).code == 0
    elsewhere = run_cli("export", "--out", str(tmp_path / "new"), env=sandbox_env)
    assert elsewhere.code == 0
    assert "No spec carries ionworks-apply/default" in elsewhere.err
    assert "1 with ionworks-apply/lab" in elsewhere.err
    clash = run_cli("export", "--out", str(out), "--owner", "other", env=sandbox_env)
    assert clash.code == 1 and "says owner 'lab'" in clash.err


def test_export_writes_only_valid_manifests_and_names_what_it_cannot_express(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    odd = [
        {"name": "No ratings", "ratings": {}, "source": {}},
        {"name": "Inverted", **{k: v for k, v in spec_doc("x").items() if k != "name"}},
        {"name": "Odd unit", "ratings": {"capacity": {"value": 5, "unit": "furlongs"}}},
        {"name": "Odd source", "source": {"doi": "10.1/x", "isbn": "978"}},
    ]
    odd[1]["ratings"] = {**odd[1]["ratings"], "voltage_min": {"value": 5, "unit": "V"}}
    for body in odd:
        api.http.post("/_sandbox/raw_specs", json=body).raise_for_status()
    out = tmp_path / "exported"
    result = run_cli("export", "--out", str(out), "--include-unmanaged", env=sandbox_env)
    assert result.code == 1, result.output
    assert [p.name for p in spec_files(out)] == ["no-ratings.yaml"]
    assert "{}" not in (out / "no-ratings.yaml").read_text()
    for name in ("Inverted", "Odd unit", "Odd source"):
        assert f"not exported: '{name}'" in result.err
    assert run_cli("validate", str(out)).code == 0
    plan = json.loads(run_cli("plan", str(out), "--format", "json", env=sandbox_env).out)
    assert [c["kind"] for c in plan["plans"][0]["changes"]] == ["adopt"]
