"""The GitOps guarantee on GitHub, with the workflow scripts run locally: a pull request's check
is red when apply would refuse its plan, and the apply after merge finds the pull request's
reviewed plan and writes exactly it, or nothing.

The stand-in ``gh`` serves the merged pull request, the plan workflow's runs and their
artifacts; run.sh runs against a real sandbox as the runner would run it.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cmarkgfm
import pytest
from helpers import Api, spec_doc, write_manifests
from workflow_support import (
    PLAN_MARKER,
    PLAN_VERDICT_SH,
    REVIEWED_PLAN_SH,
    ActionRun,
    FakeGitHub,
    action_runner,
    credentials,
    fake_github_in,
    run_script,
    workflow_commands,
)

from reconciler.sandbox.server import SandboxServer


@pytest.fixture
def run_action(tmp_path: Path) -> Callable[..., ActionRun]:
    return action_runner(tmp_path)


@pytest.fixture
def fake_github(tmp_path: Path) -> FakeGitHub:
    return fake_github_in(tmp_path)


# --- the pull request's check --------------------------------------------------------------------


def test_a_blocked_delete_fails_the_pull_request_check_naming_it(
    run_action: Callable[..., ActionRun], sandbox: SandboxServer, tmp_path: Path
) -> None:
    """Issue 16.1: plan exits 3 when apply would refuse, and the check goes red saying why."""
    manifests = tmp_path / "repo" / "manifests"
    write_manifests(manifests, spec_doc("Keep"), spec_doc("Gone"), config="prune: true\n")
    env = credentials(sandbox)
    assert run_action("apply", env=env).code == 0
    api = Api(sandbox)
    try:
        api.seed(api.spec("Gone")["id"], instances=3, measurements=4)
    finally:
        api.close()
    write_manifests(manifests, spec_doc("Keep"), spec_doc("New"), config="prune: true\n")

    planned = run_action("plan", env=env, fail_on_error="false")

    assert planned.outputs["exit-code"] == "3", planned.log
    assert "Apply would refuse this plan" in planned.markdown()
    assert "[!WARNING]" in planned.markdown()
    summary = tmp_path / "verdict-summary.md"
    verdict = run_script(
        PLAN_VERDICT_SH,
        VALIDATE_EXIT="0",
        PLAN_EXIT="3",
        PLAN_FILE=planned.outputs["plan-file"],
        GITHUB_STEP_SUMMARY=str(summary),
    )
    assert verdict.returncode == 1, verdict.stderr
    blocked = [c for c in workflow_commands(verdict.stdout) if "title=blocked change" in c]
    assert blocked == [
        '::error title=blocked change::delete "Gone" is blocked by cascade: it would also '
        "delete 3 cell instances, 0 batches and 12 measurements. Allow: `--allow-cascade`, "
        "or `allow_cascade: true` in ionworks-apply.yaml"
    ], "no prompt in CI, so none is offered"
    assert "Apply would refuse this plan" in summary.read_text()


@pytest.mark.parametrize(
    ("validate", "plan", "code"),
    [("0", "0", 0), ("0", "2", 0), ("0", "", 0), ("0", "1", 1), ("0", "4", 1), ("1", "", 1)],
)
def test_the_verdict_is_green_only_when_apply_would_write_the_plan(
    validate: str, plan: str, code: int
) -> None:
    verdict = run_script(PLAN_VERDICT_SH, VALIDATE_EXIT=validate, PLAN_EXIT=plan)
    assert verdict.returncode == code, verdict.stdout + verdict.stderr
    assert all(c.startswith("::error ") for c in workflow_commands(verdict.stdout))


def test_the_verdict_keeps_hostile_names_inside_one_annotation(tmp_path: Path) -> None:
    """A fork's pull request controls the names in the plan file: no second command."""
    hostile = "x%0A\n::warning title=owned::injected\r\n::stop-commands::t"
    plan = {
        "plans": [
            {
                "changes": [
                    {
                        "kind": "delete",
                        "name": hostile,
                        "blocked_by": [{"guard": "protect", "reason": hostile, "allow": "x"}],
                    }
                ]
            }
        ]
    }
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan))

    verdict = run_script(
        PLAN_VERDICT_SH, VALIDATE_EXIT="0", PLAN_EXIT="3", PLAN_FILE=str(plan_file)
    )

    assert verdict.returncode == 1
    commands = workflow_commands(verdict.stdout)
    assert len(commands) == 2 and all(c.startswith("::error title=") for c in commands)
    assert "x%250A%0A::warning" in commands[1]


def test_report_fences_cannot_be_closed_by_the_log(
    run_action: Callable[..., ActionRun], tmp_path: Path
) -> None:
    """A log line of many tildes (a name is other people's text) stays inside the code block."""
    fake = tmp_path / "fake-ionworks-apply"
    fake.write_text(
        "#!/usr/bin/env bash\n"
        "echo 'Error: first line'\n"
        "echo '~~~~~~~~~~~~'\n"
        "echo '# not a heading <img src=x onerror=alert(1)>'\n"
        "exit 1\n"
    )
    fake.chmod(0o755)

    run = run_action("apply", env={"IONWORKS_APPLY_BIN": str(fake)}, fail_on_error="false")

    html = cmarkgfm.github_flavored_markdown_to_html(run.markdown())
    assert "<h1>" not in html and "<img" not in html
    [block] = re.findall(r"<pre[^>]*><code[^>]*>(.*?)</code></pre>", html, flags=re.DOTALL)
    assert "~~~~~~~~~~~~\n# not a heading &lt;img" in block


def api_writes(api: Api) -> list[dict[str, Any]]:
    return [w for w in api.writes() if not w["path"].startswith("/_sandbox")]


# --- after merge: the reviewed plan, or nothing ---------------------------------------------------

MERGED, HEAD, OLD_HEAD = "m" * 40, "h" * 40, "o" * 40


def pull_request(merge_sha: str = MERGED, head_sha: str = HEAD) -> dict[str, Any]:
    return {
        "number": 7,
        "merged_at": "2026-11-02T10:00:00Z",
        "merge_commit_sha": merge_sha,
        "head": {"sha": head_sha},
    }


def plan_run(run_id: int, head_sha: str, created: str, status: str = "completed") -> dict[str, Any]:
    return {
        "databaseId": run_id,
        "createdAt": created,
        "workflow": "plan.yml",
        "event": "pull_request",
        "status": status,
        "commit": head_sha,
    }


@pytest.fixture
def pr_reviewed(
    run_action: Callable[..., ActionRun],
    sandbox: SandboxServer,
    fake_github: FakeGitHub,
    tmp_path: Path,
) -> Path:
    """'Keep' and 'Other' applied; a pull request updates 'Keep' and adds 'New'; its plan run
    uploaded the plan as plan.yml's artifact does; the stand-in gh knows the merge. Returns
    where the apply workflow's reviewed-plan job keeps the plan."""
    manifests = tmp_path / "repo" / "manifests"
    write_manifests(manifests, spec_doc("Keep"), spec_doc("Other"))
    assert run_action("apply", env=credentials(sandbox)).code == 0
    write_manifests(manifests, spec_doc("Keep", capacity=4.0), spec_doc("Other"), spec_doc("New"))
    planned = run_action("plan", env=credentials(sandbox))
    assert planned.outputs["exit-code"] == "2", planned.log
    artifact = tmp_path / "artifacts" / "ionworks-plan"
    artifact.mkdir(parents=True)
    shutil.copy(planned.outputs["plan-file"], artifact / "plan.json")
    (artifact / "comment.md").write_text(planned.markdown())
    stale = tmp_path / "artifacts" / "stale-plan"
    stale.mkdir()
    (stale / "plan.json").write_text("{}")
    fake_github.set(
        pulls={MERGED: [pull_request(merge_sha="x" * 40), pull_request()]},
        runs=[
            plan_run(100, OLD_HEAD, "2026-11-01T09:00:00Z"),
            plan_run(101, HEAD, "2026-11-01T10:00:00Z"),
            plan_run(102, HEAD, "2026-11-01T11:00:00Z"),
            plan_run(103, HEAD, "2026-11-01T12:00:00Z", status="in_progress"),
        ],
        artifacts={
            "100": {"ionworks-plan": str(stale)},
            "101": {"ionworks-plan": str(stale)},
            "102": {"ionworks-plan": str(artifact)},
        },
    )
    return tmp_path / "reviewed"


def fetch_reviewed(
    fake_github: FakeGitHub, out_dir: Path, tmp_path: Path, sha: str = MERGED
) -> Any:
    outputs = tmp_path / "fetch-outputs"
    outputs.write_text("")
    done = fake_github.run(
        REVIEWED_PLAN_SH,
        MERGED_SHA=sha,
        OUT_DIR=str(out_dir),
        GITHUB_OUTPUT=str(outputs),
        GITHUB_ACTIONS="true",
    )
    return done, dict(line.split("=", 1) for line in outputs.read_text().splitlines())


def test_after_merge_the_reviewed_plan_is_found_shown_and_applied_exactly(
    run_action: Callable[..., ActionRun],
    sandbox: SandboxServer,
    fake_github: FakeGitHub,
    pr_reviewed: Path,
    tmp_path: Path,
) -> None:
    """Issue 16.2, the apply workflow's path: fetch, show to the approver, apply --expect."""
    fetched, outputs = fetch_reviewed(fake_github, pr_reviewed, tmp_path)
    assert fetched.returncode == 0, fetched.stdout + fetched.stderr
    assert outputs == {
        "plan-file": str(pr_reviewed / "plan.json"),
        "pr-number": "7",
        "head-sha": HEAD,
        "plan-run-id": "102",
    }, "the newest finished plan run of the pull request's last commit"

    shown = run_action("show", directory=outputs["plan-file"])
    assert shown.code == 0, shown.log
    assert shown.markdown().splitlines()[0] == PLAN_MARKER
    assert "Plan: 1 to create, 1 to update, 0 to delete." in shown.summary

    api = Api(sandbox)
    try:
        api.clear_journal()
        applied = run_action("apply", env=credentials(sandbox), expect=outputs["plan-file"])
        assert (applied.code, applied.outputs["exit-code"]) == (0, "0"), applied.log
        assert api.spec("Keep")["ratings"]["capacity"]["value"] == 4.0
        assert {s["name"] for s in api.specs()} == {"Keep", "Other", "New"}
        assert sorted(w["method"] for w in api_writes(api)) == ["PATCH", "POST"]
        report = json.loads(Path(applied.outputs["report-file"]).read_text())
        assert report["results"][0]["summary"]["applied"] == 2
    finally:
        api.close()


def test_after_merge_a_change_made_in_ionworks_since_the_review_writes_nothing(
    run_action: Callable[..., ActionRun],
    sandbox: SandboxServer,
    fake_github: FakeGitHub,
    pr_reviewed: Path,
    tmp_path: Path,
) -> None:
    fetched, outputs = fetch_reviewed(fake_github, pr_reviewed, tmp_path)
    assert fetched.returncode == 0, fetched.stderr
    api = Api(sandbox)
    try:
        api.patch(api.spec("Other")["id"], {"manufacturer": "Edited in the web app after review"})
        api.clear_journal()

        applied = run_action(
            "apply", env=credentials(sandbox), expect=outputs["plan-file"], fail_on_error="false"
        )

        assert applied.outputs["exit-code"] == "3", applied.log
        assert "'Other': a fresh plan also has a update that the plan does not hold" in (
            applied.markdown()
        )
        assert api_writes(api) == []
        assert api.spec("Keep")["ratings"]["capacity"]["value"] == 5.0
    finally:
        api.close()


@pytest.mark.parametrize(
    ("state", "said"),
    [
        ({"pulls": {}}, "is not the merge of a pull request"),
        ({"pulls": {MERGED: [{**pull_request(), "merged_at": None}]}}, "is not the merge of"),
        ({"runs": [plan_run(100, OLD_HEAD, "2026-11-01T09:00:00Z")]}, "no finished plan.yml run"),
        ({"artifacts": {}}, "could not be downloaded"),
        ({"empty-artifact": True}, "holds no plan.json"),
    ],
    ids=["direct-push", "closed-unmerged", "no-plan-for-last-commit", "expired", "no-plan-json"],
)
def test_without_a_reviewed_plan_nothing_is_applied(
    fake_github: FakeGitHub, tmp_path: Path, state: dict[str, Any], said: str
) -> None:
    empty = tmp_path / "empty-artifact"
    empty.mkdir()
    (empty / "comment.md").write_text("validation failed")
    base: dict[str, Any] = {
        "pulls": {MERGED: [pull_request()]},
        "runs": [plan_run(102, HEAD, "2026-11-01T11:00:00Z")],
        "artifacts": {"102": {"ionworks-plan": str(empty)}},
    }
    if not state.pop("empty-artifact", False):
        (empty / "plan.json").write_text("{}")
    fake_github.set(**{**base, **state})

    done, outputs = fetch_reviewed(fake_github, tmp_path / "reviewed", tmp_path)

    assert done.returncode == 1
    [error] = workflow_commands(done.stdout)
    assert error.startswith("::error title=no reviewed plan::") and said in error
    assert "nothing is applied" in error
    assert outputs == {}
    assert not (tmp_path / "reviewed" / "plan.json").exists()
