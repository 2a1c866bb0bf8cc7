"""Whose project, whose specs: plans name the project, an unknown project stops before planning,
and specs carrying another owner's marker are listed as theirs, not as unmanaged."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fake_ionworks import FakeIonworks, serve
from helpers import Api, CliResult, spec_doc, write_manifests

from reconciler.sandbox.server import SandboxServer

Cli = Callable[..., CliResult]


def test_plan_headers_name_the_project_in_every_format(
    run_cli: Cli, sandbox: SandboxServer, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    manifests = write_manifests(tmp_path / "m", spec_doc("Cell"))
    project = sandbox.project_id

    text = run_cli("plan", str(manifests), env=sandbox_env)
    markdown = run_cli("plan", str(manifests), "--format", "markdown", env=sandbox_env)
    document = run_cli("plan", str(manifests), "--format", "json", env=sandbox_env)
    drift = run_cli("drift", str(manifests), "--format", "json", env=sandbox_env)

    assert f'Project "Sandbox project" ({project}, owner default)' in text.out
    assert f"### Project `Sandbox project` (`{project}`)" in markdown.out
    [plan] = json.loads(document.out)["plans"]
    assert (plan["project_id"], plan["project_name"]) == (project, "Sandbox project")
    [audit] = json.loads(drift.out)["projects"]
    assert audit["project_name"] == "Sandbox project"


def test_an_unknown_project_is_one_error_before_anything_is_planned(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    manifests = write_manifests(tmp_path / "m", spec_doc("Cell"))
    api.clear_journal()
    for command in (["plan", str(manifests)], ["apply", str(manifests), "--yes"], ["export"]):
        result = run_cli("--project", "no-such-project", *command, env=sandbox_env)
        assert result.code == 1, result.output
        [error] = result.err.splitlines()
        assert error.startswith("Error: project no-such-project is unknown to the Ionworks API")
    paths = {request["path"] for request in api.journal()}
    assert paths == {"/projects/no-such-project"}, "nothing is listed, let alone written"


@pytest.mark.parametrize(
    "answer",
    [
        {"id": "p-1"},
        {"id": "p-1", "name": 7},
        {"id": "p-1", "name": ["x"]},
        {"id": "p-1", "name": ""},
    ],
    ids=["no-name", "int-name", "list-name", "empty-name"],
)
def test_a_project_answer_without_a_usable_name_still_plans(
    run_cli: Cli, tmp_path: Path, answer: dict[str, Any]
) -> None:
    manifests = write_manifests(tmp_path / "m", spec_doc("Cell"))
    fake = FakeIonworks([], project_answer=(200, answer))
    with serve(fake):
        text = run_cli("plan", str(manifests), env=fake.env())
        document = run_cli("plan", str(manifests), "--format", "json", env=fake.env())
    assert text.code == 0, text.output
    assert "Project p-1 (owner default)" in text.out
    assert json.loads(document.out)["plans"][0]["project_name"] is None


def test_a_huge_project_name_is_cut(run_cli: Cli, tmp_path: Path) -> None:
    manifests = write_manifests(tmp_path / "m", spec_doc("Cell"))
    fake = FakeIonworks([], project_answer=(200, {"id": "p-1", "name": "n" * 100_000}))
    with serve(fake):
        document = run_cli("plan", str(manifests), "--format", "json", env=fake.env())
    assert document.code == 0, document.output
    assert json.loads(document.out)["plans"][0]["project_name"] == "n" * 200


def test_specs_of_another_owner_are_listed_as_theirs(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    api.create({**spec_doc("Pack cell"), "properties": {"managed_by": "ionworks-apply/pack"}})
    api.create(spec_doc("Lab cell"))
    manifests = write_manifests(tmp_path / "m", spec_doc("Ours"))
    assert run_cli("apply", str(manifests), "--yes", env=sandbox_env).code == 0

    text = run_cli("plan", str(manifests), env=sandbox_env)
    document = json.loads(run_cli("plan", str(manifests), "--format", "json", env=sandbox_env).out)
    drift = run_cli("drift", str(manifests), env=sandbox_env)
    drift_md = run_cli("drift", str(manifests), "--format", "markdown", env=sandbox_env)

    assert "1 managed by other owners (left alone), 1 unmanaged (not ours, left alone)." in text.out
    [plan] = document["plans"]
    assert plan["other_owners"] == {"Pack cell": "ionworks-apply/pack"}
    assert plan["unmanaged"] == ["Lab cell"]
    assert drift.code == 0, "another owner's spec is not drift"
    assert "    Pack cell  (managed by ionworks-apply/pack)" in drift.out
    unmanaged = drift.out.split("unmanaged (no ownership marker")[1]
    assert "Lab cell" in unmanaged and "Pack cell" not in unmanaged
    assert "1 spec managed by other owners" in drift_md.out
