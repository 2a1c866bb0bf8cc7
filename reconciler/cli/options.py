"""What several commands share: the global options object, the flags they have in common, and
the manifests directories they take."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import click

from reconciler.engine import Connection
from reconciler.errors import UsageError

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


def manifest_dirs(values: Sequence[str]) -> list[Path]:
    paths = [Path(v) for v in values] or [Path(DEFAULT_DIR)]
    for path in paths:
        if not path.is_dir():
            raise UsageError(f"{path} is not a directory of manifests")
    return paths
