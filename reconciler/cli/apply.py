"""The apply command: plan (or re-derive a reviewed plan), confirm, write, report.

Kept apart from the other commands because it alone asks, writes, and owns the report file.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path

import click

from reconciler.api.redaction import redact
from reconciler.cli import terminal
from reconciler.cli.options import (
    ALLOW_CASCADE_OPTION,
    ALLOW_EMPTY_OPTION,
    ALLOW_SHARED_OPTION,
    GlobalOptions,
    manifest_dirs,
    pass_options,
)
from reconciler.errors import EXIT_ERROR, EXIT_OK, ApplyFailedError, GuardError, UsageError
from reconciler.results import ApplyResult


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
            connection, Path(expect), manifest_dirs(targets), prune=prune, options=guard_options
        )
    elif saved:
        if prune:
            raise UsageError("--prune does not apply to a saved plan: make a new plan with --prune")
        plans, already = plan_saved(connection, Path(targets[0]), guard_options)
    else:
        plans = plan_directories(
            connection, manifest_dirs(targets), prune=prune, options=guard_options
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
