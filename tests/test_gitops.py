"""The GitOps path end to end: what a pull request's check says, what apply after merge writes.

A reviewed plan is what apply may write, or nothing: `plan --detailed-exitcode` says 3 when
apply would refuse; `apply --expect PLANFILE DIR` and `apply PLANFILE` apply the reviewed change
set only while a fresh plan gives exactly it.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import Api, CliResult, spec_doc, write_manifests

Cli = Callable[..., CliResult]

PRUNE = "prune: true\n"


def api_writes(api: Api) -> list[dict[str, Any]]:
    return [w for w in api.writes() if not w["path"].startswith("/_sandbox")]


def applied(run_cli: Cli, env: dict[str, str], *args: str) -> CliResult:
    result = run_cli("apply", *args, "--yes", env=env)
    assert result.code == 0, result.output
    return result


def test_plan_exit_codes_say_whether_apply_would_write_or_refuse(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    manifests = write_manifests(tmp_path / "m", spec_doc("Keep"), spec_doc("Gone"), config=PRUNE)

    def plan(*extra: str) -> int:
        code: int = run_cli("plan", str(manifests), *extra, env=sandbox_env).code
        return code

    assert plan("--detailed-exitcode") == 2
    applied(run_cli, sandbox_env, str(manifests))
    assert plan("--detailed-exitcode") == 0

    api.seed(api.spec("Gone")["id"], instances=2, measurements=3)
    write_manifests(manifests, spec_doc("Keep"), spec_doc("New"), config=PRUNE)
    blocked = run_cli("plan", str(manifests), "--detailed-exitcode", env=sandbox_env)
    assert blocked.code == 3, blocked.output
    assert 'delete "Gone"' in blocked.out and "[BLOCKED]" in blocked.out
    assert plan() == 0, "without --detailed-exitcode plan succeeds whatever it found"
    assert plan("--detailed-exitcode", "--allow-cascade") == 2

    api.clear_journal()
    refused = run_cli("apply", str(manifests), "--yes", env=sandbox_env)
    assert refused.code == 3, "exit 3 from plan is what apply does with the same plan"
    assert api_writes(api) == []


# --- saved plans: the plan was the review ------------------------------------------------------


def saved_plan(run_cli: Cli, env: dict[str, str], manifests: Path, out: Path, *args: str) -> str:
    """``plan --out``; returns the follow-up command the plan suggests (without the program)."""
    result = run_cli("plan", str(manifests), "--out", str(out), *args, env=env)
    assert result.code == 0, result.output
    return result.err


def test_a_saved_plan_applies_without_a_terminal_and_without_yes(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    manifests = write_manifests(tmp_path / "m", spec_doc("Cell A"), spec_doc("Cell B"))
    plan_file = tmp_path / "plan.json"
    saved_plan(run_cli, sandbox_env, manifests, plan_file)

    result = run_cli("apply", str(plan_file), env=sandbox_env)

    assert result.code == 0, result.output
    assert "Apply complete: 2 applied" in result.out
    assert {s["name"] for s in api.specs()} == {"Cell A", "Cell B"}


def test_a_sandbox_plan_applies_with_the_command_plan_suggests(
    run_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 16.3: the embedded sandbox's port changes every run; its saved plans still work."""
    monkeypatch.chdir(tmp_path)
    write_manifests(tmp_path / "manifests", spec_doc("Sandboxed"))
    planned = run_cli("--sandbox", "plan", "manifests", "--out", "plan.json")
    assert planned.code == 0, planned.output
    [hint] = [line for line in planned.err.splitlines() if line.startswith("Plan saved")]
    command = hint.split("apply it from here with: ", 1)[1]
    assert command == "ionworks-apply --sandbox apply plan.json"

    applied = run_cli(*shlex.split(command)[1:])

    assert applied.code == 0, applied.output
    assert "Apply complete: 1 applied" in applied.out
    again = run_cli("--sandbox", "plan", "manifests", "--detailed-exitcode")
    assert again.code == 0, again.output
    elsewhere = run_cli("--sandbox=other-state", "apply", "plan.json")
    assert elsewhere.code == 1
    assert "the plan was made against sandbox:.ionworks-sandbox" in elsewhere.err


def test_the_suggested_command_repeats_where_the_api_is_but_no_credential(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_manifests(tmp_path / "my manifests", spec_doc("Cell"))
    flags = {"IONWORKS_API_URL": "--api-url", "IONWORKS_PROJECT_ID": "--project"}
    args = [arg for key, flag in flags.items() for arg in (flag, sandbox_env[key])]
    key = sandbox_env["IONWORKS_API_KEY"]
    planned = run_cli(
        *args, "--api-key", key, "plan", "my manifests", "--out", "my plan.json", env={}
    )
    assert planned.code == 0, planned.output
    command = planned.err.split("apply it from here with: ", 1)[1].strip()
    assert key not in planned.output
    applied = run_cli(*shlex.split(command)[1:], env={"IONWORKS_API_KEY": key})
    assert applied.code == 0, applied.output


def test_show_renders_a_saved_plan_as_plan_did(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    manifests = write_manifests(tmp_path / "m", spec_doc("Keep"), spec_doc("Gone"))
    applied(run_cli, sandbox_env, str(manifests))
    write_manifests(manifests, spec_doc("Keep", capacity=4.0), spec_doc("New"))
    plan_file = tmp_path / "plan.json"
    saved_plan(run_cli, sandbox_env, manifests, plan_file, "--prune")

    for fmt in ("text", "markdown", "json"):
        planned = run_cli("plan", str(manifests), "--prune", "--format", fmt, env=sandbox_env)
        api.clear_journal()
        shown = run_cli("show", str(plan_file), "--format", fmt)
        assert shown.code == 0, shown.output
        assert shown.out == planned.out, fmt
        assert api.journal() == [], "show reads no API"
    assert "Plan: 1 to create, 1 to update, 1 to delete" in run_cli("show", str(plan_file)).out
    broken = tmp_path / "broken.json"
    broken.write_text('{"tool": "ionworks-apply"')
    refused = run_cli("show", str(broken))
    assert refused.code == 1 and refused.err.startswith("Error:"), refused.output


# --- apply --expect: the pull request's reviewed plan, after merge -----------------------------


@pytest.fixture
def reviewed(run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path) -> tuple[Path, Path]:
    """'Keep', 'Other' and 'Gone' live and owned; the merged manifests update 'Keep', create
    'New' and drop 'Gone' (an orphan: prune is off); the PR's reviewed plan of exactly that."""
    manifests = write_manifests(
        tmp_path / "manifests", spec_doc("Keep"), spec_doc("Other"), spec_doc("Gone")
    )
    applied(run_cli, sandbox_env, str(manifests))
    write_manifests(manifests, spec_doc("Keep", capacity=4.0), spec_doc("Other"), spec_doc("New"))
    plan_file = tmp_path / "reviewed.json"
    saved_plan(run_cli, sandbox_env, manifests, plan_file)
    return manifests, plan_file


def test_expect_applies_exactly_the_reviewed_plan(
    run_cli: Cli, sandbox_env: dict[str, str], reviewed: tuple[Path, Path], api: Api
) -> None:
    manifests, plan_file = reviewed
    api.clear_journal()

    result = run_cli("apply", "--expect", str(plan_file), str(manifests), env=sandbox_env)

    assert result.code == 0, result.output
    assert "Apply complete: 2 applied" in result.out
    assert api.spec("Keep")["ratings"]["capacity"]["value"] == 4.0
    assert {s["name"] for s in api.specs()} == {"Keep", "Other", "Gone", "New"}
    assert sorted(w["method"] for w in api_writes(api)) == ["PATCH", "POST"]

    api.clear_journal()
    again = run_cli("apply", "--expect", str(plan_file), str(manifests), env=sandbox_env)
    assert again.code == 0, again.output
    assert "This plan was already applied; nothing was written." in again.out
    assert api_writes(api) == []


@pytest.mark.parametrize(
    "moved",
    ["reviewed spec edited", "in-sync spec edited", "manifest edited", "prune turned on"],
)
def test_expect_writes_nothing_when_anything_moved_since_the_review(
    run_cli: Cli,
    sandbox_env: dict[str, str],
    reviewed: tuple[Path, Path],
    api: Api,
    moved: str,
) -> None:
    """Issue 16.2: a change in Ionworks (or the manifests) between review and merge is never
    applied unreviewed: the whole plan is refused and the difference named."""
    manifests, plan_file = reviewed
    said = {
        "reviewed spec edited": "'Keep' changed since the plan was made",
        "in-sync spec edited": "'Other': a fresh plan also has a update that the plan does not",
        "manifest edited": "'New': the create in the plan differs from what the manifests give",
        "prune turned on": "'Gone': a fresh plan also has a delete that the plan does not hold",
    }[moved]
    if moved == "reviewed spec edited":
        api.patch(api.spec("Keep")["id"], {"notes": "edited in the web app after review"})
    elif moved == "in-sync spec edited":
        api.patch(api.spec("Other")["id"], {"manufacturer": "Someone Else"})
    elif moved == "manifest edited":
        write_manifests(
            manifests, spec_doc("Keep", capacity=4.0), spec_doc("Other"), spec_doc("New", 9.0)
        )
    else:
        (manifests / "ionworks-apply.yaml").write_text(PRUNE)
    api.clear_journal()

    result = run_cli("apply", "--expect", str(plan_file), str(manifests), env=sandbox_env)

    assert result.code == 3, result.output
    assert said in result.err
    assert "nothing was written" in result.err
    assert api_writes(api) == []


def test_the_reviewed_file_cannot_choose_what_is_applied(
    run_cli: Cli, sandbox_env: dict[str, str], reviewed: tuple[Path, Path], api: Api, tmp_path: Path
) -> None:
    """The file only narrows: its directory, prune and project claims are not taken."""
    manifests, plan_file = reviewed
    document = json.loads(plan_file.read_text())
    document["plans"][0].update(manifests_dir=str(tmp_path / "elsewhere"), prune=True)
    plan_file.write_text(json.dumps(document))
    assert run_cli("apply", "--expect", str(plan_file), str(manifests), env=sandbox_env).code == 0
    assert "Gone" in {s["name"] for s in api.specs()}, "prune comes from this run, not the file"

    other = api.http.post("/_sandbox/projects", json={"name": "Other"}).json()["id"]
    document["plans"][0]["project_id"] = other
    plan_file.write_text(json.dumps(document))
    api.clear_journal()
    result = run_cli("apply", "--expect", str(plan_file), str(manifests), env=sandbox_env)
    assert result.code == 3, result.output
    assert "which the reviewed plan does not cover" in result.err
    assert f"the reviewed plan is for project {other} (owner 'default') too" in result.err
    assert api_writes(api) == []


def test_expect_takes_directories_and_a_well_formed_plan(
    run_cli: Cli, sandbox_env: dict[str, str], reviewed: tuple[Path, Path], tmp_path: Path
) -> None:
    manifests, plan_file = reviewed
    wrong = run_cli("apply", "--expect", str(plan_file), str(plan_file), env=sandbox_env)
    assert wrong.code == 1
    assert "--expect takes the manifests directories" in wrong.err
    garbage = tmp_path / "garbage.json"
    garbage.write_text("[1, 2")
    bad = run_cli("apply", "--expect", str(garbage), str(manifests), env=sandbox_env)
    assert bad.code == 1, bad.output
    [error] = bad.err.splitlines()
    assert error.startswith("Error:") and "garbage.json" in error


# --- what a delete destroyed ---------------------------------------------------------------------


def test_the_report_holds_the_full_record_of_every_deleted_spec(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    """Issue 16.6: a deleted spec can at least be re-created from the apply report."""
    doomed = spec_doc("Doomed", notes="years of work", source={"doi": "10.1000/xyz"})
    manifests = write_manifests(tmp_path / "m", spec_doc("Keep"), doomed)
    applied(run_cli, sandbox_env, str(manifests))
    api.seed(api.spec("Doomed")["id"], instances=2, measurements=3, batches=1)
    live = api.spec("Doomed")
    write_manifests(manifests, spec_doc("Keep"))
    report = tmp_path / "report.json"

    result = run_cli(
        "apply",
        str(manifests),
        "--prune",
        "--allow-cascade",
        "--yes",
        "--report",
        str(report),
        env=sandbox_env,
    )

    assert result.code == 0, result.output
    assert f"Report written to {report}, with the full record of the 1 deleted spec(s)." in (
        result.out
    )
    [project] = json.loads(report.read_text())["results"]
    [deleted] = [c for c in project["changes"] if c["kind"] == "delete"]
    assert deleted["deleted"]["record"] == live
    assert deleted["deleted"]["cascade"] == {"instances": 2, "batches": 1, "measurements": 6}
    assert all(c["deleted"] is None for c in project["changes"] if c["kind"] != "delete")

    restore = tmp_path / "restore"
    restore.mkdir()
    (restore / "doomed.yaml").write_text(deleted["deleted"]["manifest"])
    recreated = run_cli("plan", str(restore), "--format", "json", env=sandbox_env)
    [plan] = json.loads(recreated.out)["plans"]
    [create] = [c for c in plan["changes"] if c["kind"] == "create"]
    assert create["body"]["notes"] == "years of work"
    assert create["body"]["source"] == {"doi": "10.1000/xyz"}
    assert create["body"]["ratings"] == doomed["ratings"]
