"""What the workflow tests share: run.sh run the way the runner runs it, the workflow scripts
run the way a step's ``run:`` does, and a stand-in ``gh`` that keeps its state in a JSON file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.sandbox.server import SandboxServer

ROOT = Path(__file__).resolve().parent.parent
GITHUB_DIR = ROOT / ".github"
RUN_SH = GITHUB_DIR / "actions" / "ionworks-apply" / "run.sh"
STICKY_COMMENT_SH = GITHUB_DIR / "scripts" / "sticky-comment.sh"
DRIFT_ISSUE_SH = GITHUB_DIR / "scripts" / "drift-issue.sh"
PLAN_VERDICT_SH = GITHUB_DIR / "scripts" / "plan-verdict.sh"
REVIEWED_PLAN_SH = GITHUB_DIR / "scripts" / "reviewed-plan.sh"
CLI = Path(sys.executable).parent / "ionworks-apply"

PLAN_MARKER = "<!-- ionworks-apply-plan -->"
DRIFT_MARKER = "<!-- ionworks-apply-drift -->"


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


def action_runner(tmp_path: Path) -> Callable[..., ActionRun]:
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


FAKE_GH = '''\
"""A stand-in for the gh CLI: keeps comments, issues, pull requests, workflow runs and their
artifacts in a JSON file, logs every call."""
import json, os, shutil, sys

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
if args[0] == "api" and "/commits/" in args[1] and args[1].endswith("/pulls"):
    sha = args[1].split("/commits/")[1].split("/")[0]
    out = json.dumps(state["pulls"].get(sha, []))
elif args[:2] == ["run", "list"]:
    wanted = {key: option("--" + key) for key in ("workflow", "commit", "event", "status")}
    out = json.dumps([
        {"databaseId": r["databaseId"], "createdAt": r["createdAt"]}
        for r in state["runs"] if all(r[key] == value for key, value in wanted.items())
    ])
elif args[:2] == ["run", "download"]:
    source = state["artifacts"].get(args[2], {}).get(option("--name"))
    if source is None:
        sys.exit("no valid artifacts found to download")
    shutil.copytree(source, option("--dir"), dirs_exist_ok=True)
elif args[:2] == ["api", "--paginate"]:
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
        empty: dict[str, Any] = {"comments": [], "issues": [], "calls": []}
        empty.update(pulls={}, runs=[], artifacts={})
        self.state_file.write_text(json.dumps({**empty, **state}))

    def run(self, script: Path, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(script)],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            check=False,
        )


def fake_github_in(tmp_path: Path) -> FakeGitHub:
    """The stand-in gh on a PATH of its own, with empty state."""
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
