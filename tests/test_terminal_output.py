"""Names and paths are other people's text: printed, they never move the cursor, start a new
line, or speak GitHub workflow commands."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from helpers import Api, spec_doc, write_manifests

from reconciler.cli.terminal import annotation
from reconciler.errors import Location, Problem

Cli = Callable[..., Any]
CLEAR_SCREEN = "\x1b[2J"


def test_hostile_file_names_cannot_inject_lines_or_workflow_commands(
    run_cli: Cli, tmp_path: Path
) -> None:
    """A fork's pull request chooses its file names; validate runs on it in CI."""
    manifests = tmp_path / "m"
    manifests.mkdir()
    hostile = f"x\n::warning title=pwned::owned\n~~~~\n<!-- {CLEAR_SCREEN}.yaml"
    (manifests / hostile).write_text("name: Cell\nratngs: {}\n")
    result = run_cli("validate", str(manifests), env={"GITHUB_ACTIONS": "true"})
    assert result.code == 1
    lines = result.output.splitlines()
    assert not [line for line in lines if line.startswith(("::warning", "~~~~", "<!--"))]
    assert "\x1b" not in result.output
    [command] = [line for line in lines if line.startswith("::error")]
    assert command.count("::") == 2, "the file property may not end the command early"


def test_annotations_escape_data_and_properties_as_github_documents() -> None:
    problem = Problem(Location("a:b,c%d.yaml", 3, 4), "50% off\r\nnext")
    assert annotation(problem) == (
        "::error file=a%3Ab%2Cc%25d.yaml,line=3,col=4::50%25 off\\r\\nnext"
    )


def test_apply_never_prints_a_spec_name_raw(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    evil = f"Evil{CLEAR_SCREEN}\n::error::owned"
    api.create({**spec_doc(evil), "properties": {"managed_by": "ionworks-apply/default"}})
    api.seed(api.spec(evil)["id"], instances=1, measurements=1)
    manifests = write_manifests(tmp_path / "m", spec_doc("Keep"))
    refused = run_cli("apply", str(manifests), "--prune", "--yes", env=sandbox_env)
    applied = run_cli(
        "apply", str(manifests), "--prune", "--allow-cascade", "--yes", env=sandbox_env
    )
    assert refused.code == 3 and applied.code == 0, applied.output
    for result in (refused, applied):
        assert "\x1b" not in result.output
        assert not [line for line in result.output.splitlines() if line.startswith("::")]


def test_a_credential_a_server_sends_back_is_never_printed_or_saved(
    run_cli: Cli, tmp_path: Path
) -> None:
    """The server echoes the key inside live values: plan, drift and files stay clean."""
    from fake_ionworks import KEY, FakeIonworks, serve

    record = {
        **spec_doc(f"Cell {KEY}"),
        "id": "id-1",
        "project_id": "p-1",
        "notes": f"token={KEY}",
        "properties": {"managed_by": "ionworks-apply/default"},
    }
    manifests = write_manifests(tmp_path / "m", spec_doc("Other"))
    plan_file = tmp_path / "plan.json"
    with serve(FakeIonworks([record])) as fake:
        outputs = [
            run_cli("plan", str(manifests), "--format", fmt, "--prune", env=fake.env())
            for fmt in ("text", "markdown", "json")
        ]
        outputs.append(run_cli("plan", str(manifests), "--out", str(plan_file), env=fake.env()))
        outputs.append(run_cli("drift", str(manifests), env=fake.env()))
    for result in outputs:
        assert result.code in (0, 2), result.output
        assert KEY not in result.output
        assert "***" in result.output
    assert KEY not in plan_file.read_text()
