"""Deletes are re-checked just before each DELETE, not only before the first write.

A large apply writes for minutes before it reaches its deletes. In that time a colleague may add
cells and measurements under the spec to be deleted, remove its ownership marker, or rename it.
Each test makes such a change while apply is writing its creates (a watcher thread acts on the
first create it sees in the sandbox's request journal) and proves from the journal and the
database that the spec and its data survived, while the other changes landed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import Api, CliResult, env_for, on_first_create, spec_doc, write_manifests

from reconciler.sandbox.server import SandboxServer

Cli = Callable[..., CliResult]
CREATES = 12


@pytest.fixture
def slow_sandbox(sandbox_factory: Callable[..., SandboxServer]) -> SandboxServer:
    """Creates take a while, so the watcher acts while apply is still writing them."""
    return sandbox_factory(latency_ms=150)


def _setup(
    run_cli: Cli, server: SandboxServer, tmp_path: Path
) -> tuple[Path, dict[str, str], Api, dict[str, Any]]:
    env = env_for(server)
    api = Api(server)
    manifests = write_manifests(tmp_path / "m", spec_doc("Keep"), spec_doc("Victim"))
    assert run_cli("apply", str(manifests), "--yes", env=env).code == 0
    victim = api.spec("Victim")
    new = [spec_doc(f"New {i:02d}") for i in range(CREATES)]
    write_manifests(manifests, spec_doc("Keep"), *new)
    api.clear_journal()
    return manifests, env, api, victim


def _deletes(api: Api) -> list[dict[str, Any]]:
    return [r for r in api.journal() if r["method"] == "DELETE"]


def test_a_cascade_that_grows_during_apply_blocks_that_delete_only(
    run_cli: Cli, slow_sandbox: SandboxServer, tmp_path: Path
) -> None:
    manifests, env, api, victim = _setup(run_cli, slow_sandbox, tmp_path)
    try:
        with on_first_create(
            slow_sandbox, lambda other: other.seed(victim["id"], instances=5, measurements=40)
        ):
            result = run_cli("apply", str(manifests), "--prune", "--yes", env=env)
        assert result.code == 3, result.output
        assert _deletes(api) == [], "no DELETE may be sent for a spec whose cascade grew"
        assert "Victim" in result.output and "5 cell instances" in result.output
        assert "blocked" in result.output
        names = {s["name"] for s in api.specs()}
        assert "Victim" in names
        assert {f"New {i:02d}" for i in range(CREATES)} <= names, "other changes still land"
        [stored] = [s for s in api.specs() if s["name"] == "Victim"]
        assert len(stored["instance_ids"]) == 5
    finally:
        api.close()


def test_a_marker_removed_during_apply_blocks_the_delete(
    run_cli: Cli, slow_sandbox: SandboxServer, tmp_path: Path
) -> None:
    manifests, env, api, victim = _setup(run_cli, slow_sandbox, tmp_path)

    def disown(other: Api) -> None:
        other.patch(victim["id"], {"properties": {"lab_notes": "ours now"}})

    try:
        with on_first_create(slow_sandbox, disown):
            result = run_cli("apply", str(manifests), "--prune", "--yes", env=env)
        assert result.code == 3, result.output
        assert _deletes(api) == []
        assert "ownership marker" in result.output
        assert "Victim" in {s["name"] for s in api.specs()}
    finally:
        api.close()


def test_a_spec_renamed_during_apply_is_not_deleted(
    run_cli: Cli, slow_sandbox: SandboxServer, tmp_path: Path
) -> None:
    manifests, env, api, victim = _setup(run_cli, slow_sandbox, tmp_path)
    try:
        with on_first_create(
            slow_sandbox, lambda other: other.patch(victim["id"], {"name": "Victim v2"})
        ):
            result = run_cli("apply", str(manifests), "--prune", "--yes", env=env)
        assert result.code == 3, result.output
        assert _deletes(api) == []
        assert "Victim v2" in {s["name"] for s in api.specs()}
    finally:
        api.close()


def test_an_unchanged_delete_target_is_still_deleted(
    run_cli: Cli, slow_sandbox: SandboxServer, tmp_path: Path
) -> None:
    """The re-check must not refuse a delete whose spec did not move."""
    manifests, env, api, victim = _setup(run_cli, slow_sandbox, tmp_path)
    try:
        result = run_cli("apply", str(manifests), "--prune", "--yes", env=env)
        assert result.code == 0, result.output
        assert [d["path"] for d in _deletes(api)] == [f"/cell_specifications/{victim['id']}"]
    finally:
        api.close()
