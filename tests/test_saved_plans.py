"""A saved plan is input, not authority: apply re-derives it and refuses any edit.

Each test edits a plan file the way a careless or hostile hand could, then applies it: the whole
plan is refused with exit 3 (or 1 for a file that is not a plan at all) and the sandbox's
request journal shows zero writes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import Api, CliResult, spec_doc, write_manifests

Cli = Callable[..., CliResult]
Edit = Callable[[dict[str, Any]], None]


def api_writes(api: Api) -> list[dict[str, Any]]:
    return [w for w in api.writes() if not w["path"].startswith("/_sandbox")]


def save_plan(run_cli: Cli, env: dict[str, str], manifests: Path, out: Path, *args: str) -> None:
    result = run_cli("plan", str(manifests), "--out", str(out), *args, env=env)
    assert result.code == 0, result.output


def edit_plan(path: Path, edit: Edit) -> None:
    document = json.loads(path.read_text())
    edit(document)
    path.write_text(json.dumps(document))


def change_named(document: dict[str, Any], name: str) -> dict[str, Any]:
    [plan] = document["plans"]
    [change] = [c for c in plan["changes"] if c["name"] == name]
    return change  # type: ignore[no-any-return]


@pytest.fixture
def owned_two(run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path) -> Path:
    """'Keep' and 'Gone' applied and owned; the manifests now declare 'Keep' and a new 'Fresh'
    (so a plan always holds a create, and zero writes proves the whole plan was refused)."""
    manifests = write_manifests(tmp_path / "m", spec_doc("Keep"), spec_doc("Gone"))
    assert run_cli("apply", str(manifests), "--yes", env=sandbox_env).code == 0
    write_manifests(manifests, spec_doc("Keep"), spec_doc("Fresh"))
    return manifests


def test_an_orphan_edited_into_a_delete_is_refused(
    run_cli: Cli, sandbox_env: dict[str, str], owned_two: Path, tmp_path: Path, api: Api
) -> None:
    plan_file = tmp_path / "p.json"
    save_plan(run_cli, sandbox_env, owned_two, plan_file)  # no --prune: 'Gone' is an orphan
    edit_plan(plan_file, lambda d: change_named(d, "Gone").update(kind="delete"))
    api.clear_journal()
    result = run_cli("apply", str(plan_file), "--yes", env=sandbox_env)
    assert result.code == 3, result.output
    assert "Gone" in result.err
    assert api_writes(api) == []
    assert "Gone" in {s["name"] for s in api.specs()}


def test_an_adopt_edited_into_a_delete_is_refused(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    theirs = api.create({**spec_doc("Theirs"), "properties": {"lab_notes": "not yours"}})
    api.seed(theirs["id"], instances=2, measurements=3)
    manifests = write_manifests(tmp_path / "m", spec_doc("Theirs"), spec_doc("Fresh"))
    plan_file = tmp_path / "p.json"
    save_plan(run_cli, sandbox_env, manifests, plan_file)

    def to_delete(document: dict[str, Any]) -> None:
        change = change_named(document, "Theirs")
        change.update(kind="delete", body={}, cascade=None)
        document["plans"][0]["prune"] = True

    edit_plan(plan_file, to_delete)
    api.clear_journal()
    result = run_cli("apply", str(plan_file), "--allow-cascade", "--yes", env=sandbox_env)
    assert result.code == 3, result.output
    assert api_writes(api) == []
    assert "Theirs" in {s["name"] for s in api.specs()}


def test_a_removed_block_is_re_evaluated(
    run_cli: Cli, sandbox_env: dict[str, str], owned_two: Path, tmp_path: Path, api: Api
) -> None:
    api.seed(api.spec("Gone")["id"], instances=3, measurements=4)
    plan_file = tmp_path / "p.json"
    save_plan(run_cli, sandbox_env, owned_two, plan_file, "--prune")
    edit_plan(plan_file, lambda d: change_named(d, "Gone").update(blocked_by=[]))
    api.clear_journal()
    result = run_cli("apply", str(plan_file), "--yes", env=sandbox_env)
    assert result.code == 3, result.output
    assert "--allow-cascade" in result.err
    assert api_writes(api) == []


def test_a_null_cascade_is_counted_again_not_read_as_zero(
    run_cli: Cli, sandbox_env: dict[str, str], owned_two: Path, tmp_path: Path, api: Api
) -> None:
    api.seed(api.spec("Gone")["id"], instances=3, measurements=4)
    plan_file = tmp_path / "p.json"
    save_plan(run_cli, sandbox_env, owned_two, plan_file, "--prune")
    edit_plan(plan_file, lambda d: change_named(d, "Gone").update(blocked_by=[], cascade=None))
    api.clear_journal()
    result = run_cli("apply", str(plan_file), "--yes", env=sandbox_env)
    assert result.code == 3, result.output
    assert "3 cell instances" in result.err
    assert api_writes(api) == []


def test_an_edited_body_is_refused(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    manifests = write_manifests(tmp_path / "m", spec_doc("New"))
    plan_file = tmp_path / "p.json"
    save_plan(run_cli, sandbox_env, manifests, plan_file)
    edit_plan(
        plan_file,
        lambda d: change_named(d, "New")["body"]["ratings"]["capacity"].update(value=500.0),
    )
    api.clear_journal()
    result = run_cli("apply", str(plan_file), "--yes", env=sandbox_env)
    assert result.code == 3, result.output
    assert "New" in result.err
    assert api_writes(api) == []


def test_an_edited_project_inside_a_body_is_refused(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    other = api.http.post("/_sandbox/projects", json={"name": "Other"}).json()["id"]
    manifests = write_manifests(tmp_path / "m", spec_doc("New"))
    plan_file = tmp_path / "p.json"
    save_plan(run_cli, sandbox_env, manifests, plan_file)
    edit_plan(plan_file, lambda d: change_named(d, "New")["body"].update(project_id=other))
    api.clear_journal()
    result = run_cli("apply", str(plan_file), "--yes", env=sandbox_env)
    assert result.code == 3, result.output
    assert api_writes(api) == []
    listed = api.http.get("/cell_specifications", params={"project_id": other, "limit": 100}).json()
    assert listed["items"] == []


def test_a_plan_applied_twice_says_already_applied(
    run_cli: Cli, sandbox_env: dict[str, str], owned_two: Path, tmp_path: Path, api: Api
) -> None:
    write_manifests(owned_two, spec_doc("Keep", capacity=4.0), spec_doc("New"))
    api.seed(api.spec("Gone")["id"], instances=1, measurements=1)
    plan_file = tmp_path / "p.json"
    save_plan(run_cli, sandbox_env, owned_two, plan_file, "--prune")
    first = run_cli("apply", str(plan_file), "--allow-cascade", "--yes", env=sandbox_env)
    assert first.code == 0, first.output
    api.clear_journal()
    again = run_cli("apply", str(plan_file), "--allow-cascade", "--yes", env=sandbox_env)
    assert again.code == 0, again.output
    assert "already applied" in again.output
    assert "changed since the plan" not in again.output
    assert api_writes(api) == []


def _setting(key: str, value: Any) -> Edit:
    return lambda d: d["plans"][0].update({key: value})


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        (_setting("api_url", None), "api_url"),
        (_setting("project_id", None), "project_id"),
        (_setting("changes", {"kind": "create"}), "changes"),
        (lambda d: d["plans"][0]["changes"][0].update(name=7), "name"),
        (lambda d: d["plans"][0]["changes"][0].update(cascade={"instances": "3"}), "cascade"),
        (lambda d: d.update(plans=[]), "no plans"),
        (lambda d: d.update(plans="everything"), "plans"),
    ],
    ids=[
        "null-api-url",
        "null-project",
        "changes-dict",
        "int-name",
        "str-count",
        "no-plans",
        "str-plans",
    ],
)
def test_a_malformed_plan_file_is_one_clear_error(
    run_cli: Cli,
    sandbox_env: dict[str, str],
    tmp_path: Path,
    api: Api,
    edit: Edit,
    said: str,
) -> None:
    manifests = write_manifests(tmp_path / "m", spec_doc("New"))
    plan_file = tmp_path / "p.json"
    save_plan(run_cli, sandbox_env, manifests, plan_file)
    edit_plan(plan_file, edit)
    api.clear_journal()
    result = run_cli("apply", str(plan_file), "--yes", env=sandbox_env)
    assert result.code == 1, result.output
    [error] = [line for line in result.err.splitlines() if line.startswith("Error:")]
    assert said in error
    assert "Traceback" not in result.output
    assert api_writes(api) == []


def test_a_deeply_nested_plan_file_is_one_clear_error(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    manifests = write_manifests(tmp_path / "m", spec_doc("New"))
    plan_file = tmp_path / "p.json"
    save_plan(run_cli, sandbox_env, manifests, plan_file)
    text = plan_file.read_text().rstrip()
    deep = "[" * 100_000 + "]" * 100_000
    plan_file.write_text(text[: text.rindex("}")] + f', "deep": {deep}}}')
    api.clear_journal()
    result = run_cli("apply", str(plan_file), "--yes", env=sandbox_env)
    assert result.code == 1, result.output
    assert result.err.startswith("Error:"), result.err
    assert "Traceback" not in result.output
    assert api_writes(api) == []
