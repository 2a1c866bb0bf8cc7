"""Applies under faults converge, never duplicate or lose a spec, and exit codes tell the truth.

The scenario and its invariants live in ``tests/bench/chaos.py`` (which also runs the full size as
a script); here a small instance runs with fixed seeds, plus deterministic failure paths.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from bench.chaos import ALL_FAULTS, STEPS, ChaosConfig, ChaosScenario, all_specs
from helpers import Api, spec_doc, write_manifests

from reconciler.api import ApiSettings, IonworksClient
from reconciler.api.settings import Credentials
from reconciler.applier import Applier, Reporter
from reconciler.engine import load_targets, make_plan
from reconciler.freshness import check_fresh
from reconciler.guards import GuardOptions
from reconciler.plan import Change
from reconciler.results import ApplyResult, Outcome
from reconciler.sandbox.server import SandboxServer

pytestmark = pytest.mark.chaos

Cli = Callable[..., Any]
Factory = Callable[..., SandboxServer]


def adapt(run_cli: Cli) -> Callable[[Sequence[str]], tuple[int, str, str]]:
    def run(args: Sequence[str]) -> tuple[int, str, str]:
        result = run_cli(*args)
        return result.code, result.out, result.err

    return run


@pytest.mark.parametrize(("seed", "patch_mode"), [(1, "replace"), (2, "merge"), (3, "replace")])
def test_creates_updates_and_prunes_converge_under_every_fault_kind(
    sandbox_factory: Factory, run_cli: Cli, tmp_path: Path, seed: int, patch_mode: str
) -> None:
    config = ChaosConfig(
        creates=40, updates=16, prunes=5, cascading=2, seed=seed, patch_mode=patch_mode
    )
    server = sandbox_factory(stall_seconds=config.stall_seconds, patch_mode=patch_mode)
    scenario = ChaosScenario(server, adapt(run_cli), tmp_path, config)
    try:
        report = scenario.run()  # asserts the invariants after every run
    finally:
        scenario.close()
    runs = report.runs_per_step()
    assert set(runs) == set(STEPS)
    assert all(1 <= count <= config.max_runs for count in runs.values()), runs
    assert set(report.faults()) == set(ALL_FAULTS), "every fault kind must have been injected"
    assert all(r.code == 0 for r in report.runs if r.run == runs[r.step]), report.runs


class FaultsAfterFirst:
    """A reporter that breaks the API (every request 503) once the first change is done."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.outcomes: list[Outcome] = []

    def cascade_warning(self, change: Change) -> None:
        """No deletes here."""

    def begin(self, total: int) -> None:
        """Nothing to set up."""

    def done(self, outcome: Outcome) -> None:
        if not self.outcomes:
            self.api.set_faults(fault_rate=1.0, faults=["503"])
        self.outcomes.append(outcome)


def apply_with(server: SandboxServer, manifests: Path, reporter: Reporter) -> ApplyResult:
    """Plan and apply one directory through the library, one request at a time, no waiting."""
    settings = ApiSettings(
        base_url=server.url,
        credentials=Credentials(api_key=server.api_key),
        project_id=server.project_id,
        concurrency=1,
        max_retries=1,
        backoff_base=0.0,
    )

    async def go() -> ApplyResult:
        async with IonworksClient(settings) as client:
            [target] = load_targets([manifests], server.project_id)
            plan = await make_plan(
                client, target, api_url=server.url, prune=False, options=GuardOptions()
            )
            already = await check_fresh(client, plan)
            return await Applier(client, plan, reporter).run(already)

    return asyncio.run(go())


def test_api_failing_mid_apply_is_reported_per_change_and_a_rerun_converges(
    sandbox: SandboxServer,
    sandbox_env: dict[str, str],
    api: Api,
    run_cli: Cli,
    tmp_path: Path,
) -> None:
    names = [f"Cell {i}" for i in range(5)]
    manifests = write_manifests(tmp_path / "m", *(spec_doc(n) for n in names))
    reporter = FaultsAfterFirst(api)

    result = apply_with(sandbox, manifests, reporter)
    api.set_faults(fault_rate=0.0)

    statuses = {o.change.name: o.status for o in result.outcomes}
    applied = sorted(n for n, s in statuses.items() if s == "applied")
    failed = [o for o in result.outcomes if o.status == "failed"]
    assert applied and failed, statuses
    assert all("503" in o.message for o in failed), [o.message for o in failed]
    assert not result.ok
    [unverified] = result.not_converged
    assert "could not be verified" in unverified and "503" in unverified
    assert sorted(s["name"] for s in all_specs(api)) == applied

    rerun = run_cli("apply", str(manifests), "--yes", env=sandbox_env)
    assert rerun.code == 0, rerun.output
    assert f"{len(failed)} applied, 0 already done, 0 failed" in rerun.out
    live = [s["name"] for s in all_specs(api)]
    assert sorted(live) == names, "every spec exactly once"


class ColleagueEditsAfterWrite:
    """A reporter through which someone else edits each spec just after apply wrote it."""

    def __init__(self, api: Api) -> None:
        self.api = api

    def cascade_warning(self, change: Change) -> None:
        """No deletes here."""

    def begin(self, total: int) -> None:
        """Nothing to set up."""

    def done(self, outcome: Outcome) -> None:
        if outcome.spec_id and outcome.change.name == "Cell B":
            self.api.patch(outcome.spec_id, {"notes": "edited by a colleague"})


def test_verification_reports_a_spec_changed_after_our_write(
    sandbox: SandboxServer, api: Api, tmp_path: Path
) -> None:
    docs = [spec_doc(name, notes="ours") for name in ("Cell A", "Cell B", "Cell C")]
    manifests = write_manifests(tmp_path / "m", *docs)

    result = apply_with(sandbox, manifests, ColleagueEditsAfterWrite(api))

    assert [o.status for o in result.outcomes] == ["applied"] * 3
    assert not result.ok
    [problem] = result.not_converged
    assert "'Cell B' was changed by someone else after this apply wrote it" in problem
    assert "(notes differ)" in problem


def test_api_refusing_everything_fails_cleanly_before_any_write(
    sandbox: SandboxServer, sandbox_env: dict[str, str], api: Api, run_cli: Cli, tmp_path: Path
) -> None:
    manifests = write_manifests(tmp_path / "m", spec_doc("Cell A"))
    api.set_faults(fault_rate=1.0, faults=["429"])  # Retry-After: 0, so retries are quick
    result = run_cli("apply", str(manifests), "--yes", env=sandbox_env)
    api.set_faults(fault_rate=0.0)
    assert result.code == 1, result.output
    assert result.err.startswith("Error: reading project"), result.err
    assert "rate limited by the Ionworks API (429) after 6 attempts" in result.err
    assert "Traceback" not in result.output
    assert [r["method"] for r in api.journal()] == ["GET"] * 6, "GETs retried, nothing written"
    assert all_specs(api) == []
