"""Apply under the real-API behaviours we cannot know, one precise check each (the matrix in
``test_api_matrix.py`` runs the whole lifecycle under them): metadata-only write answers cost
one GET and report nothing false; a read-only credential costs one refused write; a nested key
an API will neither drop nor null is named once, and never fought over."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from helpers import Api, CliResult, env_for, spec_doc, write_manifests
from matrix_support import api_requests

from reconciler.sandbox.server import SandboxServer

Cli = Callable[..., CliResult]
Factory = Callable[..., SandboxServer]


@dataclass
class Sandbox:
    """A sandbox with switches, its IONWORKS_* variables, and a plain client on it."""

    server: SandboxServer
    env: dict[str, str]
    api: Api


@pytest.fixture
def start(sandbox_factory: Factory) -> Iterator[Callable[..., Sandbox]]:
    opened: list[Api] = []

    def begin(**settings: Any) -> Sandbox:
        server = sandbox_factory(**settings)
        opened.append(Api(server))
        return Sandbox(server, env_for(server), opened[-1])

    yield begin
    for api in opened:
        api.close()


def q(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit}


def reads_by_id(api: Api) -> int:
    """GETs of one spec by its id in the journal (list reads have a query, these do not)."""
    return sum(
        1
        for r in api_requests(api)
        if r["method"] == "GET" and r["path"].startswith("/cell_specifications/")
    )


def outcomes(report: Path) -> dict[str, dict[str, Any]]:
    [result] = json.loads(report.read_text())["results"]
    return {change["name"]: change for change in result["changes"]}


@pytest.mark.parametrize(("answers", "extra_reads"), [("full", 0), ("metadata", 1)])
def test_write_answers_without_components_cost_one_read_and_report_nothing_false(
    start: Callable[..., Sandbox], run_cli: Cli, tmp_path: Path, answers: str, extra_reads: int
) -> None:
    """One GET per write whose answer lacks a field apply compares (here: the anode)."""
    box = start(write_response=answers)
    anode = {"properties": {"binder": "CMC"}, "material": {"name": "Graphite"}}
    manifests = write_manifests(tmp_path / "m", spec_doc("Plain"), spec_doc("Layered", anode=anode))
    created = run_cli("apply", str(manifests), "--yes", env=box.env)
    assert created.code == 0, created.output
    assert [r["method"] for r in box.api.writes()] == ["POST", "POST"]
    assert reads_by_id(box.api) == extra_reads

    box.api.clear_journal()
    docs = [spec_doc("Plain", notes="n"), spec_doc("Layered", capacity=4.0, anode=anode)]
    write_manifests(manifests, *docs)
    updated = run_cli("apply", str(manifests), "--yes", env=box.env)
    assert updated.code == 0, updated.output
    assert "someone else" not in updated.output
    assert [r["method"] for r in box.api.writes()] == ["PATCH", "PATCH"], "no second PATCH"
    assert reads_by_id(box.api) == 2 + extra_reads  # each update re-reads before writing
    assert run_cli("plan", str(manifests), "--detailed-exitcode", env=box.env).code == 0


def test_a_read_only_credential_is_refused_once_and_nothing_more_is_sent(
    start: Callable[..., Sandbox], run_cli: Cli, tmp_path: Path
) -> None:
    box = start(viewer_key="viewer-1")
    manifests = write_manifests(tmp_path / "m", spec_doc("A"), spec_doc("B"), spec_doc("Gone"))
    assert run_cli("apply", str(manifests), "--yes", env=box.env).code == 0
    docs = [spec_doc("A", notes="x"), spec_doc("B", capacity=4.0)]
    write_manifests(manifests, *docs, *(spec_doc(f"New {i}") for i in range(6)))
    box.api.clear_journal()
    report = tmp_path / "report.json"
    viewer = {**box.env, "IONWORKS_API_KEY": "viewer-1"}
    args = ("apply", str(manifests), "--yes", "--prune", "--report", str(report))
    result = run_cli(*args, env=viewer)

    assert result.code == 1, result.output
    writes = [r for r in api_requests(box.api) if r["method"] != "GET"]
    assert [r["status"] for r in writes] == [403], writes
    done = outcomes(report)
    [failed] = [o for o in done.values() if o["status"] == "failed"]
    assert failed["message"].startswith(
        f'this credential can read project "Sandbox project" ({box.server.project_id}) '
        "but not write it: Ionworks refused a write with 403 FORBIDDEN"
    )
    skipped = [o for o in done.values() if o["status"] == "skipped"]
    assert len(skipped) == 8 and all(o["message"].startswith("not attempted: ") for o in skipped)
    assert "0 applied, 0 already done, 1 failed, 8 skipped." in result.out
    [error] = [line for line in result.err.splitlines() if line.startswith("Error:")]
    assert "Some need you to act first" in error
    assert result.output.count("can read project") == 1, "one clear error, not nine"


def test_nested_keys_a_merging_api_refuses_to_null_are_named_once_per_spec(
    start: Callable[..., Sandbox], run_cli: Cli, tmp_path: Path
) -> None:
    box = start(patch_mode="merge", nested_null="reject")
    docs = [spec_doc(name, properties={"lab": "B7"}) for name in ("X", "Y", "Z")]
    for doc in docs:
        doc["ratings"]["energy"] = q(18, "W*h")
    manifests = write_manifests(tmp_path / "m", *docs)
    assert run_cli("apply", str(manifests), "--yes", env=box.env).code == 0
    del docs[0]["ratings"]["energy"]
    del docs[1]["ratings"]["energy"], docs[1]["properties"]["lab"]
    docs[2]["notes"] = "only this changes"
    write_manifests(manifests, *docs)
    box.api.clear_journal()
    report = tmp_path / "report.json"
    result = run_cli("apply", str(manifests), "--yes", "--report", str(report), env=box.env)

    assert result.code == 1, result.output
    patches = [r["status"] for r in api_requests(box.api) if r["method"] == "PATCH"]
    assert sorted(patches) == [200, 200, 200, 422], "one refused null, then none sent"
    done = outcomes(report)
    assert done["Z"]["status"] == "applied"
    assert done["X"]["message"].startswith("ratings.energy could not be removed from 'X'")
    assert done["Y"]["message"].startswith(
        "properties.lab, ratings.energy could not be removed from 'Y': Ionworks merges"
    )
    assert (
        "Remove them in Ionworks itself, or declare them in the manifest" in (done["Y"]["message"])
    )
    assert "Some need you to act first" in result.err
    plan = run_cli("plan", str(manifests), "--detailed-exitcode", env=box.env)
    assert plan.code == 2 and "ratings.energy: 18 W*h -> (none)" in plan.out


def test_releasing_a_spec_where_the_marker_cannot_be_nulled_says_so(
    start: Callable[..., Sandbox], run_cli: Cli, tmp_path: Path
) -> None:
    box = start(patch_mode="merge", nested_null="reject")
    manifests = write_manifests(tmp_path / "m", spec_doc("Keep"), spec_doc("Retired"))
    assert run_cli("apply", str(manifests), "--yes", env=box.env).code == 0
    write_manifests(manifests, spec_doc("Keep"), config="release: [Retired]\n")
    result = run_cli("apply", str(manifests), "--yes", env=box.env)
    assert result.code == 1, result.output
    assert "properties.managed_by could not be removed from 'Retired'" in result.out
