"""The GitHub side: the composite action's run.sh against a real sandbox, the sticky-comment and
drift-issue scripts against a stand-in ``gh``, and the security rules every workflow must keep.

run.sh is run exactly as the runner runs it (bash, GITHUB_ACTIONS=true, GITHUB_OUTPUT and
GITHUB_STEP_SUMMARY files), so what a pull request would show is what these tests read.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import Api, spec_doc, write_manifests
from ruamel.yaml import YAML
from workflow_support import (
    DRIFT_ISSUE_SH,
    DRIFT_MARKER,
    GITHUB_DIR,
    PLAN_MARKER,
    ROOT,
    STICKY_COMMENT_SH,
    ActionRun,
    FakeGitHub,
    action_runner,
    assert_no_secret,
    credentials,
    fake_github_in,
)

from reconciler.sandbox.server import SandboxServer

EXAMPLE_MANIFESTS = ROOT / "manifests"
SHA_PIN = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"#\s*v\d+\.\d+\.\d+\s*$")

BROKEN_MANIFEST = """\
name: Broken-cell
form_factor: "21700"
ratings:
  capacity: [5, "A*h"
"""


@pytest.fixture
def run_action(tmp_path: Path) -> Callable[..., ActionRun]:
    return action_runner(tmp_path)


@pytest.fixture
def fake_github(tmp_path: Path) -> FakeGitHub:
    return fake_github_in(tmp_path)


# --- (a) plan against a sandbox: summary, outputs, comment body ---------------------------------


def test_plan_of_example_manifests_reports_changes(
    run_action: Callable[..., ActionRun], sandbox: SandboxServer, tmp_path: Path
) -> None:
    manifests = tmp_path / "repo" / "manifests"
    shutil.copytree(EXAMPLE_MANIFESTS, manifests)
    assert list(manifests.glob("*.yaml")), "the example manifests/ directory has no manifests"

    run = run_action("plan", env=credentials(sandbox))

    assert run.code == 0, f"exit 2 (changes) must not fail the step:\n{run.log}"
    assert run.outputs["exit-code"] == "2"
    assert run.outputs["has-changes"] == "true"
    comment = run.markdown()
    assert comment.splitlines()[0] == PLAN_MARKER
    assert "to create" in comment
    assert comment in run.summary
    plan_file = Path(run.outputs["plan-file"])
    assert plan_file.is_file() and plan_file.stat().st_size > 0
    assert_no_secret(sandbox.api_key, run)


def test_plan_output_cannot_issue_workflow_commands(
    run_action: Callable[..., ActionRun], sandbox: SandboxServer, tmp_path: Path
) -> None:
    """Plan output carries API data, so the runner is told to ignore workflow commands in it."""
    write_manifests(tmp_path / "repo" / "manifests", spec_doc("Workflow-command-cell"))

    run = run_action("plan", env=credentials(sandbox))

    stop = re.search(r"^::stop-commands::(\S+)$", run.stdout, re.MULTILINE)
    assert stop, run.stdout
    token = stop.group(1)
    resume = run.stdout.index(f"::{token}::")
    assert stop.end() < run.stdout.index("Workflow-command-cell") < resume


def test_apply_then_plan_and_drift_are_quiet_until_live_state_moves(
    run_action: Callable[..., ActionRun], sandbox: SandboxServer, tmp_path: Path
) -> None:
    write_manifests(tmp_path / "repo" / "manifests", spec_doc("GitOps-cell"))
    env = credentials(sandbox)

    applied = run_action("apply", env=env)
    assert applied.code == 0, applied.log
    assert applied.outputs["exit-code"] == "0"
    assert applied.markdown().splitlines()[0] == "<!-- ionworks-apply-apply -->"
    json.loads(Path(applied.outputs["report-file"]).read_text())
    assert_no_secret(sandbox.api_key, applied)

    replanned = run_action("plan", env=env)
    assert (replanned.code, replanned.outputs["exit-code"]) == (0, "0"), replanned.log
    assert replanned.outputs["has-changes"] == "false"

    in_sync = run_action("drift", env=env)
    assert (in_sync.code, in_sync.outputs["exit-code"]) == (0, "0"), in_sync.log
    assert in_sync.outputs["has-changes"] == "false"
    assert in_sync.markdown().splitlines()[0] == DRIFT_MARKER

    api = Api(sandbox)
    try:
        api.patch(api.spec("GitOps-cell")["id"], {"manufacturer": "Someone Else"})
    finally:
        api.close()
    drifted = run_action("drift", env=env)
    assert drifted.code == 0, f"exit 2 (drift) must not fail the step:\n{drifted.log}"
    assert (drifted.outputs["exit-code"], drifted.outputs["has-changes"]) == ("2", "true")
    assert drifted.markdown().splitlines()[0] == DRIFT_MARKER
    assert "GitOps-cell" in drifted.summary


def test_plan_error_still_yields_a_comment_body(run_action: Callable[..., ActionRun]) -> None:
    """Without credentials plan fails; the sticky comment must say so rather than go stale."""
    run = run_action("plan", directory="manifests")

    assert run.code == 1, run.log
    assert (run.outputs["exit-code"], run.outputs["has-changes"]) == ("1", "false")
    comment = run.markdown()
    assert comment.splitlines()[0] == PLAN_MARKER
    assert "exit code 1" in comment
    assert "Error:" in comment
    assert comment in run.summary


# --- (b) validate: inline annotations, failing step ---------------------------------------------


def test_validate_broken_manifest_annotates_and_fails(
    run_action: Callable[..., ActionRun], tmp_path: Path
) -> None:
    manifests = tmp_path / "repo" / "manifests"
    manifests.mkdir()
    (manifests / "broken.yaml").write_text(BROKEN_MANIFEST)

    run = run_action("validate")

    assert run.code == 1, run.log
    assert (run.outputs["exit-code"], run.outputs["has-changes"]) == ("1", "false")
    assert re.search(r"^::error file=manifests/broken\.yaml,line=\d+", run.stdout, re.MULTILINE)
    assert re.search(r"manifests/broken\.yaml:\d+:\d+: ", run.log)
    assert "::stop-commands::" not in run.stdout
    report = run.markdown()
    assert report.splitlines()[0] == "<!-- ionworks-apply-validate -->"
    assert "broken.yaml" in report
    assert report in run.summary
    assert not any(line.startswith("::") for line in run.summary.splitlines())

    lenient = run_action("validate", fail_on_error="false")
    assert lenient.code == 0, lenient.log
    assert lenient.outputs["exit-code"] == "1"


def test_validate_clean_manifests_pass(
    run_action: Callable[..., ActionRun], tmp_path: Path
) -> None:
    write_manifests(tmp_path / "repo" / "manifests", spec_doc("Valid-cell"))

    run = run_action("validate")

    assert run.code == 0, run.log
    assert (run.outputs["exit-code"], run.outputs["has-changes"]) == ("0", "false")
    assert "::error" not in run.stdout


def test_unknown_command_is_refused(run_action: Callable[..., ActionRun]) -> None:
    run = run_action("destroy")

    assert run.code == 1
    assert "::error" in run.stdout
    assert run.outputs == {}


# --- (c) workflow structure ----------------------------------------------------------------------


def load_yaml(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text())


def workflow_files() -> list[Path]:
    return sorted((GITHUB_DIR / "workflows").glob("*.yml"))


def action_files() -> list[Path]:
    return sorted(GITHUB_DIR.glob("actions/*/action.yml"))


def all_steps(path: Path) -> Iterator[dict[str, Any]]:
    document = load_yaml(path)
    if "jobs" in document:
        for job in document["jobs"].values():
            yield from job.get("steps", [])
    else:
        yield from document["runs"].get("steps", [])


def test_the_expected_workflows_exist() -> None:
    names = {path.name for path in workflow_files()}
    assert {"ci.yml", "plan.yml", "apply.yml", "drift.yml"} <= names
    assert action_files()


@pytest.mark.parametrize(
    "path", workflow_files() + action_files(), ids=lambda p: str(p.relative_to(ROOT))
)
def test_every_remote_action_is_pinned_to_a_commit_with_its_version(path: Path) -> None:
    uses_lines = [
        line.strip()
        for line in path.read_text().splitlines()
        if line.strip().startswith(("uses:", "- uses:"))
    ]
    for step in all_steps(path):
        uses = step.get("uses")
        if uses is None or uses.startswith("./"):
            continue
        assert SHA_PIN.match(uses), f"{path.name}: {uses} is not pinned to a 40-hex commit"
        line = next(text for text in uses_lines if uses in text)
        assert VERSION_COMMENT.search(line), f"{path.name}: {uses} lacks a '# vX.Y.Z' comment"


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_permissions_are_empty_by_default_and_granted_per_job(path: Path) -> None:
    workflow = load_yaml(path)
    assert workflow.get("permissions") == {}, f"{path.name}: top-level permissions must be {{}}"
    for name, job in workflow["jobs"].items():
        assert "permissions" in job, f"{path.name}: job {name} has no permissions block"
        assert job["permissions"] != "write-all"


@pytest.mark.parametrize(
    "path", workflow_files() + action_files(), ids=lambda p: str(p.relative_to(ROOT))
)
def test_no_expressions_inside_run_scripts_and_no_persisted_credentials(path: Path) -> None:
    for step in all_steps(path):
        assert "${{" not in step.get("run", ""), (
            f"{path.name}: use env: instead of ${{{{ }}}} in run"
        )
        if str(step.get("uses", "")).startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False


@pytest.mark.parametrize("path", workflow_files() + action_files(), ids=lambda p: p.name)
def test_credentials_come_only_from_the_documented_secret_and_variable(path: Path) -> None:
    text = path.read_text()
    assert set(re.findall(r"secrets\.(\w+)", text)) <= {"IONWORKS_API_KEY"}
    assert set(re.findall(r"vars\.(\w+)", text)) <= {"IONWORKS_PROJECT_ID"}


def test_apply_workflow_is_serialised_gated_and_applies_only_a_reviewed_plan() -> None:
    workflow = load_yaml(GITHUB_DIR / "workflows" / "apply.yml")
    assert workflow["concurrency"]["cancel-in-progress"] is False
    assert workflow["concurrency"]["group"].startswith("ionworks-apply-")
    jobs = workflow["jobs"]
    assert set(jobs) == {"reviewed-plan", "apply"}
    assert "environment" not in jobs["reviewed-plan"], "the approver sees the plan first"
    assert jobs["apply"]["needs"] == "reviewed-plan"
    assert jobs["apply"]["environment"] == "ionworks-production"
    # --prune/--allow-cascade only ever come from the manual run's explicit opt-in inputs, and
    # the manual run's plan is made with the same flags its apply gets.
    opt_ins = (
        "${{ inputs.prune && '--prune' || '' }} "
        "${{ inputs.allow-cascade && '--allow-cascade' || '' }}"
    )
    (plan_step,) = [s for s in jobs["reviewed-plan"]["steps"] if command_of(s) == "plan"]
    assert plan_step["if"] == "github.event_name == 'workflow_dispatch'"
    assert plan_step["with"]["args"] == opt_ins
    (fetch,) = [s for s in jobs["reviewed-plan"]["steps"] if "reviewed-plan.sh" in s.get("run", "")]
    assert fetch["if"] == "github.event_name == 'push'"
    assert fetch["env"]["MERGED_SHA"] == "${{ github.sha }}"
    (apply_step,) = [s for s in jobs["apply"]["steps"] if command_of(s) == "apply"]
    assert apply_step["with"]["args"] == opt_ins
    assert apply_step["with"]["expect"] == "${{ runner.temp }}/ionworks-reviewed-plan/plan.json"


def command_of(step: dict[str, Any]) -> str | None:
    command: str | None = step.get("with", {}).get("command")
    return command


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_no_workflow_applies_anything_but_a_reviewed_plan(path: Path) -> None:
    for step in all_steps(path):
        if command_of(step) == "apply":
            assert step["with"].get("expect"), f"{path.name}: an apply without --expect"


# --- sticky PR comment and drift issue, against a stand-in gh ------------------------------------


def test_sticky_comment_is_created_once_then_edited_in_place(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    human_quote = {"id": 1, "body": f"{PLAN_MARKER}\nquoted by a person", "user": {"type": "User"}}
    other_bot = {"id": 2, "body": "a coverage report", "user": {"type": "Bot"}}
    fake_github.set(comments=[human_quote, other_bot])
    body = tmp_path / "plan.md"
    body.write_text(f"{PLAN_MARKER}\nPlan: 1 to create\n")

    first = fake_github.run(STICKY_COMMENT_SH, PR_NUMBER="7", BODY_FILE=str(body))
    assert first.returncode == 0, first.stderr
    body.write_text(f"{PLAN_MARKER}\nPlan: 2 to create\n")
    second = fake_github.run(STICKY_COMMENT_SH, PR_NUMBER="7", BODY_FILE=str(body))
    assert second.returncode == 0, second.stderr

    comments = fake_github.state()["comments"]
    ours = [c for c in comments if c["id"] not in (1, 2)]
    assert len(ours) == 1
    assert ours[0]["body"] == f"{PLAN_MARKER}\nPlan: 2 to create\n"
    assert comments[:2] == [human_quote, other_bot]
    assert "Created" in first.stdout and "Updated" in second.stdout


def test_sticky_comment_adds_the_marker_and_stays_under_githubs_limit(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    body = tmp_path / "validate.md"
    body.write_text("<!-- ionworks-apply-validate -->\n" + "x" * 100 + "\n" * 1000 + "y" * 70_000)

    done = fake_github.run(STICKY_COMMENT_SH, PR_NUMBER="7", BODY_FILE=str(body))

    assert done.returncode == 0, done.stderr
    (comment,) = fake_github.state()["comments"]
    assert comment["body"].splitlines()[0] == PLAN_MARKER
    assert len(comment["body"]) <= 65_536
    assert "Truncated" in comment["body"]


def test_drift_issue_opens_once_updates_then_closes(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    unrelated = {
        "number": 1,
        "state": "open",
        "labels": ["ionworks-drift"],
        "title": "a person's note",
        "body": "please look at drift",
        "comments": [],
    }
    fake_github.set(issues=[unrelated])
    report = tmp_path / "drift.md"
    report.write_text(f"{DRIFT_MARKER}\n1 spec drifted: Cell-A\n")

    opened = fake_github.run(DRIFT_ISSUE_SH, DRIFT_EXIT_CODE="2", BODY_FILE=str(report))
    assert opened.returncode == 0, opened.stderr
    report.write_text(f"{DRIFT_MARKER}\n2 specs drifted: Cell-A, Cell-B\n")
    updated = fake_github.run(DRIFT_ISSUE_SH, DRIFT_EXIT_CODE="2", BODY_FILE=str(report))
    assert updated.returncode == 0, updated.stderr

    issues = fake_github.state()["issues"]
    assert issues[0] == unrelated
    (ours,) = issues[1:]
    assert ours["state"] == "open" and ours["labels"] == ["ionworks-drift"]
    assert ours["body"].startswith(f"{DRIFT_MARKER}\n2 specs drifted: Cell-A, Cell-B\n")

    closed = fake_github.run(
        DRIFT_ISSUE_SH, DRIFT_EXIT_CODE="0", RUN_URL="https://example.invalid/r/1"
    )
    assert closed.returncode == 0, closed.stderr
    ours = fake_github.state()["issues"][1]
    assert ours["state"] == "closed"
    assert "https://example.invalid/r/1" in ours["comments"][0]
    assert fake_github.state()["issues"][0] == unrelated


def test_drift_issue_ignores_in_sync_without_issue_and_refuses_errors(
    fake_github: FakeGitHub,
) -> None:
    quiet = fake_github.run(DRIFT_ISSUE_SH, DRIFT_EXIT_CODE="0")
    assert quiet.returncode == 0, quiet.stderr
    assert [call[:2] for call in fake_github.state()["calls"]] == [["issue", "list"]]

    failed = fake_github.run(DRIFT_ISSUE_SH, DRIFT_EXIT_CODE="1")
    assert failed.returncode == 1
    assert fake_github.state()["issues"] == []
