"""The click layer: parse options, call the library, print, map errors to exit codes.

Known errors (``IonworksApplyError``) print ``Error: ...`` lines and exit with their class's
code; anything else is a bug and exits 4 with a hint; Ctrl-C exits 130.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from reconciler import __version__
from reconciler.errors import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    ApplyFailedError,
    IonworksApplyError,
    ManifestError,
    UsageError,
)

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from reconciler.api import ApiSettings
    from reconciler.applier import ApplyResult, Outcome
    from reconciler.errors import Problem
    from reconciler.guards import GuardOptions
    from reconciler.plan import Change, Plan
    from reconciler.sandbox.server import SandboxServer

T = TypeVar("T")

DEFAULT_DIR = "manifests"
DEFAULT_SANDBOX_DIR = ".ionworks-sandbox"


@dataclass
class Context:
    """Global options, resolved lazily: validate and schema need no credentials."""

    api_url: str | None
    api_key: str | None = field(repr=False)
    token: str | None = field(repr=False)
    project: str | None
    org: str | None
    concurrency: int | None
    timeout: float | None
    sandbox_dir: str | None
    color: bool
    stack: ExitStack = field(default_factory=ExitStack)
    _settings: ApiSettings | None = None

    def settings(self) -> ApiSettings:
        """ApiSettings from flags and IONWORKS_* variables, or from the embedded sandbox."""
        if self._settings is None:
            from reconciler.api import ApiSettings

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
                server = self.stack.enter_context(_embedded_sandbox(Path(self.sandbox_dir)))
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


@contextmanager
def _embedded_sandbox(state_dir: Path) -> Iterator[SandboxServer]:
    """The local sandbox in this process on an ephemeral loopback port, with a one-off key."""
    try:
        from reconciler.sandbox.server import SandboxServer, SandboxSettings
    except ImportError as exc:
        raise UsageError(
            "--sandbox needs the sandbox extra: pip install 'ionworks-apply[sandbox]'"
        ) from exc
    state_dir.mkdir(parents=True, exist_ok=True)
    settings = SandboxSettings(db_path=state_dir / "sandbox.db", api_key=secrets.token_hex(16))
    server = SandboxServer(settings)
    server.start()
    try:
        yield server
    finally:
        server.stop()


pass_context = click.make_pass_decorator(Context)


def _directories(values: Sequence[str]) -> list[Path]:
    paths = [Path(v) for v in values] or [Path(DEFAULT_DIR)]
    for path in paths:
        if not path.is_dir():
            raise UsageError(f"{path} is not a directory of manifests")
    return paths


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="ionworks-apply")
@click.option("--api-url", envvar="IONWORKS_API_URL", help="Ionworks API base URL.")
@click.option("--api-key", help="API key, sent as X-API-Key [env: IONWORKS_API_KEY].")
@click.option("--token", help="Bearer token; wins over a key [env: IONWORKS_API_TOKEN].")
@click.option("--project", envvar="IONWORKS_PROJECT_ID", help="Default project id.")
@click.option("--org", envvar="IONWORKS_ORGANIZATION_ID", help="Organization id header.")
@click.option(
    "--concurrency", type=click.IntRange(1, 64), help="Requests in flight at once [default: 8]."
)
@click.option(
    "--timeout",
    type=click.FloatRange(0.1, 600),
    help="Seconds one API request attempt may take, sending to last byte [default: 10].",
)
@click.option(
    "--sandbox",
    "sandbox_dir",
    default=None,
    metavar="[STATE_DIR]",
    help=f"Run against an embedded local sandbox (state in {DEFAULT_SANDBOX_DIR}/).",
)
@click.option("--color/--no-color", default=None, help="Colour output [default: on a terminal].")
@click.option("-v", "--verbose", count=True, help="More logging (-vv for every request).")
@click.pass_context
def cli(
    ctx: click.Context,
    api_url: str | None,
    api_key: str | None,
    token: str | None,
    project: str | None,
    org: str | None,
    concurrency: int | None,
    timeout: float | None,
    sandbox_dir: str | None,
    color: bool | None,
    verbose: int,
) -> None:
    """Plan and apply Ionworks cell specifications from YAML manifests."""
    logging.basicConfig(
        level=logging.WARNING - 10 * min(verbose, 2),
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    state = Context(
        api_url=api_url,
        api_key=api_key,
        token=token,
        project=project,
        org=org,
        concurrency=concurrency,
        timeout=timeout,
        sandbox_dir=sandbox_dir,
        color=sys.stdout.isatty() if color is None else color,
    )
    ctx.obj = state
    ctx.call_on_close(state.stack.close)


@cli.command()
@click.argument("directories", nargs=-1, type=click.Path(file_okay=False))
def validate(directories: tuple[str, ...]) -> None:
    """Check manifests offline: one line per problem, exit 1 if any."""
    from reconciler.manifests import load_manifests

    count = 0
    problems = []
    for directory in _directories(directories):
        try:
            manifest_set = load_manifests(directory)
        except ManifestError as exc:
            problems.extend(exc.problems)
            continue
        for warning in manifest_set.warnings:
            click.echo(str(warning), err=True)
        count += len(manifest_set.specs)
    if problems:
        raise ManifestError(problems)
    click.echo(f"{count} cell specification(s) valid.")


@cli.command()
def schema() -> None:
    """Print the JSON Schema of a cell-spec manifest (for editors)."""
    from reconciler.schema import json_schema

    click.echo(json.dumps(json_schema(), indent=2, sort_keys=True))


FORMAT_OPTION = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)


@cli.command()
@click.argument("directories", nargs=-1, type=click.Path(file_okay=False))
@click.option("--prune", is_flag=True, help="Plan deletes of owned specs with no manifest.")
@FORMAT_OPTION
@click.option("--out", "out", type=click.Path(dir_okay=False), help="Save the plan for apply.")
@click.option(
    "--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes, 0 when none."
)
@pass_context
def plan(
    state: Context,
    directories: tuple[str, ...],
    prune: bool,
    fmt: str,
    out: str | None,
    detailed_exitcode: bool,
) -> None:
    """Show what apply would change, without changing anything."""
    from reconciler.guards import GuardOptions
    from reconciler.plan import save_plans
    from reconciler.render import render

    plans = _make_plans(state, directories, prune=prune, options=GuardOptions())
    click.echo(render(plans, fmt, color=state.color).rstrip("\n"))
    if out:
        save_plans(plans, Path(out))
        click.echo(f"Plan saved to {out}; apply it with: ionworks-apply apply {out}", err=True)
    if detailed_exitcode and any(p.has_changes for p in plans):
        sys.exit(EXIT_CHANGES)


def _make_plans(
    state: Context,
    directories: Sequence[str],
    *,
    prune: bool,
    options: GuardOptions,
    config_prune: bool = True,
) -> list[Plan]:
    """Plan every directory; ``config_prune=False`` ignores the config's prune (drift)."""
    from reconciler.api import IonworksClient
    from reconciler.runner import load_targets, make_plan

    paths = _directories(directories)
    settings = state.settings()
    targets = load_targets(paths, settings.project_id)

    async def go() -> list[Plan]:
        async with IonworksClient(settings) as client:
            plans = [
                make_plan(
                    client,
                    target,
                    api_url=settings.base_url,
                    prune=prune,
                    options=options,
                    use_config_prune=config_prune,
                )
                for target in targets
            ]
            return list(await asyncio.gather(*plans))

    return _run(go())


class _LineReporter:
    """One line per change: readable in CI logs."""

    def __init__(self, color: bool) -> None:
        self.color = color

    def cascade_warning(self, change: Change) -> None:
        cascade = change.cascade.describe() if change.cascade else "an uncounted cascade"
        text = f'DELETE "{change.name}": also deletes {cascade}'
        click.echo(click.style(text, fg="red", bold=True) if self.color else text)

    def begin(self, total: int) -> None:
        click.echo(f"Applying {total} change(s)...")

    def done(self, outcome: Outcome) -> None:
        text = f"  {outcome.status:8} {outcome.change.kind:7} {outcome.change.name}"
        if outcome.status == "failed" or outcome.restored:
            text += f": {outcome.message}"
        click.echo(text)


class _BarReporter(_LineReporter):
    """A progress bar on a terminal; failures still get their own line."""

    def __init__(self, color: bool) -> None:
        super().__init__(color)
        self.bar: Any = None

    def begin(self, total: int) -> None:
        self.bar = click.progressbar(length=total, label="Applying", file=sys.stderr)
        self.bar.__enter__()

    def done(self, outcome: Outcome) -> None:
        if outcome.status == "failed" or outcome.restored:
            click.echo(
                f"\n  {outcome.status} {outcome.change.kind} {outcome.change.name}: "
                f"{outcome.message}",
                err=True,
            )
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


@cli.command()
@click.argument("targets", nargs=-1, type=click.Path())
@click.option("--yes", "--auto-approve", "yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--prune", is_flag=True, help="Delete owned specs that have no manifest.")
@click.option("--allow-cascade", is_flag=True, help="Allow deletes that take instances along.")
@click.option("--allow-empty", is_flag=True, help="Allow pruning when no manifest is left.")
@click.option("--report", "report", type=click.Path(dir_okay=False), help="Write a JSON report.")
@pass_context
def apply(
    state: Context,
    targets: tuple[str, ...],
    yes: bool,
    prune: bool,
    allow_cascade: bool,
    allow_empty: bool,
    report: str | None,
) -> None:
    """Create, update and (with --prune) delete specs so Ionworks matches the manifests."""
    from reconciler.applier import ApplyResult
    from reconciler.guards import GuardOptions, lift
    from reconciler.plan import load_plans
    from reconciler.render import render

    options = GuardOptions(allow_cascade=allow_cascade, allow_empty=allow_empty)
    if len(targets) == 1 and Path(targets[0]).is_file():
        if prune:
            raise UsageError("--prune does not apply to a saved plan: make a new plan with --prune")
        plans = [lift(p, options) for p in load_plans(Path(targets[0]))]
        _check_plan_target(state, plans)
    else:
        plans = _make_plans(state, targets, prune=prune, options=options)
    click.echo(render(plans, "text", color=state.color).rstrip("\n"))
    if not any(p.has_changes for p in plans):
        if report:
            _write_report(Path(report), [ApplyResult(p) for p in plans])
        return
    interactive = sys.stdin.isatty()
    if not yes:
        if not interactive:
            raise UsageError(
                "refusing to apply without confirmation: there is no terminal to ask on. "
                "Review the plan above and pass --yes to apply it."
            )
        answer = click.prompt("Apply these changes? Only 'yes' is accepted", default="")
        if answer.strip() != "yes":
            click.echo("Apply cancelled; nothing was written.")
            sys.exit(EXIT_ERROR)
    confirm = _confirm_cascade if interactive and not allow_cascade else None
    results = _apply_plans(state, plans, confirm)
    if report:
        _write_report(Path(report), results)
    failed = [r for r in results if not r.ok]
    for result in results:
        counts = result.counts()
        click.echo(
            f"Apply complete: {counts['applied']} applied, {counts['already']} already done, "
            f"{counts['failed']} failed, {counts['skipped']} skipped."
        )
        for problem in result.not_converged:
            click.echo(f"  not converged: {problem}", err=True)
    if failed:
        raise ApplyFailedError(
            "some changes did not apply or could not be verified (see above). "
            "Fix the cause and run apply again: it converges."
        )


def _confirm_cascade(change: Change) -> bool:
    cascade = change.cascade.describe() if change.cascade else "an uncounted cascade"
    click.echo(click.style(f'DELETE "{change.name}" would also delete {cascade}.', fg="red"))
    typed: str = click.prompt(f"Type the spec's name ({change.name}) to delete it", default="")
    return typed == change.name


def _check_plan_target(state: Context, plans: Sequence[Plan]) -> None:
    settings = state.settings()
    for saved in plans:
        if saved.api_url.rstrip("/") != settings.base_url.rstrip("/"):
            raise UsageError(
                f"the plan was made against {saved.api_url}, not {settings.base_url}; "
                "make a new plan against this API"
            )


def _apply_plans(
    state: Context, plans: Sequence[Plan], confirm: Callable[[Change], bool] | None
) -> list[ApplyResult]:
    from reconciler.api import IonworksClient
    from reconciler.applier import Applier, check_fresh, check_guards
    from reconciler.runner import fewer_collections

    for saved in plans:
        check_guards(saved, confirm)
    settings = state.settings()
    reporter: _LineReporter = (
        _BarReporter(state.color) if sys.stderr.isatty() else _LineReporter(state.color)
    )

    async def go() -> list[ApplyResult]:
        async with IonworksClient(settings) as client:
            already = [await check_fresh(client, p) for p in plans]
            results = []
            for saved, done in zip(plans, already, strict=True):
                results.append(await Applier(client, saved, reporter).run(done))
            return results

    try:
        with fewer_collections():
            results = _run(go())
    finally:
        if isinstance(reporter, _BarReporter):
            reporter.close()
    return results


def _write_report(path: Path, results: Sequence[ApplyResult]) -> None:
    document = {"tool_version": __version__, "results": [r.data for r in results]}
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")


@cli.command()
@click.argument("directories", nargs=-1, type=click.Path(file_okay=False))
@FORMAT_OPTION
@pass_context
def drift(state: Context, directories: tuple[str, ...], fmt: str) -> None:
    """Audit drift read-only: exit 0 in sync, 2 drift found, 1 error."""
    from reconciler.drift import Drift
    from reconciler.guards import GuardOptions
    from reconciler.render.drift import render

    plans = _make_plans(state, directories, prune=False, options=GuardOptions(), config_prune=False)
    drifts = [Drift(p) for p in plans]
    click.echo(render(drifts, fmt))
    if not all(d.in_sync for d in drifts):
        sys.exit(EXIT_CHANGES)


@cli.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=DEFAULT_DIR,
    show_default=True,
    help="Directory to write manifests into.",
)
@click.option("--name", "pattern", default="*", show_default=True, help="Only names matching.")
@click.option("--owner", default="default", show_default=True, help="Whose managed specs.")
@click.option("--include-unmanaged", is_flag=True, help="Also specs without an ownership marker.")
@click.option("--force", is_flag=True, help="Overwrite existing files.")
@pass_context
def export(
    state: Context, out_dir: str, pattern: str, owner: str, include_unmanaged: bool, force: bool
) -> None:
    """Write live specs as manifests (one file each), to adopt ionworks-apply on a project."""
    from reconciler.api import IonworksClient
    from reconciler.config import ProjectConfig
    from reconciler.export import select, write_export

    settings = state.settings()
    project_id = settings.project_id
    if not project_id:
        raise UsageError("export needs a project: pass --project or set IONWORKS_PROJECT_ID")
    try:
        marker = ProjectConfig(owner=owner).marker
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise UsageError(
            f"--owner {owner!r} is not a valid owner: use 1-64 letters, digits, '.', '_' or '-'"
        ) from exc

    async def fetch() -> list[dict[str, Any]]:
        async with IonworksClient(settings) as client:
            return await client.list_specs(project_id, full=True)

    records = select(
        _run(fetch()), marker=marker, pattern=pattern, include_unmanaged=include_unmanaged
    )
    files = write_export(records, Path(out_dir), force=force)
    for exported in files:
        click.echo(f"wrote {exported.path}  ({exported.name})")
    click.echo(f"Exported {len(files)} cell specification(s) to {out_dir}.")


def _attach_sandbox_commands() -> None:
    try:
        from reconciler.sandbox.cli import sandbox
    except ImportError:  # pragma: no cover - the sandbox ships with the package
        return
    cli.add_command(sandbox)


_attach_sandbox_commands()


def _bare_sandbox(args: list[str]) -> list[str]:
    """``--sandbox`` followed by a command (or nothing) means the default state directory.

    click would take the command name as the option's value, so the bare form is spelled out.
    """
    result = list(args)
    for index, arg in enumerate(result):
        following = result[index + 1] if index + 1 < len(result) else None
        if arg == "--sandbox" and (
            following is None or following in cli.commands or following.startswith("-")
        ):
            result[index] = f"--sandbox={DEFAULT_SANDBOX_DIR}"
    return result


def _fail(lines: Sequence[str], code: int) -> NoReturn:
    first, *rest = lines
    click.echo(f"Error: {first}", err=True)
    for line in rest:
        click.echo(line, err=True)
    sys.exit(code)


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: one place where errors become messages and exit codes."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        cli.main(args=_bare_sandbox(args), prog_name="ionworks-apply", standalone_mode=False)
    except ManifestError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
            if os.environ.get("GITHUB_ACTIONS") == "true":
                click.echo(_annotation(problem))
        _fail([exc.message], exc.exit_code)
    except IonworksApplyError as exc:
        _fail(exc.lines(), exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        _fail([exc.format_message()], EXIT_ERROR)
    except (KeyboardInterrupt, click.exceptions.Abort):
        click.echo("\nInterrupted; a re-run converges.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:  # a bug: say so plainly, never a bare traceback
        click.echo(
            f"Internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug in ionworks-apply; please report it with the command you ran "
            "(run with -vv for details).",
            err=True,
        )
        if logging.getLogger().isEnabledFor(logging.DEBUG):
            logging.getLogger("reconciler").exception("internal error")
        sys.exit(EXIT_INTERNAL)
    sys.exit(EXIT_OK)


def _annotation(problem: Problem) -> str:
    loc = problem.location
    level = "warning" if problem.severity == "warning" else "error"
    message = problem.message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return f"::{level} file={loc.path},line={loc.line},col={loc.col}::{message}"
