"""The hooks of ``.pre-commit-hooks.yaml``, run by pre-commit itself on real ``git commit`` s.

What this proves: with the hooks' own entry, file filter and serial setting, ``git commit``
runs fmt and validate on the staged manifests only (not on other YAML in the repository),
stops a commit with a bad manifest and prints its problems as ``path:line:col``, stops an
unformatted one and formats it so that the next commit goes through, finds duplicate names
across the files committed together, and lets a good commit through.

It runs offline: each hook is copied into a ``repo: local`` config with ``language:
unsupported`` and its ``ionworks-apply`` replaced by the one installed here. What it does not
prove is that pre-commit can install ionworks-apply from a clone of this repository
(``language: python``): that needs the network.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SPEC = (
    "name: {name}\nratings:\n  capacity: {{value: 5, unit: A*h}}\n"
    "  voltage_min: {{value: 2.5, unit: V}}\n  voltage_max: {{value: 4.2, unit: V}}\n"
)


def hooks() -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = YAML(typ="safe").load(ROOT / ".pre-commit-hooks.yaml")
    return loaded


def local_config() -> str:
    """The published hooks as a local repo that runs the ionworks-apply installed here."""
    local = []
    for hook in hooks():
        program, *args = hook["entry"].split()
        assert program == "ionworks-apply"
        local.append(
            {**hook, "language": "unsupported", "entry": " ".join([str(BIN / program), *args])}
        )
    return json.dumps({"repos": [{"repo": "local", "hooks": local}]}, indent=2)


class Repo:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(root.parent / "home"),
            "PRE_COMMIT_HOME": str(root.parent / "pre-commit-cache"),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "Test",
            "GIT_AUTHOR_EMAIL": "test@example.invalid",
            "GIT_COMMITTER_NAME": "Test",
            "GIT_COMMITTER_EMAIL": "test@example.invalid",
        }

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args, cwd=self.root, env=self.env, capture_output=True, text=True, timeout=120
        )

    def write(self, name: str, text: str) -> None:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    def commit(self, *names: str) -> tuple[int, str]:
        """Stage ``names`` and commit: the exit code and what the hooks printed."""
        assert self.run("git", "add", *names).returncode == 0
        done = self.run("git", "commit", "-q", "-m", "change")
        return done.returncode, done.stdout + done.stderr

    def commits(self) -> int:
        return int(self.run("git", "rev-list", "--count", "--all").stdout.strip() or 0)


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    made = Repo(tmp_path / "repo")
    made.root.mkdir()
    assert made.run("git", "init", "-q", "-b", "main").returncode == 0
    made.write(".pre-commit-config.yaml", local_config())
    installed = made.run(str(BIN / "pre-commit"), "install")
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return made


def test_the_published_hooks() -> None:
    assert [hook["id"] for hook in hooks()] == ["ionworks-apply-validate", "ionworks-apply-fmt"]
    for hook in hooks():
        assert hook["language"] == "python"
        assert hook["files"] == r"^manifests/.*\.ya?ml$"
    assert hooks()[0]["require_serial"] is True


def test_a_commit_runs_the_hooks_on_the_staged_manifests(repo: Repo) -> None:
    repo.write("manifests/good.yaml", SPEC.format(name="Good"))
    repo.write("notes/other.yaml", "- not a spec\n")  # outside manifests/: not checked
    code, output = repo.commit(".pre-commit-config.yaml", "manifests/good.yaml", "notes/other.yaml")
    assert code == 0, output
    assert repo.commits() == 1

    repo.write("manifests/bad.yaml", "name: Bad\nratngs: {}\n")
    code, output = repo.commit("manifests/bad.yaml")
    assert code != 0
    assert "manifests/bad.yaml:2:1: unknown key 'ratngs' (did you mean 'ratings'?)" in output
    assert repo.commits() == 1

    repo.write("manifests/bad.yaml", "notes: fixed\n" + SPEC.format(name="Fixed"))
    code, output = repo.commit("manifests/bad.yaml")
    assert code != 0  # fmt changed the file: look, stage, commit again
    assert "reformatted manifests/bad.yaml" in output
    assert (repo.root / "manifests/bad.yaml").read_text().startswith("name: Fixed\n")
    code, output = repo.commit("manifests/bad.yaml")
    assert code == 0, output
    assert repo.commits() == 2


def test_names_are_checked_across_the_files_committed_together(repo: Repo) -> None:
    repo.write("manifests/x.yaml", SPEC.format(name="Same"))
    repo.write("manifests/y.yaml", SPEC.format(name="Same"))
    code, output = repo.commit(".pre-commit-config.yaml", "manifests/x.yaml", "manifests/y.yaml")
    assert code != 0
    assert (
        "manifests/y.yaml:1:1: duplicate spec name 'Same' (also defined at manifests/x.yaml:1:1)"
        in output
    )
    assert repo.commits() == 0
