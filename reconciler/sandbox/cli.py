"""``ionworks-apply sandbox ...``: serve, seed and reset a local Ionworks-compatible API.

Only click, the standard library and the stdlib-only settings module are imported at module
level, so attaching this group to the main CLI costs nothing; FastAPI, uvicorn and the storage
layer load inside each command.
"""

from __future__ import annotations

import ipaddress
import secrets
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

import click

from reconciler.sandbox.settings import (
    CHOICES,
    FAULT_KINDS,
    MAX_BODY_BYTES,
    Behaviour,
    key_problem,
)

if TYPE_CHECKING:
    from reconciler.sandbox.db import Database

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_DB = Path(".ionworks-sandbox/sandbox.db")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_KEY = "sandbox-key"

db_option = click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_DB,
    show_default=True,
    help="SQLite file holding the sandbox's data (created if missing).",
)

CHOICE_HELP = {
    "patch_mode": "PATCH of nested objects (ratings, properties, ...): replace them or deep-merge.",
    "list_order": "Lists without order_by: newest first (stable), or a fresh shuffle per page.",
    "write_response": "What POST/PATCH of a spec answer: the full spec, or metadata only.",
    "nested_null": "A null inside a nested object: clear that key (merge mode), or refuse (422).",
    "material_upsert": "A material sent with a spec: update the shared row, keep the first "
    "definition, or give each spec its own row.",
}


def behaviour_options(command: F) -> F:
    """One flag per behaviour switch, named after its SandboxSettings field."""
    for name, allowed in reversed(CHOICES.items()):
        command = click.option(
            "--" + name.replace("_", "-"),
            name,
            type=click.Choice(allowed),
            default=allowed[0],
            show_default=True,
            help=CHOICE_HELP[name],
        )(command)
    command = click.option(
        "--strict-text",
        is_flag=True,
        help="Text rules of a Postgres-backed API: NUL refused (500), long strings refused (422).",
    )(command)
    return click.option(
        "--ratings-required/--ratings-optional",
        default=True,
        show_default=True,
        help="Whether ratings need capacity, voltage_min and voltage_max.",
    )(command)


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1, an IPv4-mapped loopback (::ffff:127.0.0.1) or localhost."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def describe(settings: Behaviour) -> str:
    """The switches that differ from the defaults, as ``, name=value`` pairs."""
    defaults = Behaviour().as_dict()
    return "".join(
        f", {name}={value}" for name, value in settings.as_dict().items() if value != defaults[name]
    )


def checked_key(option: str, key: str | None) -> str | None:
    problem = None if key is None else key_problem(key)
    if problem:
        raise click.ClickException(f"{option} {problem}")
    return key


@contextmanager
def open_database(db_path: Path) -> Iterator[Database]:
    """The database file, or one ``Error:`` line if it cannot be one."""
    from reconciler.sandbox.db import Database, DatabaseUnusable

    try:
        db = Database(db_path)
    except DatabaseUnusable as exc:
        raise click.ClickException(str(exc)) from None
    try:
        yield db
    finally:
        db.close()


def parse_faults(context: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    """``--faults 503,drop`` -> ("503", "drop"), refusing unknown kinds before anything starts."""
    kinds = tuple(kind.strip() for kind in value.split(",") if kind.strip())
    unknown = [kind for kind in kinds if kind not in FAULT_KINDS]
    if unknown:
        raise click.BadParameter(
            f"unknown fault kind(s) {', '.join(unknown)}; choose from {', '.join(FAULT_KINDS)}",
            param_hint="--faults",
        )
    return kinds


@click.group(name="sandbox")
def sandbox() -> None:
    """A local Ionworks-compatible API for trying ionworks-apply safely."""


@sandbox.command()
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Interface to listen on.")
@click.option(
    "--port",
    default=8765,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on; 0 picks a free one (the printed URL shows it).",
)
@db_option
@click.option(
    "--api-key",
    default=None,
    help=f"Key clients must send (X-API-Key or Bearer). Default: {DEFAULT_KEY} on loopback, "
    "a random key (printed) on any other host.",
)
@click.option(
    "--viewer-key",
    default=None,
    help="A second, read-only key: GETs work, every write answers 403 FORBIDDEN.",
)
@behaviour_options
@click.option(
    "--latency-ms",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Delay added to every API request.",
)
@click.option(
    "--fault-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Probability that an API request gets one fault drawn from --faults.",
)
@click.option(
    "--faults",
    default="",
    callback=parse_faults,
    help=f"Comma-separated fault kinds: {', '.join(FAULT_KINDS)}.",
)
@click.option(
    "--seed",
    type=int,
    default=None,
    help="Seed for the fault draws and the unstable list shuffles (reproducible).",
)
@click.option(
    "--stall-seconds",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    help="How long a 'stall' fault holds a request before handling it.",
)
@click.option(
    "--max-body-bytes",
    type=click.IntRange(min=1024),
    default=MAX_BODY_BYTES,
    show_default=True,
    help="Largest request body, on the wire and again after gzip (larger: 413).",
)
def serve(
    host: str,
    port: int,
    db_path: Path,
    api_key: str | None,
    viewer_key: str | None,
    **options: Any,
) -> None:
    """Run the sandbox until Ctrl-C, printing the environment a client needs."""
    context = click.get_current_context()
    loopback = is_loopback(host)
    if not loopback:
        if context.get_parameter_source("host") != click.core.ParameterSource.COMMANDLINE:
            raise click.UsageError(
                f"refusing to listen on non-loopback host {host!r} unless given as --host"
            )
        click.echo(
            f"Warning: listening on {host}, which is not loopback: anyone who can reach this "
            "machine can use the sandbox with its key.",
            err=True,
        )
    checked_key("--api-key", api_key)
    checked_key("--viewer-key", viewer_key)
    if api_key is None:  # the well-known key only where nobody else can connect
        api_key = DEFAULT_KEY if loopback else secrets.token_urlsafe(24)
    if viewer_key is not None and viewer_key == api_key:
        raise click.ClickException("--viewer-key must differ from --api-key")
    try:
        from reconciler.sandbox.server import SandboxServer, SandboxSettings
    except ImportError as exc:
        raise click.ClickException(
            f"the sandbox server needs FastAPI and uvicorn ({exc.name} is missing): "
            "pip install 'ionworks-apply[sandbox]'"
        ) from None
    from reconciler.sandbox.db import DatabaseUnusable

    settings = SandboxSettings(db_path=db_path, api_key=api_key, viewer_key=viewer_key, **options)
    try:
        server = SandboxServer(settings, host=host, port=port)
    except DatabaseUnusable as exc:
        raise click.ClickException(str(exc)) from None
    try:
        server.start()
    except OSError as exc:
        server.stop()
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        click.echo(f"export IONWORKS_API_URL={server.url}")
        click.echo(f"export IONWORKS_API_KEY={server.api_key}")
        click.echo(f"export IONWORKS_PROJECT_ID={server.project_id}")
        click.echo(f"Sandbox ready ({db_path}{describe(settings)}); Ctrl-C stops it.", err=True)
        while not stop.wait(0.5):  # a timed wait keeps the signal handler prompt
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.stop()
    click.echo("Sandbox stopped.", err=True)


@sandbox.command()
@click.option("--instances", type=click.IntRange(min=0), required=True, help="Cells per spec.")
@click.option("--measurements", type=click.IntRange(min=0), default=0, help="Per cell.")
@click.option("--batches", type=click.IntRange(min=0), default=0, help="Lots per spec.")
@click.option("--spec", "spec_name", default=None, help="Only specs with this exact name.")
@db_option
def seed(
    instances: int, measurements: int, batches: int, spec_name: str | None, db_path: Path
) -> None:
    """Add instances, batches and measurements under existing specs.

    Works on the database file directly (no server needed; a running sandbox on the same file
    sees the rows at once).
    """
    from reconciler.sandbox.seeding import SeedCounts, find_specs, seed_spec

    if not db_path.exists():
        raise click.ClickException(f"no sandbox database at {db_path}; run `sandbox serve` first")
    with open_database(db_path) as db:
        total = SeedCounts()
        with db.transaction() as tx:
            spec_ids = find_specs(tx, spec_name)
            if not spec_ids:
                wanted = f"named {spec_name!r}" if spec_name else "at all"
                raise click.ClickException(f"no cell specification {wanted} in {db_path}")
            for spec_id in spec_ids:
                total.add(
                    seed_spec(
                        tx,
                        spec_id,
                        instances=instances,
                        measurements=measurements,
                        batches=batches,
                    )
                )
    click.echo(
        f"Seeded {total.specs} spec(s): {total.batches} batches, {total.instances} instances, "
        f"{total.measurements} measurements."
    )


@sandbox.command()
@db_option
def reset(db_path: Path) -> None:
    """Delete every spec, instance, batch, measurement and extra project (keeps the default)."""
    if not db_path.exists():
        click.echo(f"Nothing to reset: no database at {db_path}.")
        return
    with open_database(db_path) as db:
        db.reset()
    click.echo(f"Sandbox data in {db_path} deleted; project {db.tenant.default_project_id} kept.")
