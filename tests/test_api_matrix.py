"""The API-behaviour matrix (issue 15): the lifecycle under every plausible real-API behaviour.

Where the API contract says *inferred* or *unknown*, the sandbox behaves each plausible way
behind a switch; here the whole lifecycle (``matrix_support.Lifecycle``: create, a nested
update that drops keys, rename, adopt, prune with a cascade, a shared material change, drift,
then a small chaos run with faults on) runs under each switch alone and under the worst
combination, and must converge or fail exactly as the README documents. Run it alone with
``python -m pytest -m api_matrix``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from bench.chaos import ChaosConfig, ChaosScenario
from helpers import Api, CliResult, env_for, spec_doc, write_manifests
from matrix_support import (
    VIEWER_KEY,
    Cell,
    Lifecycle,
    api_requests,
    is_exact_list_read,
    live_specs,
)

from reconciler.sandbox.server import SandboxServer

pytestmark = pytest.mark.api_matrix

Cli = Callable[..., CliResult]
Factory = Callable[..., SandboxServer]

CELLS = {
    # replace, stable order, full answers, nulls clear, materials updated, ratings required
    "defaults": Cell(),
    "list-order-unstable": Cell({"list_order": "unstable", "seed": 5}),
    "write-response-metadata": Cell({"write_response": "metadata"}),
    "patch-mode-merge": Cell({"patch_mode": "merge"}),
    "nested-null-reject": Cell({"nested_null": "reject"}),
    "merge-and-nested-null-reject": Cell(
        {"patch_mode": "merge", "nested_null": "reject"}, removes_nested_keys=False
    ),
    "strict-text": Cell({"strict_text": True}),
    "material-upsert-keep-first": Cell({"material_upsert": "keep-first"}, changes_materials=False),
    "material-upsert-per-spec": Cell({"material_upsert": "per-spec"}),
    "ratings-optional": Cell({"ratings_required": False}),
    "worst": Cell(
        {"list_order": "unstable", "write_response": "metadata", "patch_mode": "merge", "seed": 9}
    ),
}


def chaos_converges(server: SandboxServer, run_cli: Cli, workdir: Path, cell: Cell) -> None:
    """Faults of every kind on a fresh project: each step converges within its runs."""
    api = Api(server)
    try:
        api.http.post("/_sandbox/reset").raise_for_status()
    finally:
        api.close()
    workdir.mkdir()
    patch_mode = str(cell.settings.get("patch_mode", "replace"))
    config = ChaosConfig(creates=5, updates=2, prunes=2, cascading=1, seed=4, patch_mode=patch_mode)

    def cli(args: Sequence[str]) -> tuple[int, str, str]:
        result = run_cli(*args)
        return result.code, result.out, result.err

    scenario = ChaosScenario(server, cli, workdir, config)
    try:
        runs = scenario.run().runs_per_step()  # asserts every invariant after every run
    finally:
        scenario.close()
    assert all(1 <= count <= config.max_runs for count in runs.values()), runs


@pytest.mark.parametrize("cell", CELLS.values(), ids=list(CELLS))
def test_the_lifecycle_converges_or_fails_as_documented(
    cell: Cell, sandbox_factory: Factory, run_cli: Cli, tmp_path: Path
) -> None:
    server = sandbox_factory(**cell.settings)
    life = Lifecycle(server, run_cli, tmp_path, cell)
    try:
        life.create()
        life.project()
        life.nested_update()
        life.rename()
        life.adopt()
        life.prune()
        life.material_change()
        life.drift()
    finally:
        life.close()
    chaos_converges(server, run_cli, tmp_path / "chaos", cell)


def test_a_read_only_credential_stops_at_the_first_write(
    sandbox_factory: Factory, run_cli: Cli, tmp_path: Path
) -> None:
    server = sandbox_factory(viewer_key=VIEWER_KEY)
    life = Lifecycle(server, run_cli, tmp_path, Cell(may_write=False))
    try:
        life.create()
        life.read_only()
    finally:
        life.close()


def test_hundreds_of_specs_are_exact_under_an_unstable_list_order(
    sandbox_factory: Factory, run_cli: Cli, tmp_path: Path
) -> None:
    server = sandbox_factory(list_order="unstable", seed=3)
    env, api = env_for(server), Api(server)
    names = [f"Cell {i:03d}" for i in range(320)]
    manifests = write_manifests(tmp_path / "m", *(spec_doc(name) for name in names))
    try:
        naive: list[str] = []
        assert run_cli("apply", str(manifests), "--yes", env=env).code == 0
        for offset in range(0, 400, 100):  # the switch bites: a walk without order is wrong
            page = api.http.get(
                "/cell_specifications",
                params={"project_id": server.project_id, "limit": 100, "offset": offset},
            )
            naive.extend(row["id"] for row in page.json()["items"])
        assert len(set(naive)) < len(names)

        kept = names[:-8]
        write_manifests(manifests, *(spec_doc(name, capacity=4.0) for name in kept))
        api.clear_journal()
        result = run_cli("apply", str(manifests), "--yes", "--prune", env=env)
        assert result.code == 0, result.output
        assert "320 applied" in result.out, result.out
        lists = [r for r in api_requests(api) if r["method"] == "GET" and "offset=" in r["query"]]
        assert lists and all(is_exact_list_read(r) for r in lists), lists
        plan = run_cli("plan", str(manifests), "--detailed-exitcode", "--prune", env=env)
        assert plan.code == 0 and "No changes. 312 specs up to date." in plan.out, plan.output
        assert run_cli("drift", str(manifests), env=env).code == 0
        live = live_specs(api)
        assert sorted(live) == kept
        assert {spec["ratings"]["capacity"]["value"] for spec in live.values()} == {4.0}
    finally:
        api.close()
