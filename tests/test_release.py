"""Releasing a spec: stop managing it without deleting it (config ``release: [glob, ...]``).

Apply removes the ownership marker and nothing else: the spec keeps its id, every other live
property, its cell instances and measurements; afterwards it is unmanaged (never pruned, not
drift). Under both PATCH semantics of the sandbox: under ``merge`` a key is removed only by an
explicit null.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import Api, CliResult, env_for, spec_doc, write_manifests
from test_api_support import BASE, client, json_response, run

from reconciler.applier import Applier
from reconciler.compare import live_digest
from reconciler.plan import Change, Plan
from reconciler.results import ApplyResult, Outcome
from reconciler.sandbox.server import SandboxServer

Cli = Callable[..., CliResult]
OURS = "ionworks-apply/default"


def api_writes(api: Api) -> list[dict[str, Any]]:
    return [w for w in api.writes() if not w["path"].startswith("/_sandbox")]


def cascade_of(api: Api, spec_id: str) -> tuple[int, int]:
    """(instances, measurements) under a spec, counted over the API."""
    instances = api.http.get(f"/cell_specifications/{spec_id}/cell_instances").json()["items"]
    measurements = sum(
        api.http.get(f"/cell_instances/{i['id']}/cell_measurements").json()["total"]
        for i in instances
    )
    return len(instances), measurements


@pytest.mark.parametrize("patch_mode", ["replace", "merge"])
def test_release_keeps_the_spec_and_its_data_and_ends_management(
    run_cli: Cli,
    sandbox_factory: Callable[..., SandboxServer],
    tmp_path: Path,
    patch_mode: str,
    request: pytest.FixtureRequest,
) -> None:
    server = sandbox_factory(patch_mode=patch_mode)
    env = env_for(server)
    api = Api(server)
    request.addfinalizer(api.close)
    manifests = write_manifests(tmp_path / "m", spec_doc("Keep"), spec_doc("Retired"))
    assert run_cli("apply", str(manifests), "--yes", env=env).code == 0
    retired = api.spec("Retired")
    api.patch(retired["id"], {"properties": {"managed_by": OURS, "lab": "B", "rig": "R7"}})
    api.seed(retired["id"], instances=3, measurements=4, batches=1)
    before = api.spec("Retired")
    config = "prune: true\nallow_cascade: true\nrelease: ['Retired*']\n"
    write_manifests(manifests, spec_doc("Keep"), config=config)

    planned = run_cli("plan", str(manifests), "--detailed-exitcode", env=env)
    assert planned.code == 2, planned.output
    assert 'release "Retired"' in planned.out
    assert "Plan: 0 to create, 0 to update, 1 to release, 0 to delete." in planned.out
    api.clear_journal()

    applied = run_cli("apply", str(manifests), "--yes", env=env)

    assert applied.code == 0, applied.output
    assert "applied  release Retired" in applied.out
    after = api.spec("Retired")
    assert after["id"] == retired["id"]
    assert after["properties"] == {"lab": "B", "rig": "R7"}, "only the marker is gone"
    without = {"properties", "updated_at"}
    assert {k: v for k, v in after.items() if k not in without} == {
        k: v for k, v in before.items() if k not in without
    }
    assert cascade_of(api, retired["id"]) == (3, 12)
    patches = [w for w in api_writes(api) if w["method"] == "PATCH"]
    assert len(patches) == (2 if patch_mode == "merge" else 1), "merge needs an explicit null"
    assert not [w for w in api_writes(api) if w["method"] == "DELETE"]

    quiet = run_cli("plan", str(manifests), "--detailed-exitcode", env=env)
    assert quiet.code == 0, quiet.output
    drift = run_cli("drift", str(manifests), "--format", "json", env=env)
    assert drift.code == 0, drift.output
    [project] = json.loads(drift.out)["projects"]
    assert "Retired" in project["unmanaged"]
    write_manifests(manifests, spec_doc("Keep"), config="prune: true\nallow_cascade: true\n")
    never_pruned = run_cli("apply", str(manifests), "--yes", env=env)
    assert never_pruned.code == 0, never_pruned.output
    assert api.spec("Retired")["id"] == retired["id"]


def test_a_pending_release_is_drift_and_shown_in_every_format(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    manifests = write_manifests(tmp_path / "m", spec_doc("Keep"), spec_doc("Old"))
    assert run_cli("apply", str(manifests), "--yes", env=sandbox_env).code == 0
    write_manifests(manifests, spec_doc("Keep"), config="release: [Old]\n")

    drift = run_cli("drift", str(manifests), env=sandbox_env)
    markdown = run_cli("plan", str(manifests), "--format", "markdown", env=sandbox_env)
    document = json.loads(run_cli("plan", str(manifests), "--format", "json", env=sandbox_env).out)

    assert drift.code == 2, drift.output
    assert "not yet released" in drift.out
    assert "<b>= release</b> <code>Old</code>" in markdown.out
    [release] = document["plans"][0]["changes"]
    assert (release["kind"], release["name"], release["body"]) == (
        "release",
        "Old",
        {"properties": {}},
    )


def test_a_spec_both_declared_and_released_stops_the_plan(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    manifests = write_manifests(tmp_path / "m", spec_doc("Old"), config="release: ['Ol*']\n")
    api.clear_journal()
    result = run_cli("apply", str(manifests), "--yes", env=sandbox_env)
    assert result.code == 1, result.output
    assert "'Old' is declared by this manifest and matched by the release glob 'Ol*'" in result.err
    assert api_writes(api) == []


def test_a_release_is_re_checked_before_it_is_written(
    run_cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, api: Api
) -> None:
    """The spec must still carry our marker and be as planned, or nothing is written."""
    manifests = write_manifests(tmp_path / "m", spec_doc("Keep"), spec_doc("Old"))
    assert run_cli("apply", str(manifests), "--yes", env=sandbox_env).code == 0
    write_manifests(manifests, spec_doc("Keep"), config="release: [Old]\n")
    plan_file = tmp_path / "plan.json"
    assert run_cli("plan", str(manifests), "--out", str(plan_file), env=sandbox_env).code == 0
    old = api.spec("Old")
    api.patch(old["id"], {"properties": {"managed_by": "ionworks-apply/another-team"}})
    api.clear_journal()

    stale = run_cli("apply", str(plan_file), env=sandbox_env)

    assert stale.code == 3, stale.output
    assert "'Old'" in stale.err
    assert api_writes(api) == []
    assert api.spec("Old")["properties"] == {"managed_by": "ionworks-apply/another-team"}


class _Silent:
    """A Reporter that reports nothing."""

    def cascade_warning(self, change: Change) -> None: ...

    def begin(self, total: int) -> None: ...

    def done(self, outcome: Outcome) -> None: ...


def test_apply_re_reads_a_release_just_before_writing_and_refuses_if_it_moved() -> None:
    """Someone took the spec over after apply's first re-read: the PATCH is never sent."""
    planned = {"id": "s1", "name": "Old", "properties": {"lab": "B", "managed_by": OURS}}
    taken = {**planned, "properties": {"lab": "B", "managed_by": "ionworks-apply/team"}}
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        if request.method != "GET":
            return json_response(500, {"message": "no write may be sent"})
        if request.url.path == "/cell_specifications":
            return json_response(200, {"items": [taken], "count": 1, "total": 1})
        return json_response(200, taken)

    change = Change(
        "release",
        "Old",
        spec_id="s1",
        body={"properties": {"lab": "B"}},
        owned=("properties",),
        live_digest=live_digest(planned),
    )
    plan = Plan("proj-1", "default", BASE, "m", False, (change,))

    async def apply() -> ApplyResult:
        api, _ = client(handler)
        async with api:
            return await Applier(api, plan, _Silent()).run()

    [outcome] = run(apply()).outcomes
    assert outcome.status == "failed"
    assert "'Old' changed since the plan was made" in outcome.message
    assert [s for s in seen if not s.startswith("GET")] == []
