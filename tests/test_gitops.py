"""The GitOps path end to end: what a pull request's check says, what apply after merge writes.

A reviewed plan is what apply may write, or nothing: `plan --detailed-exitcode` says 3 when
apply would refuse; `apply --expect PLANFILE DIR` and `apply PLANFILE` apply the reviewed change
set only while a fresh plan gives exactly it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

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
