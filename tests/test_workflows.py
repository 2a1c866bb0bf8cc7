"""The GitHub side: the composite action's run.sh against a real sandbox, the sticky-comment and
drift-issue scripts against a stand-in ``gh``, and the security rules every workflow must keep.

run.sh is run exactly as the runner runs it (bash, GITHUB_ACTIONS=true, GITHUB_OUTPUT and
GITHUB_STEP_SUMMARY files), so what a pull request would show is what these tests read.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cmarkgfm
import pytest
from helpers import Api, spec_doc, write_manifests
from ruamel.yaml import YAML

from reconciler.sandbox.server import SandboxServer

ROOT = Path(__file__).resolve().parent.parent
GITHUB_DIR = ROOT / ".github"
RUN_SH = GITHUB_DIR / "actions" / "ionworks-apply" / "run.sh"
STICKY_COMMENT_SH = GITHUB_DIR / "scripts" / "sticky-comment.sh"
DRIFT_ISSUE_SH = GITHUB_DIR / "scripts" / "drift-issue.sh"
PLAN_VERDICT_SH = GITHUB_DIR / "scripts" / "plan-verdict.sh"
EXAMPLE_MANIFESTS = ROOT / "manifests"
CLI = Path(sys.executable).parent / "ionworks-apply"

PLAN_MARKER = "<!-- ionworks-apply-plan -->"
DRIFT_MARKER = "<!-- ionworks-apply-drift -->"
SHA_PIN = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"#\s*v\d+\.\d+\.\d+\s*$")

BROKEN_MANIFEST = """\
name: Broken-cell
form_factor: "21700"
ratings:
  capacity: [5, "A*h"
"""


@dataclass
class ActionRun:
    """One run of run.sh: its exit code, log, step outputs and job summary."""

    code: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str

    @property
    def log(self) -> str:
        return self.stdout + self.stderr

    def markdown(self) -> str:
        return Path(self.outputs["markdown-file"]).read_text()


def hermetic_env(**extra: str) -> dict[str, str]:
    """The test process's environment minus anything that could leak in (credentials, CI)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("IONWORKS_", "GITHUB_", "RUNNER_", "IA_")) and key != "PROJECT_ID"
    }
    env.update(extra)
    return env


def credentials(sandbox: SandboxServer) -> dict[str, str]:
    return {
        "IONWORKS_API_URL": sandbox.url,
        "IONWORKS_API_KEY": sandbox.api_key,
        "IONWORKS_PROJECT_ID": sandbox.project_id,
    }


@pytest.fixture
def run_action(tmp_path: Path) -> Callable[..., ActionRun]:
    """Run the action's run.sh in ``tmp_path/repo`` the way the runner does."""
    assert CLI.exists(), (
        f"the ionworks-apply console script is not installed next to {sys.executable}"
    )
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()

    def run(command: str, *, env: dict[str, str] | None = None, **inputs: str) -> ActionRun:
        output_file = tmp_path / f"github-output-{command}"
        summary_file = tmp_path / f"step-summary-{command}"
        output_file.write_text("")
        summary_file.write_text("")
        full_env = hermetic_env(
            GITHUB_ACTIONS="true",
            GITHUB_OUTPUT=str(output_file),
            GITHUB_STEP_SUMMARY=str(summary_file),
            RUNNER_TEMP=str(runner_temp),
            IA_COMMAND=command,
            **{f"IA_{key.upper()}": value for key, value in inputs.items()},
            **{"IONWORKS_APPLY_BIN": str(CLI), **(env or {})},
        )
        done = subprocess.run(
            ["bash", str(RUN_SH)],
            cwd=tmp_path / "repo",
            env=full_env,
            capture_output=True,
            text=True,
            check=False,
        )
        outputs = dict(
            line.split("=", 1) for line in output_file.read_text().splitlines() if "=" in line
        )
        return ActionRun(
            done.returncode, done.stdout, done.stderr, outputs, summary_file.read_text()
        )

    (tmp_path / "repo").mkdir()
    return run


def assert_no_secret(secret: str, run: ActionRun) -> None:
    for name, text in [
        ("log", run.log),
        ("summary", run.summary),
        ("outputs", json.dumps(run.outputs)),
        ("markdown", run.markdown()),
    ]:
        assert secret not in text, f"the API key leaked into the {name}"


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


def run_script(script: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run one of the workflow scripts the way a step's ``run:`` does."""
    return subprocess.run(
        ["bash", str(script)],
        env=hermetic_env(GITHUB_ACTIONS="true", **env),
        capture_output=True,
        text=True,
        check=False,
    )


def workflow_commands(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("::")]


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
        "delete 3 cell instances, 0 batches and 12 measurements. Allow: --allow-cascade, "
        "`allow_cascade: true` in ionworks-apply.yaml, or typing the spec's name at apply's "
        "prompt"
    ]
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


def test_apply_workflow_is_serialised_gated_and_leaves_deletes_to_the_config() -> None:
    workflow = load_yaml(GITHUB_DIR / "workflows" / "apply.yml")
    assert workflow["concurrency"]["cancel-in-progress"] is False
    assert workflow["concurrency"]["group"].startswith("ionworks-apply-")
    (job,) = workflow["jobs"].values()
    assert job["environment"] == "ionworks-production"
    (apply_step,) = [s for s in job["steps"] if s.get("with", {}).get("command") == "apply"]
    # --prune/--allow-cascade only ever come from the manual run's explicit opt-in inputs.
    assert apply_step["with"]["args"] == (
        "${{ inputs.prune && '--prune' || '' }} "
        "${{ inputs.allow-cascade && '--allow-cascade' || '' }}"
    )


# --- sticky PR comment and drift issue, against a stand-in gh ------------------------------------

FAKE_GH = '''\
"""A stand-in for the gh CLI: keeps comments and issues in a JSON file, logs every call."""
import json, os, sys

state_path = os.environ["FAKE_GH_STATE"]
with open(state_path) as handle:
    state = json.load(handle)
args = sys.argv[1:]
state["calls"].append(args)


def option(name):
    return args[args.index(name) + 1]


def read(path):
    with open(path) as handle:
        return handle.read()


out = None
if args[:2] == ["api", "--paginate"]:
    comments = state["comments"]
    # Two pages, as gh prints them with --paginate.
    out = json.dumps(comments[:1]) + json.dumps(comments[1:])
elif args[0] == "api" and option("--method") == "PATCH":
    comment_id = int(args[-3].rsplit("/", 1)[1])
    comment = next(c for c in state["comments"] if c["id"] == comment_id)
    comment["body"] = json.load(sys.stdin)["body"]
    out = json.dumps({"html_url": f"https://example.invalid/c/{comment_id}"})
elif args[0] == "api" and option("--method") == "POST":
    new_id = 1000 + len(state["comments"])
    body = json.load(sys.stdin)["body"]
    state["comments"].append({"id": new_id, "body": body, "user": {"type": "Bot"}})
    out = json.dumps({"html_url": f"https://example.invalid/c/{new_id}"})
elif args[:2] == ["issue", "list"]:
    label = option("--label")
    out = json.dumps([
        {"number": i["number"], "body": i["body"]}
        for i in state["issues"] if i["state"] == "open" and label in i["labels"]
    ])
elif args[:2] == ["issue", "create"]:
    number = 1 + max([i["number"] for i in state["issues"]], default=0)
    state["issues"].append({"number": number, "state": "open", "labels": [option("--label")],
                            "title": option("--title"), "body": read(option("--body-file")),
                            "comments": []})
    out = f"https://example.invalid/issues/{number}"
elif args[:2] in (["issue", "edit"], ["issue", "close"]):
    issue = next(i for i in state["issues"] if i["number"] == int(args[2]))
    if args[1] == "edit":
        issue["body"] = read(option("--body-file"))
    else:
        issue["state"] = "closed"
        issue["comments"].append(option("--comment"))
elif args[:2] == ["label", "create"]:
    pass
else:
    sys.exit(f"fake gh: unexpected call {args}")

with open(state_path, "w") as handle:
    json.dump(state, handle)
if out is not None:
    print(out)
'''


@dataclass
class FakeGitHub:
    """A directory with the stand-in gh on PATH and the state it keeps."""

    state_file: Path
    env: dict[str, str]

    def state(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.state_file.read_text())
        return loaded

    def set(self, **state: Any) -> None:
        self.state_file.write_text(json.dumps({"comments": [], "issues": [], "calls": [], **state}))

    def run(self, script: Path, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(script)],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            check=False,
        )


@pytest.fixture
def fake_github(tmp_path: Path) -> FakeGitHub:
    assert shutil.which("jq"), "the scripts need jq (present on GitHub's runners)"
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    gh = bin_dir / "gh"
    gh.write_text(f"#!{sys.executable}\n{FAKE_GH}")
    gh.chmod(0o755)
    fake = FakeGitHub(
        tmp_path / "gh-state.json",
        hermetic_env(
            PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            FAKE_GH_STATE=str(tmp_path / "gh-state.json"),
            GH_REPO="acme/cells",
        ),
    )
    fake.set()
    return fake


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
