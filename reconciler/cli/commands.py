"""The commands: each parses its flags, calls the engine, renders, and returns its exit code.

Nothing here talks to the API or decides anything about specs; see ``reconciler.engine``.
Heavy modules are imported inside each command, so ``--help`` and ``validate`` stay quick.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from reconciler.api.redaction import redact
from reconciler.cli import terminal
from reconciler.cli.apply import apply
from reconciler.cli.options import (
    ALLOW_CASCADE_OPTION,
    ALLOW_EMPTY_OPTION,
    ALLOW_SHARED_OPTION,
    DEFAULT_DIR,
    FORMAT_OPTION,
    GlobalOptions,
    manifest_dirs,
    pass_options,
)
from reconciler.errors import (
    EXIT_BLOCKED,
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_OK,
    ApplyFailedError,
    ManifestError,
    UsageError,
)


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
        options.connection, manifest_dirs(directories), prune=prune, options=guard_options
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
        manifest_dirs(directories),
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
