"""The commands: each parses its flags, calls the engine, renders, and returns its exit code.

Nothing here talks to the API or decides anything about specs; see ``reconciler.engine``.
Heavy modules are imported inside each command, so ``--help`` and ``validate`` stay quick.
"""

from __future__ import annotations

import functools
import json
import os
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from reconciler.api.redaction import redact
from reconciler.cli import terminal
from reconciler.engine import Connection
from reconciler.errors import (
    EXIT_BLOCKED,
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_OK,
    ApplyFailedError,
    GuardError,
    ManifestError,
    UsageError,
)
from reconciler.results import ApplyResult

DEFAULT_DIR = "manifests"


@dataclass
class GlobalOptions:
    """What every command may use: where the API is (lazily resolved) and whether to colour."""

    connection: Connection
    color: bool
    #: The global options given that a suggested follow-up command must repeat (never a
    #: credential): where the API is, the project and organization, the sandbox.
    replay: tuple[str, ...] = ()


pass_options = click.make_pass_decorator(GlobalOptions)

FORMAT_OPTION = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)
ALLOW_CASCADE_OPTION = click.option(
    "--allow-cascade", is_flag=True, help="Allow deletes that take instances along."
)
ALLOW_EMPTY_OPTION = click.option(
    "--allow-empty", is_flag=True, help="Allow pruning when no manifest is left."
)
ALLOW_SHARED_OPTION = click.option(
    "--allow-shared-material",
    is_flag=True,
    help="Allow material changes that also reach specs this directory does not manage.",
)


def _directories(values: Sequence[str]) -> list[Path]:
    paths = [Path(v) for v in values] or [Path(DEFAULT_DIR)]
    for path in paths:
        if not path.is_dir():
            raise UsageError(f"{path} is not a directory of manifests")
    return paths


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
def validate(paths: tuple[str, ...]) -> int:
    """Check manifests offline: one line per problem, exit 1 if any.

    PATHS are directories (each checked on its own) or files (checked together, names across
    them: what a pre-commit hook passes); default: manifests/.
    """
    from reconciler.manifests import load_paths

    manifest_set = load_paths([Path(p) for p in paths] or [Path(DEFAULT_DIR)])
    for warning in manifest_set.warnings:
        terminal.echo(str(warning), err=True)
    materials = sum(1 for m in manifest_set.materials if m.defined_at is not None)
    shared = f" and {materials} material(s)" if materials else ""
    terminal.out(f"{len(manifest_set.specs)} cell specification(s){shared} valid.")
    return EXIT_OK


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if any file would change.")
@click.option("--units", is_flag=True, help="Also write each unit one way (mA.h.g-1 -> mA*h/g).")
def fmt(paths: tuple[str, ...], check: bool, units: bool) -> int:
    """Rewrite manifests in one layout (key order, one-line Quantities), keeping comments.

    PATHS are manifest files or directories; default: manifests/. Files that cannot be read
    or formatted are left alone and reported (exit 1).
    """
    from reconciler.fmt import format_paths

    report = format_paths(
        [Path(p) for p in paths] or [Path(DEFAULT_DIR)], units=units, write=not check
    )
    for shown in report.changed:
        terminal.echo(f"would reformat {shown}" if check else f"reformatted {shown}")
    verb = "would be reformatted" if check else "reformatted"
    terminal.out(f"{len(report.changed)} file(s) {verb}, {report.unchanged} unchanged.", err=True)
    if report.problems:
        raise ManifestError(report.problems)
    return EXIT_ERROR if check and report.changed else EXIT_OK


@click.command()
def schema() -> int:
    """Print the JSON Schema of a cell-spec manifest (for editors)."""
    from reconciler.editor_schema import json_schema

    terminal.out(json.dumps(json_schema(), indent=2, sort_keys=True))
    return EXIT_OK


@click.command()
@click.argument("directories", nargs=-1, type=click.Path(file_okay=False))
@click.option("--prune", is_flag=True, help="Plan deletes of owned specs with no manifest.")
@FORMAT_OPTION
@click.option("--out", "out", type=click.Path(dir_okay=False), help="Save the plan for apply.")
@ALLOW_CASCADE_OPTION
@ALLOW_EMPTY_OPTION
@ALLOW_SHARED_OPTION
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 no changes, 2 changes apply would make, 3 changes apply would refuse.",
)
@click.option(
    "--base",
    metavar="REF",
    help="Mark each change as from this change or made outside ionworks-apply, by the "
    "manifests at git revision REF (e.g. the pull request's base).",
)
@pass_options
def plan(
    options: GlobalOptions,
    directories: tuple[str, ...],
    prune: bool,
    fmt: str,
    out: str | None,
    allow_cascade: bool,
    allow_empty: bool,
    allow_shared_material: bool,
    detailed_exitcode: bool,
    base: str | None,
) -> int:
    """Show what apply would change, without changing anything."""
    from reconciler.engine import plan_directories
    from reconciler.git_base import check_ref, mark_plans
    from reconciler.guards import GuardOptions
    from reconciler.plan_files import save_plans
    from reconciler.render import render

    if base is not None:
        check_ref(base)
    guard_options = GuardOptions(
        allow_cascade=allow_cascade,
        allow_empty=allow_empty,
        allow_shared_material=allow_shared_material,
        prompt=terminal.interactive(),
    )
    plans = plan_directories(
        options.connection, _directories(directories), prune=prune, options=guard_options
    )
    if base is not None:
        plans, notes = mark_plans(plans, base)
        for note in notes:
            terminal.echo(f"Note: {note}", err=True)
    terminal.out(render(plans, fmt, color=options.color).rstrip("\n"))
    if out:
        save_plans(plans, Path(out), mask=redact)
        again = shlex.join(["ionworks-apply", *options.replay, "apply", out])
        terminal.echo(f"Plan saved to {out}; apply it from here with: {again}", err=True)
    if not detailed_exitcode:
        return EXIT_OK
    if any(p.blocked or p.blocked_materials for p in plans):
        return EXIT_BLOCKED
    return EXIT_CHANGES if any(p.has_changes for p in plans) else EXIT_OK


@click.command()
@click.argument("targets", nargs=-1, type=click.Path())
@click.option("--yes", "--auto-approve", "yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--prune", is_flag=True, help="Delete owned specs that have no manifest.")
@ALLOW_CASCADE_OPTION
@ALLOW_EMPTY_OPTION
@ALLOW_SHARED_OPTION
@click.option("--report", "report", type=click.Path(dir_okay=False), help="Write a JSON report.")
@click.option(
    "--expect",
    type=click.Path(dir_okay=False),
    metavar="PLANFILE",
    help="Apply only if a fresh plan of DIR is exactly this reviewed plan; else write nothing.",
)
@pass_options
def apply(
    options: GlobalOptions,
    targets: tuple[str, ...],
    yes: bool,
    prune: bool,
    allow_cascade: bool,
    allow_empty: bool,
    allow_shared_material: bool,
    report: str | None,
    expect: str | None,
) -> int:
    """Create, update and (with --prune) delete specs so Ionworks matches the manifests.

    Given a saved plan (PLANFILE, or --expect PLANFILE with the directories), apply writes that
    reviewed plan without asking, and only while a fresh plan still gives exactly it.
    """
    from reconciler.engine import apply_plans, plan_directories, plan_expected, plan_saved
    from reconciler.guards import GuardOptions
    from reconciler.render import render

    report_path = Path(report) if report else None
    if report_path:
        _check_report_path(report_path)
    connection = options.connection
    saved = len(targets) == 1 and Path(targets[0]).is_file()
    reviewed = saved or expect is not None
    interactive = terminal.interactive() and not reviewed  # a reviewed plan asks nothing
    guard_options = GuardOptions(
        allow_cascade=allow_cascade,
        allow_empty=allow_empty,
        allow_shared_material=allow_shared_material,
        prompt=interactive,
    )
    if expect is not None:
        if saved:
            raise UsageError("--expect takes the manifests directories to apply, not a plan file")
        plans, already = plan_expected(
            connection, Path(expect), _directories(targets), prune=prune, options=guard_options
        )
    elif saved:
        if prune:
            raise UsageError("--prune does not apply to a saved plan: make a new plan with --prune")
        plans, already = plan_saved(connection, Path(targets[0]), guard_options)
    else:
        plans = plan_directories(
            connection, _directories(targets), prune=prune, options=guard_options
        )
        already = [[] for _ in plans]
    terminal.out(render(plans, "text", color=options.color).rstrip("\n"))
    if not any(p.has_changes for p in plans):
        results = [ApplyResult(p, outcomes=done) for p, done in zip(plans, already, strict=True)]
        if any(already):
            _summarise(results)
            terminal.out("This plan was already applied; nothing was written.")
        return _finish(results, report_path)
    if not yes and not reviewed:
        if not interactive:
            raise UsageError(
                "refusing to apply without confirmation: there is no terminal to ask on. "
                "Review the plan above and pass --yes to apply it."
            )
        if not terminal.confirm_apply():
            terminal.out("Apply cancelled; nothing was written.")
            return EXIT_ERROR
    confirm = (
        functools.partial(terminal.confirm_cascade, color=options.color)
        if interactive and not allow_cascade
        else None
    )
    with terminal.reporter(options.color) as reporter:
        results = apply_plans(
            connection, plans, reporter=reporter, confirm_cascade=confirm, already=already
        )
    _summarise(results)
    return _finish(results, report_path)


def _summarise(results: Sequence[ApplyResult]) -> None:
    for result in results:
        counts = result.counts()
        blocked = f", {counts['blocked']} blocked" if counts["blocked"] else ""
        terminal.out(
            f"Apply complete: {counts['applied']} applied, {counts['already']} already done, "
            f"{counts['failed']} failed, {counts['skipped']} skipped{blocked}."
        )
        for problem in result.not_converged:
            terminal.echo(f"  not converged: {problem}", err=True)


def _finish(results: Sequence[ApplyResult], report: Path | None) -> int:
    """Write the report (and say where), then the exit code: 3 for a delete refused at the
    last moment, 1 for a failure (or a report that could not be written), else 0."""
    unwritten = _write_report(report, results) if report else None
    if report and not unwritten:
        deleted = sum(1 for r in results for o in r.outcomes if o.deleted)
        held = f", with the full record of the {deleted} deleted spec(s)" if deleted else ""
        terminal.echo(f"Report written to {report}{held}.")
    refused = [o for r in results for o in r.blocked]
    if refused:
        raise GuardError(
            f"{len(refused)} delete(s) refused by the re-check just before deleting; "
            "the other changes were applied",
            blocked=[f'DELETE "{o.change.name}" blocked: {o.message}' for o in refused]
            + ([unwritten] if unwritten else []),
        )
    if any(not r.ok for r in results):
        stuck = any(not o.converges_on_rerun for r in results for o in r.failed)
        advice = (
            "Some need you to act first (see each one above)."
            if stuck
            else "Fix the cause and run apply again: it converges."
        )
        raise ApplyFailedError(
            "some changes did not apply or could not be verified (see above). "
            + advice
            + (f" Also: {unwritten}" if unwritten else "")
        )
    if unwritten:
        raise ApplyFailedError(unwritten)
    return EXIT_OK


def _check_report_path(path: Path) -> None:
    """Refuse a report that could not be written, before anything is: after the writes it is
    too late to say so."""
    parent = path.parent if str(path.parent) else Path(".")
    problem = None
    if path.is_dir():
        problem = "it is a directory"
    elif not parent.is_dir():
        problem = f"{parent} is not a directory"
    elif not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        problem = "it is not writable"
    if problem:
        raise UsageError(f"cannot write the report to {path}: {problem}; nothing was applied")


def _write_report(path: Path, results: Sequence[ApplyResult]) -> str | None:
    """Write the apply report; what went wrong if it could not be (after the writes, a failure
    is reported with the summary and a non-zero exit, never as an internal error)."""
    from reconciler.render.json import render_report

    try:
        path.write_text(redact(render_report(results)) + "\n", encoding="utf-8")
    except OSError as exc:
        return f"the report could not be written to {path}: {exc.strerror or exc}"
    return None


@click.command()
@click.argument("plan_file", metavar="PLANFILE", type=click.Path(dir_okay=False))
@FORMAT_OPTION
@pass_options
def show(options: GlobalOptions, plan_file: str, fmt: str) -> int:
    """Render a plan saved by plan --out again (reads no API)."""
    from reconciler.plan_files import load_plans
    from reconciler.render import render

    terminal.out(render(load_plans(Path(plan_file)), fmt, color=options.color).rstrip("\n"))
    return EXIT_OK


@click.command()
@click.argument("directories", nargs=-1, type=click.Path(file_okay=False))
@FORMAT_OPTION
@pass_options
def drift(options: GlobalOptions, directories: tuple[str, ...], fmt: str) -> int:
    """Audit drift read-only: exit 0 in sync, 2 drift found, 1 error."""
    from reconciler.drift import Drift
    from reconciler.engine import plan_directories
    from reconciler.guards import GuardOptions
    from reconciler.render import render_drift

    plans = plan_directories(
        options.connection,
        _directories(directories),
        prune=False,
        options=GuardOptions(),
        use_config_prune=False,
    )
    drifts = [Drift(p) for p in plans]
    terminal.out(render_drift(drifts, fmt))
    return EXIT_OK if all(d.in_sync for d in drifts) else EXIT_CHANGES


@click.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=DEFAULT_DIR,
    show_default=True,
    help="Directory to write manifests into.",
)
@click.option("--name", "pattern", default="*", show_default=True, help="Only names matching.")
@click.option(
    "--owner",
    default=None,
    help="Whose managed specs [default: the directory's config, else 'default'].",
)
@click.option("--include-unmanaged", is_flag=True, help="Also specs without an ownership marker.")
@click.option("--force", is_flag=True, help="Overwrite existing files.")
@pass_options
def export(
    options: GlobalOptions,
    out_dir: str,
    pattern: str,
    owner: str | None,
    include_unmanaged: bool,
    force: bool,
) -> int:
    """Write live specs as manifests to adopt ionworks-apply on a project: one file per spec,
    shared materials in materials/, and the config and schema where missing."""
    from reconciler.config import CONFIG_FILENAME, ProjectConfig, read_config
    from reconciler.editor_schema import json_schema
    from reconciler.engine import fetch_specs
    from reconciler.export import SCHEMA_FILE, build_export, select, write_export

    out = Path(out_dir)
    config, problems = read_config(out) if out.is_dir() else (ProjectConfig(), [])
    if config is None:
        raise ManifestError(problems)
    has_config = (out / CONFIG_FILENAME).exists()
    if owner is not None and has_config and owner != config.owner:
        raise UsageError(
            f"{out / CONFIG_FILENAME} says owner '{config.owner}', not '{owner}': drop --owner "
            "or change the config"
        )
    try:
        chosen = ProjectConfig(owner=owner or config.owner)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise UsageError(
            f"--owner {owner!r} is not a valid owner: use 1-64 letters, digits, '.', '_' or '-'"
        ) from exc
    project_id, live = fetch_specs(options.connection, config.project_id)
    records = select(
        live, marker=chosen.marker, pattern=pattern, include_unmanaged=include_unmanaged
    )
    exported = build_export(records, out)
    extra = {SCHEMA_FILE: json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"}
    if not has_config:
        extra[CONFIG_FILENAME] = f"project_id: {project_id}\nowner: {chosen.owner}\n"
    write_export(exported, out, force=force, extra=extra, mask=redact)
    for written in exported.files:
        terminal.echo(f"wrote {written.path}  ({written.name})")
    for note in exported.notes:
        terminal.echo(f"note: {note}", err=True)
    for name, why in exported.skipped:
        terminal.echo(f"not exported: {name!r}: {why}", err=True)
    specs = len(records) - len(exported.skipped)
    terminal.out(f"Exported {specs} cell specification(s) to {out_dir}.")
    if not records:
        terminal.echo(_nothing_matched(live, chosen.marker, pattern), err=True)
    if exported.skipped:
        raise ApplyFailedError(
            f"{len(exported.skipped)} spec(s) could not be written as valid manifests (see "
            "above); they are left to Ionworks, unmanaged"
        )
    return EXIT_OK


def _nothing_matched(live: Sequence[Mapping[str, Any]], marker: str, pattern: str) -> str:
    """Why an export found nothing: who does own the specs that are there."""
    from reconciler.ownership import marker_of

    owners: dict[str, int] = {}
    for record in live:
        found = marker_of(record) or "no ownership marker"
        owners[found] = owners.get(found, 0) + 1
    if not owners:
        return "The project holds no cell specifications."
    held = "; ".join(f"{count} with {owner}" for owner, count in sorted(owners.items()))
    return (
        f"No spec carries {marker} and matches '{pattern}'. The project holds: {held}. Use "
        "--owner (or the config's owner) for another directory's specs, --include-unmanaged "
        "for specs no directory manages yet."
    )


COMMANDS = (validate, fmt, schema, plan, apply, show, drift, export)
