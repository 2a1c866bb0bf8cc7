"""The ``ionworks-apply`` command group, its global options, and the one place where errors
become messages and exit codes.

Commands return their exit code. Known errors (``IonworksApplyError``) print ``Error: ...``
lines and exit with their class's code (``reconciler.errors``); anything else is a bug and exits
4 with a hint; Ctrl-C exits 130.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import NoReturn

import click
from click.core import ParameterSource

from reconciler import __version__
from reconciler.api import redaction
from reconciler.cli import commands, terminal
from reconciler.cli.options import GlobalOptions
from reconciler.engine import Connection
from reconciler.errors import (
    EXIT_ERROR,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    IonworksApplyError,
    ManifestError,
)
from reconciler.runtime import INTERRUPTED_MESSAGE, interrupt_once

DEFAULT_SANDBOX_DIR = ".ionworks-sandbox"


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
@click.option(
    "--color/--no-color",
    default=None,
    help="Colour output [default: on a terminal, unless NO_COLOR is set].",
)
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
    connection = Connection(
        api_url=api_url,
        api_key=api_key,
        token=token,
        project=project,
        org=org,
        concurrency=concurrency,
        timeout=timeout,
        sandbox_dir=sandbox_dir,
    )
    ctx.obj = GlobalOptions(connection, _colour(color), _replay(ctx))
    ctx.call_on_close(connection.close)


def _colour(flag: bool | None) -> bool:
    """``--color``/``--no-color`` when given; else colour on a terminal, unless ``NO_COLOR``
    is set to anything but the empty string (https://no-color.org: a user's standing wish,
    which an explicit flag on one command line overrides)."""
    if flag is not None:
        return flag
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


#: Global options a suggested follow-up command repeats when they were given on the command line
#: (from the environment they are still set); credentials never are.
_REPLAYED = (("api_url", "--api-url"), ("project", "--project"), ("org", "--org"))


def _replay(ctx: click.Context) -> tuple[str, ...]:
    """The non-secret global options given on this command line, to repeat in a suggestion."""
    args: list[str] = []
    for name, flag in _REPLAYED:
        value = ctx.params.get(name)
        if value and ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE:
            args += [flag, str(value)]
    sandbox_dir = ctx.params.get("sandbox_dir")
    if sandbox_dir is not None:
        args.append(
            "--sandbox" if sandbox_dir == DEFAULT_SANDBOX_DIR else f"--sandbox={sandbox_dir}"
        )
    return tuple(args)


for _command in commands.COMMANDS:
    cli.add_command(_command)


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


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Console entry point; a second Ctrl-C always ends the process at once (exit 130)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, interrupt_once)
    code = run(list(sys.argv[1:] if argv is None else argv))
    if code == EXIT_INTERRUPTED:
        # Leave now: interpreter shutdown puts SIGINT back to its default, so a second Ctrl-C
        # in that window would end the process by the signal instead of with exit code 130.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def run(args: list[str]) -> int:
    """Run one command; every way it can end becomes an exit code here, and only here."""
    with redaction.retained():  # a session's secrets stay masked until its errors are out
        try:
            code = cli.main(
                args=_bare_sandbox(args), prog_name="ionworks-apply", standalone_mode=False
            )
        except BaseException as exc:  # the one place that decides what any ending means
            return exit_code_for(exc)
    return code if isinstance(code, int) else EXIT_OK


def exit_code_for(exc: BaseException) -> int:
    """Say what went wrong (in one ``Error:`` line where possible) and choose the exit code."""
    if isinstance(exc, ManifestError):
        github = os.environ.get("GITHUB_ACTIONS") == "true"
        for problem in exc.problems:
            terminal.echo(str(problem), err=True)
            if github:
                terminal.out(terminal.annotation(problem))
        terminal.error([exc.message])
        return exc.exit_code
    if isinstance(exc, IonworksApplyError):
        terminal.error(exc.lines())
        return exc.exit_code
    if isinstance(exc, click.exceptions.Exit):
        return exc.exit_code
    if isinstance(exc, click.ClickException):
        terminal.error([exc.format_message()])
        return EXIT_ERROR
    if isinstance(exc, KeyboardInterrupt | click.exceptions.Abort):
        click.echo(INTERRUPTED_MESSAGE, err=True)
        return EXIT_INTERRUPTED
    if isinstance(exc, SystemExit):
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR
    terminal.echo(f"Internal error: {type(exc).__name__}: {exc}", err=True)
    click.echo(
        "This is a bug in ionworks-apply; please report it with the command you ran "
        "(run with -vv for details).",
        err=True,
    )
    if logging.getLogger().isEnabledFor(logging.DEBUG):
        logging.getLogger("reconciler").error("internal error", exc_info=exc)
    return EXIT_INTERNAL
