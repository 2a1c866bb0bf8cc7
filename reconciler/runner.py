"""Glue between stages: resolve a manifests directory to a project, fetch live state, plan it.

``plan``, ``apply`` and ``drift`` all start here, so they see the same live state the same way.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from reconciler import guards, normalise
from reconciler.api import IonworksClient
from reconciler.applier import count_cascade
from reconciler.errors import ConfigError
from reconciler.manifests import ManifestSet, load_manifests
from reconciler.plan import Plan
from reconciler.planner import build_plan


class _RareCollections:
    """Run the garbage collector rarely while manifests and live specs are turned into trees,
    and while apply writes.

    Loading and planning 10,000 specs builds millions of small, acyclic dicts that all survive,
    so the collector keeps re-scanning a growing heap for nothing: 15-20 % of a large plan (mypy
    raises its threshold for the same reason); apply's answers and records are the same. The
    threshold comes back when the last user leaves; plans of several directories overlap.
    """

    #: First-generation threshold meanwhile (CPython's default is 700).
    THRESHOLD = 100_000

    def __init__(self) -> None:
        self.users = 0
        self.saved = gc.get_threshold()

    @contextmanager
    def __call__(self) -> Iterator[None]:
        if self.users == 0:
            self.saved = gc.get_threshold()
            gc.set_threshold(max(self.THRESHOLD, self.saved[0]), *self.saved[1:])
        self.users += 1
        try:
            yield
        finally:
            self.users -= 1
            if self.users == 0:
                gc.set_threshold(*self.saved)


fewer_collections = _RareCollections()


@dataclass(frozen=True)
class Target:
    """One manifests directory and the project it reconciles."""

    directory: Path
    manifests: ManifestSet
    project_id: str


def load_targets(directories: list[Path], default_project: str | None) -> list[Target]:
    """Load every directory; each names its project in its config or takes the default."""
    targets: list[Target] = []
    seen: dict[tuple[str, str], Path] = {}
    for directory in directories:
        with fewer_collections():
            manifests = load_manifests(directory)
        project_id = manifests.config.project_id or default_project
        if not project_id:
            raise ConfigError(
                f"no project for {directory}: set `project_id` in its ionworks-apply.yaml, "
                "pass --project, or set IONWORKS_PROJECT_ID"
            )
        key = (project_id, manifests.config.owner)
        if key in seen:
            raise ConfigError(
                f"{seen[key]} and {directory} both manage project {project_id} as owner "
                f"'{key[1]}'; each would prune the other's specs. Give them different owners."
            )
        seen[key] = directory
        targets.append(Target(directory, manifests, project_id))
    return targets


async def make_plan(
    client: IonworksClient,
    target: Target,
    *,
    api_url: str,
    prune: bool,
    options: guards.GuardOptions,
    use_config_prune: bool = True,
) -> Plan:
    """Fetch the project's specs, diff them against the manifests, count cascades, run guards."""
    config = target.manifests.config
    with fewer_collections():
        live = await client.list_specs(target.project_id, full=True, view=normalise.live_view)
        plan = build_plan(
            target.manifests,
            live,
            project_id=target.project_id,
            api_url=api_url,
            manifests_dir=str(target.directory),
            prune=prune or (use_config_prune and config.prune),
        )
    plan = await with_cascades(client, plan)
    return guards.evaluate(plan, config, options, desired_count=len(target.manifests.specs))


async def with_cascades(client: IonworksClient, plan: Plan) -> Plan:
    """Count what each planned delete would take with it (only deletes pay for this)."""
    deletes = [c for c in plan.changes if c.kind == "delete" and c.spec_id]
    counts = await asyncio.gather(*(count_cascade(client, c.spec_id or "") for c in deletes))
    by_id = {change.spec_id: count for change, count in zip(deletes, counts, strict=True)}
    changes = tuple(
        replace(c, cascade=by_id[c.spec_id]) if c.spec_id in by_id else c for c in plan.changes
    )
    return replace(plan, changes=changes)
