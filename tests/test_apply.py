"""`ionworks-apply apply`: guards, stale plans, faults and convergence, over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import Api, env_for, on_first_create, spec_doc, write_manifests

from reconciler.sandbox.server import SandboxServer

Cli = Callable[..., Any]


def api_writes(api: Api) -> list[dict[str, Any]]:
    return [w for w in api.writes() if not w["path"].startswith("/_sandbox")]


def setup_two(run_cli: Cli, env: dict[str, str], tmp_path: Path) -> Path:
    manifests = write_manifests(tmp_path / "m", spec_doc("Keep"), spec_doc("Gone"))
    result = run_cli("apply", str(manifests), "--yes", env=env)
    assert result.code == 0, result.output
    return manifests


def test_apply_without_terminal_or_yes_refuses(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    manifests = write_manifests(tmp_path / "m", spec_doc("Cell A"))
    result = run_cli("apply", str(manifests), env=sandbox_env)
    assert result.code == 1
    assert "pass --yes" in result.err
    assert api_writes(api) == []


def test_cascade_guard_refuses_until_allowed(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    manifests = setup_two(run_cli, sandbox_env, tmp_path)
    api.seed(api.spec("Gone")["id"], instances=12, measurements=2, batches=3)
    write_manifests(manifests, spec_doc("Keep"), spec_doc("New"))
    api.clear_journal()

    refused = run_cli("apply", str(manifests), "--prune", "--yes", env=sandbox_env)
    assert refused.code == 3, refused.output
    assert 'DELETE "Gone" blocked: it would also delete 12 cell instances, 3 batches and ' in (
        refused.err
    )
    assert "--allow-cascade" in refused.err
    assert api_writes(api) == [], "a guard must refuse before the first write (even creates)"

    allowed = run_cli(
        "apply", str(manifests), "--prune", "--allow-cascade", "--yes", env=sandbox_env
    )
    assert allowed.code == 0, allowed.output
    assert 'DELETE "Gone": also deletes 12 cell instances, 3 batches and 24 measurements' in (
        allowed.out
    )
    assert sorted(s["name"] for s in api.specs()) == ["Keep", "New"]


def test_config_allow_cascade_allows(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    manifests = setup_two(run_cli, sandbox_env, tmp_path)
    api.seed(api.spec("Gone")["id"], instances=1, measurements=0)
    write_manifests(manifests, spec_doc("Keep"), config="prune: true\nallow_cascade: true\n")
    result = run_cli("apply", str(manifests), "--yes", env=sandbox_env)
    assert result.code == 0, result.output
    assert [s["name"] for s in api.specs()] == ["Keep"]


def test_protect_guard_refuses(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    manifests = setup_two(run_cli, sandbox_env, tmp_path)
    write_manifests(manifests, spec_doc("Keep"), config="protect: ['Go*']\n")
    api.clear_journal()
    result = run_cli(
        "apply", str(manifests), "--prune", "--allow-cascade", "--yes", env=sandbox_env
    )
    assert result.code == 3
    assert "protect glob 'Go*'" in result.err
    assert api_writes(api) == []


def test_max_deletes_guard_refuses_and_config_allows(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    docs = [spec_doc(f"Cell {i}") for i in range(4)]
    manifests = write_manifests(tmp_path / "m", *docs)
    assert run_cli("apply", str(manifests), "--yes", env=sandbox_env).code == 0
    write_manifests(manifests, docs[0], config="max_deletes: 2\n")
    api.clear_journal()
    refused = run_cli("apply", str(manifests), "--prune", "--yes", env=sandbox_env)
    assert refused.code == 3
    assert "3 deletes exceed max_deletes: 2" in refused.err
    assert api_writes(api) == []
    write_manifests(manifests, docs[0], config="max_deletes: 3\n")
    allowed = run_cli("apply", str(manifests), "--prune", "--yes", env=sandbox_env)
    assert allowed.code == 0, allowed.output
    assert [s["name"] for s in api.specs()] == ["Cell 0"]


def test_max_delete_percent_guard(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    docs = [spec_doc(f"Cell {i:02d}") for i in range(10)]
    manifests = write_manifests(tmp_path / "m", *docs)
    assert run_cli("apply", str(manifests), "--yes", env=sandbox_env).code == 0
    write_manifests(manifests, *docs[3:], config="max_delete_percent: 20\n")
    api.clear_journal()
    refused = run_cli("apply", str(manifests), "--prune", "--yes", env=sandbox_env)
    assert refused.code == 3
    assert "3 of 10 managed specs (30%) exceed max_delete_percent: 20" in refused.err
    assert api_writes(api) == []
    write_manifests(manifests, *docs[3:], config="max_delete_percent: 30\n")
    assert run_cli("apply", str(manifests), "--prune", "--yes", env=sandbox_env).code == 0
    assert len(api.specs()) == 7


def test_empty_manifests_guard(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    manifests = setup_two(run_cli, sandbox_env, tmp_path)
    write_manifests(manifests)
    api.clear_journal()
    refused = run_cli("apply", str(manifests), "--prune", "--yes", env=sandbox_env)
    assert refused.code == 3
    assert "--allow-empty" in refused.err
    assert api_writes(api) == []
    allowed = run_cli("apply", str(manifests), "--prune", "--allow-empty", "--yes", env=sandbox_env)
    assert allowed.code == 0, allowed.output
    assert api.specs() == []


def test_saved_plan_applies_exactly_and_refuses_when_stale(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    manifests = setup_two(run_cli, sandbox_env, tmp_path)
    write_manifests(manifests, spec_doc("Keep", capacity=4.0), spec_doc("Gone"), spec_doc("New"))
    plan_file = tmp_path / "plan.json"
    assert run_cli("plan", str(manifests), "--out", str(plan_file), env=sandbox_env).code == 0

    keep = api.spec("Keep")
    api.patch(keep["id"], {"notes": "edited by a colleague"})
    api.clear_journal()
    stale = run_cli("apply", str(plan_file), "--yes", env=sandbox_env)
    assert stale.code == 3, stale.output
    assert "'Keep' changed since the plan was made" in stale.err
    assert api_writes(api) == []

    assert run_cli("plan", str(manifests), "--out", str(plan_file), env=sandbox_env).code == 0
    result = run_cli("apply", str(plan_file), "--yes", env=sandbox_env)
    assert result.code == 0, result.output
    assert api.spec("Keep")["ratings"]["capacity"]["value"] == 4.0
    assert api.spec("Keep")["notes"] == "edited by a colleague"


def test_stale_create_name_taken(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    manifests = write_manifests(tmp_path / "m", spec_doc("New"))
    plan_file = tmp_path / "plan.json"
    assert run_cli("plan", str(manifests), "--out", str(plan_file), env=sandbox_env).code == 0
    api.create(spec_doc("New", capacity=1.0))
    api.clear_journal()
    stale = run_cli("apply", str(plan_file), "--yes", env=sandbox_env)
    assert stale.code == 3
    assert "'New' now exists in Ionworks" in stale.err
    assert api_writes(api) == []


def test_stale_create_already_done_counts_as_done(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    manifests = write_manifests(tmp_path / "m", spec_doc("New"))
    plan_file = tmp_path / "plan.json"
    assert run_cli("plan", str(manifests), "--out", str(plan_file), env=sandbox_env).code == 0
    assert run_cli("apply", str(manifests), "--yes", env=sandbox_env).code == 0
    api.clear_journal()
    again = run_cli("apply", str(plan_file), "--yes", env=sandbox_env)
    assert again.code == 0, again.output
    assert "1 already done" in again.out
    assert api_writes(api) == []


def test_stale_delete_cascade_grew(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    manifests = setup_two(run_cli, sandbox_env, tmp_path)
    gone = api.spec("Gone")
    api.seed(gone["id"], instances=1, measurements=1)
    write_manifests(manifests, spec_doc("Keep"))
    plan_file = tmp_path / "plan.json"
    result = run_cli("plan", str(manifests), "--prune", "--out", str(plan_file), env=sandbox_env)
    assert result.code == 0
    api.seed(gone["id"], instances=1, measurements=5)
    api.clear_journal()
    stale = run_cli("apply", str(plan_file), "--allow-cascade", "--yes", env=sandbox_env)
    assert stale.code == 3, stale.output
    assert "its cascade grew to 2 cell instances" in stale.err
    assert api_writes(api) == []


def test_stale_update_target_deleted(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    manifests = setup_two(run_cli, sandbox_env, tmp_path)
    write_manifests(manifests, spec_doc("Keep", capacity=3.0), spec_doc("Gone"))
    plan_file = tmp_path / "plan.json"
    assert run_cli("plan", str(manifests), "--out", str(plan_file), env=sandbox_env).code == 0
    api.http.delete(f"/cell_specifications/{api.spec('Keep')['id']}").raise_for_status()
    stale = run_cli("apply", str(plan_file), "--yes", env=sandbox_env)
    assert stale.code == 3
    assert "'Keep' was deleted since the plan was made" in stale.err


def test_report_file_lists_every_change(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    manifests = write_manifests(tmp_path / "m", spec_doc("A"), spec_doc("B"))
    report = tmp_path / "report.json"
    result = run_cli("apply", str(manifests), "--yes", "--report", str(report), env=sandbox_env)
    assert result.code == 0, result.output
    [project] = json.loads(report.read_text())["results"]
    assert project["summary"]["applied"] == 2
    assert {c["name"] for c in project["changes"]} == {"A", "B"}
    assert all(c["spec_id"] for c in project["changes"])


@pytest.mark.parametrize(
    "fault", ["500", "502", "503", "429", "drop", "drop-after-commit", "stall"]
)
def test_apply_under_each_fault_kind_converges_without_duplicates(
    run_cli: Cli,
    sandbox_factory: Callable[..., SandboxServer],
    tmp_path: Path,
    fault: str,
) -> None:
    server = sandbox_factory(stall_seconds=3.0)
    env = env_for(server)
    api = Api(server)
    try:
        docs = [spec_doc(f"Cell {i}") for i in range(6)]
        manifests = write_manifests(tmp_path / "m", *docs)
        assert run_cli("apply", str(manifests), "--yes", env=env).code == 0
        changed = [spec_doc(f"Cell {i}", capacity=4.0) for i in range(3)]
        added = [spec_doc(f"New {i}") for i in range(3)]
        write_manifests(manifests, *changed, *added)
        api.set_faults(fault_rate=0.3, faults=[fault], seed=7)
        codes = []
        for _ in range(4):
            result = run_cli(
                "--concurrency",
                "4",
                "--timeout",
                "1",
                "apply",
                str(manifests),
                "--prune",
                "--yes",
                env=env,
            )
            codes.append(result.code)
            if result.code == 0:
                break
        api.set_faults(fault_rate=0.0, faults=[])
        names = [s["name"] for s in api.specs()]
        assert sorted(names) == sorted(d["name"] for d in changed + added), codes
        assert len(names) == len(set(names)), "no duplicate spec may ever be created"
        for spec in api.specs():
            expected = 4.0 if spec["name"].startswith("Cell") else 5.0
            assert spec["ratings"]["capacity"]["value"] == expected
        assert run_cli("plan", str(manifests), "--detailed-exitcode", env=env).code == 0
    finally:
        api.close()


def test_orphans_are_reported_as_skipped(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    manifests = setup_two(run_cli, sandbox_env, tmp_path)
    write_manifests(manifests, spec_doc("Keep", capacity=4.5))
    report = tmp_path / "report.json"
    result = run_cli("apply", str(manifests), "--yes", "--report", str(report), env=sandbox_env)
    assert result.code == 0, result.output
    assert "1 applied, 0 already done, 0 failed, 1 skipped." in result.out
    [project] = json.loads(report.read_text())["results"]
    statuses = {c["name"]: (c["kind"], c["status"]) for c in project["changes"]}
    assert statuses == {"Keep": ("update", "applied"), "Gone": ("orphan", "skipped")}
    assert sorted(s["name"] for s in api.specs()) == ["Gone", "Keep"]


def test_an_unwritable_report_path_is_refused_before_any_write(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    manifests = write_manifests(tmp_path / "m", spec_doc("A"))
    api.clear_journal()
    result = run_cli(
        "apply",
        str(manifests),
        "--yes",
        "--report",
        str(tmp_path / "no" / "r.json"),
        env=sandbox_env,
    )
    assert result.code == 1, result.output
    assert "cannot write the report" in result.err
    assert api_writes(api) == []


def test_a_report_that_fails_after_the_writes_is_reported_with_the_summary(
    run_cli: Cli, sandbox_factory: Callable[..., SandboxServer], tmp_path: Path
) -> None:
    server = sandbox_factory(latency_ms=100)
    manifests = write_manifests(tmp_path / "m", *(spec_doc(f"C{i}") for i in range(4)))
    reports = tmp_path / "reports"
    reports.mkdir()
    with on_first_create(server, lambda _api: reports.rmdir()):
        result = run_cli(
            "apply",
            str(manifests),
            "--yes",
            "--report",
            str(reports / "r.json"),
            env=env_for(server),
        )
    assert result.code == 1, result.output
    assert "Apply complete: 4 applied" in result.out
    assert "the report could not be written" in result.err
    assert "Internal error" not in result.output
