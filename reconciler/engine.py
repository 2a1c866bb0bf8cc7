"""The engine: what each command does between parsing its flags and printing its result.

The click layer (``reconciler.cli``) parses and renders; the engine owns the rest, behind
synchronous entry points (each running its work on ``reconciler.runtime``'s event loop): the
API client's lifetime, the embedded sandbox, loading manifests directories, fetching and
planning them with their cascades counted, re-deriving saved plans, and applying.
It prints nothing: progress goes to a ``Reporter`` and confirmations to callbacks.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from reconciler import guards, normalise
from reconciler.api import ApiSettings, IonworksClient
from reconciler.applier import Applier, Reporter, count_cascade
from reconciler.errors import ConfigError, PlanFileError, UsageError
from reconciler.freshness import check_fresh
from reconciler.manifests import ManifestSet, load_manifests
from reconciler.plan import Plan
from reconciler.plan_files import load_plans
from reconciler.planner import build_plan
from reconciler.projects import project_name
from reconciler.results import ApplyResult, Outcome
from reconciler.reviewed import check_pairs, pair_by_project
from reconciler.runtime import fewer_collections, run

if TYPE_CHECKING:
    from reconciler.sandbox.server import SandboxServer

T = TypeVar("T")

#: How plans made with ``--sandbox`` name their API: this prefix and the state directory.
SANDBOX_API_PREFIX = "sandbox:"

# -- where to talk to ---------------------------------------------------------------------------


@dataclass
class Connection:
    """The global options, resolved lazily into API settings (validate and schema need none).

    With ``sandbox_dir`` set, the first use starts the local sandbox in this process on an
    ephemeral loopback port with a one-off key; ``close`` stops it.
    """

    api_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    project: str | None = None
    org: str | None = None
    concurrency: int | None = None
    timeout: float | None = None
    sandbox_dir: str | None = None
    _stack: ExitStack = field(default_factory=ExitStack, repr=False)
    _settings: ApiSettings | None = field(default=None, repr=False)

    def settings(self) -> ApiSettings:
        """ApiSettings from flags and IONWORKS_* variables, or from the embedded sandbox."""
        if self._settings is None:
            overrides: dict[str, Any] = {
                "base_url": self.api_url,
                "api_key": self.api_key,
                "token": self.token,
                "project_id": self.project,
                "organization_id": self.org,
                "concurrency": self.concurrency,
                "timeout": self.timeout,
            }
            if self.sandbox_dir is not None:
                server = self._stack.enter_context(_embedded_sandbox(Path(self.sandbox_dir)))
                overrides.update(
                    base_url=server.url,
                    api_key=server.api_key,
                    token=None,
                    project_id=self.project or server.project_id,
                )
                self._settings = ApiSettings.from_env({}, **overrides)
            else:
                self._settings = ApiSettings.from_env(**overrides)
        return self._settings

    def api_identity(self) -> str:
        """The API as plans record it: the base URL, or for the embedded sandbox its state
        directory (its URL is a new ephemeral port every run, so it cannot tell a saved plan's
        sandbox apart from another)."""
        if self.sandbox_dir is not None:
            return SANDBOX_API_PREFIX + os.path.normpath(self.sandbox_dir)
        return self.settings().base_url

    def close(self) -> None:
        self._stack.close()


@contextmanager
def _embedded_sandbox(state_dir: Path) -> Iterator[SandboxServer]:
    """The local sandbox in this process on an ephemeral loopback port, with a one-off key."""
    try:
        from reconciler.sandbox.db import DatabaseUnusable
        from reconciler.sandbox.server import SandboxServer, SandboxSettings
    except ImportError as exc:
        raise UsageError(
            "--sandbox needs the sandbox extra: pip install 'ionworks-apply[sandbox]'"
        ) from exc
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot use {state_dir} for --sandbox: {exc.strerror}") from None
    settings = SandboxSettings(db_path=state_dir / "sandbox.db", api_key=secrets.token_hex(16))
    try:
        server = SandboxServer(settings)
        server.start()
    except DatabaseUnusable as exc:
        raise UsageError(
            f"--sandbox cannot use {settings.db_path}: {exc}; move it away or pick another "
            "state directory (--sandbox DIR)"
        ) from None
    try:
        yield server
    finally:
        server.stop()


# -- planning -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One manifests directory and the project it reconciles."""

    directory: Path
    manifests: ManifestSet
    project_id: str


def load_targets(directories: Sequence[Path], default_project: str | None) -> list[Target]:
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
    name = await project_name(client, target.project_id)
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
    plan = await with_cascades(client, replace(plan, project_name=name))
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


def plan_directories(
    connection: Connection,
    directories: Sequence[Path],
    *,
    prune: bool,
    options: guards.GuardOptions,
    use_config_prune: bool = True,
) -> list[Plan]:
    """Plan every directory; ``use_config_prune=False`` ignores the config's prune (drift)."""
    targets = load_targets(directories, connection.settings().project_id)
    return _plan_targets(
        connection, targets, [prune] * len(targets), options, use_config_prune=use_config_prune
    )


def _plan_targets(
    connection: Connection,
    targets: Sequence[Target],
    prunes: Sequence[bool],
    options: guards.GuardOptions,
    *,
    use_config_prune: bool,
) -> list[Plan]:
    """Plan the targets concurrently with one client, each with its prune."""
    settings = connection.settings()
    api_url = connection.api_identity()

    async def go() -> list[Plan]:
        async with IonworksClient(settings) as client:
            plans = [
                make_plan(
                    client,
                    target,
                    api_url=api_url,
                    prune=prune,
                    options=options,
                    use_config_prune=use_config_prune,
                )
                for target, prune in zip(targets, prunes, strict=True)
            ]
            return list(await asyncio.gather(*plans))

    return run(go())


def plan_saved(
    connection: Connection, path: Path, options: guards.GuardOptions
) -> tuple[list[Plan], list[list[Outcome]]]:
    """A saved plan's changes as a fresh plan of its directories gives them, or StalePlanError,
    and the saved changes the live state already shows done.

    The file is never executed as written (see ``reconciler.reviewed``): every directory is
    planned again with the prune the plan was made with and the guard options given now.
    """
    saved = load_plans(path)
    settings = connection.settings()
    _check_api(saved, connection)
    for plan in saved:
        if not Path(plan.manifests_dir).is_dir():
            raise PlanFileError(
                f"the plan was made from the manifests in {plan.manifests_dir}, which is not "
                "here: apply a saved plan from where it was made"
            )
    targets = load_targets([Path(p.manifests_dir) for p in saved], settings.project_id)
    fresh = _plan_targets(
        connection, targets, [p.prune for p in saved], options, use_config_prune=False
    )
    return check_pairs(list(zip(saved, fresh, strict=True)))


def plan_expected(
    connection: Connection,
    path: Path,
    directories: Sequence[Path],
    *,
    prune: bool,
    options: guards.GuardOptions,
) -> tuple[list[Plan], list[list[Outcome]]]:
    """The directories' fresh plans (as ``apply DIR`` makes them) if they are exactly the
    reviewed plan in ``path`` (else StalePlanError), and the reviewed changes already done.

    The file only narrows what is written: directories, configs and prune come from this run
    (a pull request's plan artifact may come from a fork: untrusted, strictly validated)."""
    reviewed = load_plans(path)
    _check_api(reviewed, connection)
    fresh = plan_directories(connection, directories, prune=prune, options=options)
    return check_pairs(*pair_by_project(reviewed, fresh))


def _check_api(plans: Sequence[Plan], connection: Connection) -> None:
    """Refuse plans made against another API before planning anything."""
    here = connection.api_identity()
    for plan in plans:
        if plan.api_url.rstrip("/") != here.rstrip("/"):
            raise UsageError(
                f"the plan was made against {plan.api_url}, not {here}; "
                "make a new plan against this API"
            )


# -- applying -----------------------------------------------------------------------------------


def apply_plans(
    connection: Connection,
    plans: Sequence[Plan],
    *,
    reporter: Reporter,
    confirm_cascade: guards.ConfirmCascade | None,
    already: Sequence[Sequence[Outcome]],
) -> list[ApplyResult]:
    """Enforce the guards (asking ``confirm_cascade`` where it may lift one), re-read every
    target, then apply each plan; ``already`` holds each plan's changes found done before."""
    plans = [guards.enforce(plan, confirm_cascade) for plan in plans]
    settings = connection.settings()

    async def go() -> list[ApplyResult]:
        async with IonworksClient(settings) as client:
            results = []
            for plan, done in zip(plans, already, strict=True):
                fresh = await check_fresh(client, plan)
                results.append(await Applier(client, plan, reporter).run([*done, *fresh]))
            return results

    with fewer_collections():
        return run(go())


def fetch_specs(
    connection: Connection, project: str | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """The project (``project``, else the global options') and every one of its live specs."""
    settings = connection.settings()
    project_id = project or settings.project_id
    if not project_id:
        raise UsageError(
            "export needs a project: set project_id in the directory's ionworks-apply.yaml, "
            "pass --project, or set IONWORKS_PROJECT_ID"
        )

    async def go() -> list[dict[str, Any]]:
        async with IonworksClient(settings) as client:
            await project_name(client, project_id)
            return await client.list_specs(project_id, full=True)

    return project_id, run(go())
