"""Two applies at once on one project: no duplicate, no lost or mixed update, clean exits.

Each apply is its own process running the real entry point (the CLI uses ``asyncio.run``). Both
import everything first and wait at a gate, so they start within a millisecond or so; the
sandbox adds latency to every request so their reads and writes interleave. The journal shows
that they did: both runs read the live state before either wrote.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import WRITE_METHODS, Api, CliResult, env_for, spec_doc, write_manifests

from reconciler.api import ApiSettings, IonworksClient
from reconciler.api.settings import Credentials
from reconciler.applier import Applier
from reconciler.engine import load_targets, make_plan
from reconciler.freshness import check_fresh
from reconciler.guards import GuardOptions
from reconciler.plan import Change
from reconciler.results import ApplyResult, Outcome
from reconciler.sandbox.server import SandboxServer

Cli = Callable[..., Any]
Factory = Callable[..., SandboxServer]

ROOT = Path(__file__).parent.parent
LATENCY_MS = 50
START_TIMEOUT = 30.0

# Warm up (imports, unit registry, schema) by validating the manifests, say so, then wait for
# the gate: the runs start together and reach the API within a few milliseconds of each other.
GATED_MAIN = """
import sys, time
from pathlib import Path
import reconciler.applier, reconciler.cli, reconciler.planner, reconciler.render
ready, gate, manifests, args = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4:]
try:
    reconciler.cli.main(["validate", manifests])
except SystemExit as exc:
    assert exc.code == 0, exc.code
ready.touch()
while not gate.exists():
    time.sleep(0.0005)
reconciler.cli.main(args)
"""


@pytest.fixture
def server(sandbox_factory: Factory) -> SandboxServer:
    return sandbox_factory(latency_ms=LATENCY_MS)


@pytest.fixture
def api(server: SandboxServer) -> Iterator[Api]:
    client = Api(server)
    yield client
    client.close()


@pytest.fixture
def env(server: SandboxServer) -> dict[str, str]:
    return env_for(server)


def race(tmp_path: Path, env: dict[str, str], *directories: Path) -> list[CliResult]:
    """``apply DIRECTORY --yes`` for each directory, each its own process, all at one moment."""
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("IONWORKS_")}
    child_env.update(env)
    gate = tmp_path / "gate"
    gate.unlink(missing_ok=True)
    readies = [tmp_path / f"ready-{i}" for i in range(len(directories))]
    processes = []
    for ready, directory in zip(readies, directories, strict=True):
        ready.unlink(missing_ok=True)
        command = [str(ready), str(gate), str(directory), "apply", str(directory), "--yes"]
        processes.append(
            subprocess.Popen(
                [sys.executable, "-c", GATED_MAIN, *command],
                cwd=ROOT,
                env=child_env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    deadline = time.monotonic() + START_TIMEOUT
    while not all(r.exists() for r in readies) and time.monotonic() < deadline:
        time.sleep(0.005)
    gate.touch()
    runs = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        runs.append(CliResult(process.returncode, out, err))
    return runs


def check_clean_exit(run: CliResult) -> None:
    """Converged (0), refused as stale (3), or failed with a reason (1); never a crash."""
    assert run.code in (0, 1, 3), run.output
    assert "Traceback" not in run.output and "Internal error" not in run.output, run.output
    if run.code == 1:
        assert "Error: " in run.err, run.output
    if run.code == 3:
        assert "the plan is stale" in run.err, run.output


def both_read_before_any_write(api: Api) -> bool:
    """True when the journal shows each run's plan and freshness reads before the first write."""
    journal = api.journal()
    first_write = next(i for i, r in enumerate(journal) if r["method"] in WRITE_METHODS)
    lists = [
        r
        for r in journal[:first_write]
        if r["method"] == "GET"
        and r["path"] == "/cell_specifications"
        and "full=true" in r["query"]
    ]
    return len(lists) >= 4


def names(api: Api) -> list[str]:
    return sorted(s["name"] for s in api.specs())


def test_same_manifests_applied_twice_at_once_create_each_spec_once(
    run_cli: Cli, env: dict[str, str], api: Api, tmp_path: Path
) -> None:
    docs = [spec_doc(f"Cell {i:02d}", capacity=5 + i / 10) for i in range(12)]
    manifests = write_manifests(tmp_path / "m", *docs)
    api.clear_journal()

    runs = race(tmp_path, env, manifests, manifests)

    for run in runs:
        check_clean_exit(run)
    assert both_read_before_any_write(api), "the two applies did not overlap"
    assert names(api) == [d["name"] for d in docs], "each spec exactly once"
    assert run_cli("plan", str(manifests), "--detailed-exitcode", env=env).code == 0
    rerun = run_cli("apply", str(manifests), "--yes", env=env)
    assert rerun.code == 0, rerun.output
    assert "No changes." in rerun.out


SHARED_BASE = {"capacity": 5.0, "notes": "base"}
EDITS = {
    "same field": ({"capacity": 4.0}, {"capacity": 3.0}),
    "different fields": ({"capacity": 4.0}, {"notes": "edited by B"}),
    "both fields": ({"capacity": 4.0, "notes": "edited by A"}, {"capacity": 3.0}),
}


def shared_docs(edit: dict[str, Any]) -> list[dict[str, Any]]:
    fields = {**SHARED_BASE, **edit}
    return [
        spec_doc("Shared", capacity=fields["capacity"], notes=fields["notes"]),
        spec_doc("Bystander", notes="untouched"),
    ]


@pytest.mark.parametrize("edits", list(EDITS), ids=list(EDITS))
def test_different_edits_to_one_spec_at_once_end_in_one_whole_desired_state(
    run_cli: Cli, env: dict[str, str], api: Api, tmp_path: Path, edits: str
) -> None:
    edit_a, edit_b = EDITS[edits]
    base = write_manifests(tmp_path / "base", *shared_docs({}))
    assert run_cli("apply", str(base), "--yes", env=env).code == 0
    ids = {s["name"]: s["id"] for s in api.specs()}
    dir_a = write_manifests(tmp_path / "a", *shared_docs(edit_a))
    dir_b = write_manifests(tmp_path / "b", *shared_docs(edit_b))
    api.clear_journal()

    runs = race(tmp_path, env, dir_a, dir_b)

    for run in runs:
        check_clean_exit(run)
    assert both_read_before_any_write(api), "the two applies did not overlap"
    assert {s["name"]: s["id"] for s in api.specs()} == ids, "no spec deleted or re-created"
    in_sync = [
        directory
        for directory in (dir_a, dir_b)
        if run_cli("plan", str(directory), "--detailed-exitcode", env=env).code == 0
    ]
    shared = api.spec("Shared")
    state = (shared["ratings"]["capacity"]["value"], shared["notes"])
    assert len(in_sync) == 1, f"live {state} is neither desired state entirely; runs: {runs}"
    [winner] = in_sync
    loser = dir_b if winner == dir_a else dir_a
    rerun = run_cli("apply", str(loser), "--yes", env=env)
    assert rerun.code == 0, rerun.output
    assert run_cli("plan", str(loser), "--detailed-exitcode", env=env).code == 0
    assert api.spec("Bystander")["notes"] == "untouched"


# -- the same races, made deterministic: another writer acts at a chosen moment -----------------


class Reporter:
    """Progress events are not under test here."""

    def cascade_warning(self, change: Change) -> None:
        """No deletes here."""

    def begin(self, total: int) -> None:
        """Nothing to show."""

    def done(self, outcome: Outcome) -> None:
        """Nothing to show."""


class OtherWriterFirst(httpx.AsyncBaseTransport):
    """The network, with another writer's request landing just before our first PATCH."""

    def __init__(self, other_write: Callable[[], object]) -> None:
        self.other_write: Callable[[], object] | None = other_write
        self.network = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH" and self.other_write is not None:
            self.other_write()
            self.other_write = None
        return await self.network.handle_async_request(request)

    async def aclose(self) -> None:
        await self.network.aclose()


def apply_library(
    server: SandboxServer,
    manifests: Path,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    after_check: Callable[[], object] = lambda: None,
) -> ApplyResult:
    """Plan, check freshness, then apply through the library, as the CLI does."""
    settings = ApiSettings(
        base_url=server.url,
        credentials=Credentials(api_key=server.api_key),
        project_id=server.project_id,
    )

    async def go() -> ApplyResult:
        async with IonworksClient(settings, transport=transport) as client:
            [target] = load_targets([manifests], server.project_id)
            plan = await make_plan(
                client, target, api_url=server.url, prune=False, options=GuardOptions()
            )
            already = await check_fresh(client, plan)
            after_check()
            return await Applier(client, plan, Reporter()).run(already)

    return asyncio.run(go())


def applied_base_and_my_edit(
    run_cli: Cli, env: dict[str, str], api: Api, tmp_path: Path
) -> tuple[Path, str]:
    """The shared specs applied as they start, and manifests that raise Shared's capacity."""
    base = write_manifests(tmp_path / "base", *shared_docs({}))
    assert run_cli("apply", str(base), "--yes", env=env).code == 0
    mine = write_manifests(tmp_path / "mine", *shared_docs({"capacity": 4.0}))
    return mine, api.spec("Shared")["id"]


def test_a_field_changed_meanwhile_is_restored_so_the_spec_is_one_whole_state(
    server: SandboxServer, run_cli: Cli, env: dict[str, str], api: Api, tmp_path: Path
) -> None:
    mine, shared_id = applied_base_and_my_edit(run_cli, env, api, tmp_path)

    other = OtherWriterFirst(lambda: api.patch(shared_id, {"notes": "edited meanwhile"}))
    result = apply_library(server, mine, transport=other)

    [outcome] = result.outcomes
    assert outcome.status == "applied", outcome
    assert outcome.restored == ("notes",)
    assert "restored notes, changed by someone else meanwhile" in outcome.message
    assert result.ok
    shared = api.spec("Shared")
    assert (shared["ratings"]["capacity"]["value"], shared["notes"]) == (4.0, "base")
    assert run_cli("plan", str(mine), "--detailed-exitcode", env=env).code == 0


def test_a_spec_changed_after_the_freshness_check_is_not_written(
    server: SandboxServer, run_cli: Cli, env: dict[str, str], api: Api, tmp_path: Path
) -> None:
    mine, shared_id = applied_base_and_my_edit(run_cli, env, api, tmp_path)
    api.clear_journal()

    result = apply_library(
        server, mine, after_check=lambda: api.patch(shared_id, {"notes": "edited meanwhile"})
    )

    [outcome] = result.outcomes
    assert outcome.status == "failed"
    assert "changed since the plan was made (someone else wrote to it meanwhile)" in (
        outcome.message
    )
    assert [w["method"] for w in api.writes()] == ["PATCH"], "only the other writer's PATCH"
    shared = api.spec("Shared")
    assert (shared["ratings"]["capacity"]["value"], shared["notes"]) == (5.0, "edited meanwhile")


def test_the_loser_of_a_two_owner_race_is_not_told_a_rerun_converges(
    run_cli: Cli,
    env: dict[str, str],
    api: Api,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another owner's directory creates the same name between our plan and our POST."""
    manifests = write_manifests(tmp_path / "m", spec_doc("Contested"))
    original = IonworksClient.create_spec

    async def theirs_first(self: IonworksClient, body: Mapping[str, Any]) -> dict[str, Any]:
        api.create({**spec_doc("Contested"), "properties": {"managed_by": "ionworks-apply/other"}})
        return await original(self, body)

    monkeypatch.setattr(IonworksClient, "create_spec", theirs_first)
    result = run_cli("apply", str(manifests), "--yes", env=env)
    assert result.code == 1, result.output
    assert "ionworks-apply/other" in result.output
    assert "will not change that" in result.output
    assert "it converges" not in result.output
    assert api.spec("Contested")["properties"]["managed_by"] == "ionworks-apply/other"
