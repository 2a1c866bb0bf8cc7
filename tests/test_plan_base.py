"""``plan --base REF``: git is the state. A real repository, the sandbox over real HTTP, and the
CLI's real entry point: a colleague's edit in Ionworks and an edit in this change never look
alike, and a base that cannot be read never fails a plan."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import Api, spec_doc, write_manifests
from ruamel.yaml import YAML
from workflow_support import GITHUB_DIR, action_runner, credentials

from reconciler.sandbox.server import SandboxServer

Cli = Callable[..., Any]


class Repo:
    """A git repository holding a manifests directory, committed as a pull request would."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.manifests = root / "manifests"
        self.env = {
            **os.environ,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "Test",
            "GIT_AUTHOR_EMAIL": "test@example.invalid",
            "GIT_COMMITTER_NAME": "Test",
            "GIT_COMMITTER_EMAIL": "test@example.invalid",
        }
        root.mkdir(exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=self.root, env=self.env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def commit(self, *docs: dict[str, Any], config: str | None = None) -> str:
        """Write ``docs`` as the manifests directory, commit everything, return the commit."""
        write_manifests(self.manifests, *docs, config=config)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", "change")
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "repo")


def plan_json(run_cli: Cli, env: dict[str, str], *args: str) -> dict[str, Any]:
    result = run_cli("plan", *args, "--format", "json", env=env)
    assert result.code == 0, result.output
    [plan] = json.loads(result.out)["plans"]
    return dict(plan)


def reasons(plan: dict[str, Any]) -> dict[str, Any]:
    return {
        c["name"]: (c["reason"], {d["path"]: d["reason"] for d in c["details"]})
        if c["details"]
        else c["reason"]
        for c in plan["changes"]
    }


def test_a_colleagues_edit_in_ionworks_is_not_this_change(
    run_cli: Cli, sandbox_env: dict[str, str], repo: Repo, api: Api
) -> None:
    """main is applied; a colleague edits notes in the app; the PR raises a capacity."""
    base = repo.commit(spec_doc("Cell A"), spec_doc("Cell B", notes="orig"), spec_doc("Cell C"))
    result = run_cli("apply", str(repo.manifests), "--yes", env=sandbox_env)
    assert result.code == 0, result.output
    api.patch(api.spec("Cell B")["id"], {"notes": "edited in the app"})
    repo.commit(spec_doc("Cell A", 5.2), spec_doc("Cell B", notes="orig"), spec_doc("Cell C"))

    plan = plan_json(run_cli, sandbox_env, str(repo.manifests), "--base", "HEAD~1")

    assert plan["base"] == base
    assert reasons(plan) == {
        "Cell A": ("this_change", {"ratings.capacity": "this_change"}),
        "Cell B": ("outside", {"notes": "outside"}),
    }
    text = run_cli("plan", str(repo.manifests), "--base", "HEAD~1", env=sandbox_env)
    assert f"base:      manifests at {base[:12]}" in text.out
    assert text.out.index('update "Cell A"') < text.out.index("Changed outside ionworks-apply")
    assert text.out.index("Changed outside ionworks-apply") < text.out.index('update "Cell B"')
    markdown = run_cli(
        "plan", str(repo.manifests), "--base", base, "--format", "markdown", env=sandbox_env
    )
    assert "> **1 change reverts edits made outside ionworks-apply.**" in markdown.out
    assert "> - `Cell B`: `notes`" in markdown.out


def test_a_saved_plan_keeps_its_marks_and_applies_as_reviewed(
    run_cli: Cli, sandbox_env: dict[str, str], repo: Repo, api: Api, tmp_path: Path
) -> None:
    repo.commit(spec_doc("Cell", notes="orig"))
    assert run_cli("apply", str(repo.manifests), "--yes", env=sandbox_env).code == 0
    api.patch(api.spec("Cell")["id"], {"notes": "edited in the app"})
    saved = tmp_path / "plan.json"
    made = run_cli(
        "plan", str(repo.manifests), "--base", "HEAD", "--out", str(saved), env=sandbox_env
    )
    assert made.code == 0, made.output

    shown = run_cli("show", str(saved), env=sandbox_env)
    assert "Changed outside ionworks-apply" in shown.out
    assert "[reverts an edit made outside ionworks-apply]" in shown.out
    applied = run_cli("apply", str(saved), env=sandbox_env)
    assert applied.code == 0, applied.output
    assert api.spec("Cell")["notes"] == "orig"


def test_relative_directories_from_the_repository_root(
    run_cli: Cli, sandbox_env: dict[str, str], repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the PR workflow runs it: ``plan manifests --base <sha>`` from the checkout."""
    base = repo.commit(spec_doc("Old"))
    repo.commit(spec_doc("Old"), spec_doc("New"))
    monkeypatch.chdir(repo.root)
    plan = plan_json(run_cli, sandbox_env, "manifests", "--base", base)
    assert reasons(plan) == {"New": "this_change", "Old": "outside"}  # Old: never applied


def test_a_directory_new_in_this_change_is_all_this_change(
    run_cli: Cli, sandbox_env: dict[str, str], repo: Repo
) -> None:
    (repo.root / "README").write_text("no manifests yet\n")
    repo.git("add", "README")
    repo.git("commit", "-q", "-m", "start")
    repo.commit(spec_doc("New"))
    plan = plan_json(run_cli, sandbox_env, str(repo.manifests), "--base", "HEAD~1")
    assert reasons(plan) == {"New": "this_change"}


@pytest.mark.parametrize("ref", ["-oops", "--output={out}", "", "main two", "HEAD\nx", "a" * 300])
def test_a_ref_that_could_be_read_as_an_option_is_refused_before_anything(
    run_cli: Cli, sandbox_env: dict[str, str], repo: Repo, api: Api, tmp_path: Path, ref: str
) -> None:
    repo.commit(spec_doc("Cell"))
    out = tmp_path / "written-by-git"
    api.clear_journal()
    result = run_cli("plan", str(repo.manifests), f"--base={ref.format(out=out)}", env=sandbox_env)
    assert result.code == 1
    [line] = result.err.splitlines()
    assert line.startswith("Error: --base ") and "is not a git revision" in line
    assert api.journal() == [], "refused before the API is asked anything"
    assert not out.exists()


@pytest.mark.parametrize(
    ("setup", "why"),
    [
        ("unknown", "no commit nope-not-a-branch in this repository (is it fetched?)"),
        ("not a repository", "not a git repository"),
        ("broken at the base", "the manifests there have 1 problem(s); first: "),
    ],
)
def test_a_base_that_cannot_be_read_is_one_note_and_marks_nothing(
    run_cli: Cli, sandbox_env: dict[str, str], repo: Repo, tmp_path: Path, setup: str, why: str
) -> None:
    directory = repo.manifests
    ref = "nope-not-a-branch" if setup == "unknown" else "HEAD~1"
    if setup == "not a repository":
        directory = write_manifests(tmp_path / "elsewhere", spec_doc("Cell"))
    else:
        repo.commit(spec_doc("Cell"))
        if setup == "broken at the base":
            (repo.manifests / "broken.yaml").write_text("name: [unclosed\n")
            repo.git("add", "-A")
            repo.git("commit", "-q", "-m", "broken")
            repo.commit(spec_doc("Cell"))
            ref = "HEAD~1"
    result = run_cli("plan", str(directory), "--base", ref, "--format", "json", env=sandbox_env)
    assert result.code == 0, result.output
    [note] = result.err.splitlines()
    assert note.startswith(f"Note: --base {ref}: cannot read {directory} at {ref} (")
    assert why in note
    assert note.endswith(
        "changes are not marked as from this change or as made outside ionworks-apply"
    )
    [plan] = json.loads(result.out)["plans"]
    assert plan["base"] is None
    assert all(c["reason"] is None for c in plan["changes"])


def test_the_pull_request_workflow_plans_against_its_base_commit() -> None:
    workflow = YAML(typ="safe").load((GITHUB_DIR / "workflows" / "plan.yml").read_text())
    steps = workflow["jobs"]["plan"]["steps"]
    [checkout] = [s for s in steps if str(s.get("uses", "")).startswith("actions/checkout@")]
    assert checkout["with"]["fetch-depth"] == 0, "the base commit must be in the checkout"
    [plan] = [s for s in steps if s.get("with", {}).get("command") == "plan"]
    assert plan["with"]["args"] == "--base HEAD^1", "the merge commit's first parent is the base"


def test_the_action_comment_shows_the_revert_of_an_outside_edit(
    sandbox: SandboxServer, tmp_path: Path, api: Api
) -> None:
    """run.sh as the runner runs it, in a checkout whose base is applied and then edited."""
    run_action = action_runner(tmp_path)
    repo = Repo(tmp_path / "repo")
    base = repo.commit(spec_doc("Cell", notes="orig"), spec_doc("Other"))
    env = credentials(sandbox)
    assert run_action("apply", env=env).code == 0
    api.patch(api.spec("Cell")["id"], {"notes": "edited in the app"})
    repo.commit(spec_doc("Cell", notes="orig"), spec_doc("Other", 6.0))

    run = run_action("plan", env=env, args=f"--base {base}")

    assert run.outputs["exit-code"] == "2", run.log
    comment = run.markdown()
    assert "> [!IMPORTANT]" in comment
    assert "> - `Cell`: `notes`" in comment
    assert "#### Changed outside ionworks-apply: apply reverts it" in comment
    [plan] = json.loads(Path(run.outputs["plan-file"]).read_text())["plans"]
    assert plan["base"] == base
