"""apply's interactive prompts, driven through a real pseudo-terminal."""

from __future__ import annotations

from pathlib import Path

from helpers import Api, env_for, spec_doc, write_manifests
from pty_terminal import Terminal

from reconciler.sandbox.server import SandboxServer


def test_prompt_yes_applies_and_anything_else_cancels(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    manifests = write_manifests(tmp_path / "m", spec_doc("Cell A"))
    api = Api(sandbox)
    try:
        term = Terminal(["apply", str(manifests)], env_for(sandbox))
        term.expect("Only 'yes' is accepted")
        term.type("y")
        assert term.finish() == 1
        assert "Apply cancelled; nothing was written." in term.seen
        assert api.specs() == []

        term = Terminal(["apply", str(manifests)], env_for(sandbox))
        term.expect("Only 'yes' is accepted")
        term.type("yes")
        assert term.finish() == 0, term.seen
        assert [s["name"] for s in api.specs()] == ["Cell A"]
    finally:
        api.close()


def test_typing_the_spec_name_allows_a_cascade_delete(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    manifests = write_manifests(tmp_path / "m", spec_doc("Keep"), spec_doc("Gone"))
    api = Api(sandbox)
    try:
        env = env_for(sandbox)
        assert Terminal(["apply", str(manifests), "--yes"], env).finish() == 0
        api.seed(api.spec("Gone")["id"], instances=2, measurements=3)
        write_manifests(manifests, spec_doc("Keep"))

        term = Terminal(["apply", str(manifests), "--prune", "--yes"], env)
        term.expect("Type the spec's name (Gone)")
        term.type("gone")
        assert term.finish() == 3
        assert "blocked" in term.seen
        assert sorted(s["name"] for s in api.specs()) == ["Gone", "Keep"]

        term = Terminal(["apply", str(manifests), "--prune", "--yes"], env)
        term.expect("Type the spec's name (Gone)")
        term.type("Gone")
        assert term.finish() == 0, term.seen
        assert 'DELETE "Gone": also deletes 2 cell instances, 0 batches and 6 measurements' in (
            term.seen
        )
        assert [s["name"] for s in api.specs()] == ["Keep"]
    finally:
        api.close()
