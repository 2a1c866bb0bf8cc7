"""The live listing is checked before anything is planned from it.

Served by a fake API (``fake_ionworks``), since the sandbox cannot break the API's own rules: two
specs under one name must stop the plan (matching either would silently ignore, adopt or delete
the wrong one), and a record of another project is never matched, adopted or deleted.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fake_ionworks import FakeIonworks, serve
from helpers import CliResult, spec_doc, write_manifests

Cli = Callable[..., CliResult]
OURS = "ionworks-apply/default"


def live(
    spec_id: str, name: str, *, project: str = "p-1", marker: str | None = OURS
) -> dict[str, Any]:
    record: dict[str, Any] = {
        **spec_doc(name),
        "id": spec_id,
        "project_id": project,
        "updated_at": "2026-11-01T00:00:00+00:00",
    }
    if marker:
        record["properties"] = {"managed_by": marker}
    return record


def test_two_live_specs_with_one_name_stop_the_plan(run_cli: Cli, tmp_path: Path) -> None:
    manifests = write_manifests(tmp_path / "m", spec_doc("Twin"))
    fake = FakeIonworks([live("id-a", "Twin"), live("id-b", "Twin", marker=None)])
    with serve(fake):
        planned = run_cli("plan", str(manifests), env=fake.env())
        applied = run_cli("apply", str(manifests), "--prune", "--yes", env=fake.env())
    assert planned.code == 1, planned.output
    assert "'Twin' (ids id-a and id-b)" in planned.err
    assert applied.code == 1
    assert fake.writes == []


def test_a_duplicate_name_no_manifest_declares_also_stops_a_prune(
    run_cli: Cli, tmp_path: Path
) -> None:
    manifests = write_manifests(tmp_path / "m", spec_doc("Keep"))
    fake = FakeIonworks([live("id-k", "Keep"), live("id-a", "Old"), live("id-b", "Old")])
    with serve(fake):
        result = run_cli("apply", str(manifests), "--prune", "--yes", env=fake.env())
    assert result.code == 1, result.output
    assert "'Old' (ids id-a and id-b)" in result.err
    assert fake.writes == []


def test_a_record_of_another_project_is_never_deleted_or_matched(
    run_cli: Cli, tmp_path: Path
) -> None:
    manifests = write_manifests(tmp_path / "m", spec_doc("Keep"))
    fake = FakeIonworks(
        [
            live("id-k", "Keep"),
            live("id-s", "Stranger", project="p-2"),
            live("id-t", "Keep", project="p-2", marker=None),
        ]
    )
    with serve(fake):
        result = run_cli("apply", str(manifests), "--prune", "--yes", env=fake.env())
        planned = run_cli("plan", str(manifests), "--prune", "--format", "json", env=fake.env())
    assert result.code == 0, result.output
    assert fake.writes == []
    assert "Stranger" not in planned.out
    assert '"changes": []' in planned.out
