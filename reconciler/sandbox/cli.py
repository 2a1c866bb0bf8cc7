"""``ionworks-apply sandbox ...``: serve, seed and reset a local Ionworks-compatible API.

Only click, the standard library and the stdlib-only settings module are imported at module
level, so attaching this group to the main CLI costs nothing; FastAPI, uvicorn and the storage
layer load inside each command.
"""

from __future__ import annotations

import ipaddress
import signal
import threading
from pathlib import Path
from types import FrameType

import click

from reconciler.sandbox.settings import FAULT_KINDS, PATCH_MODES

DEFAULT_DB = Path(".ionworks-sandbox/sandbox.db")
DEFAULT_HOST = "127.0.0.1"

db_option = click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_DB,
    show_default=True,
    help="SQLite file holding the sandbox's data (created if missing).",
)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
    default="sandbox-key",
    show_default=True,
    help="Key clients must send (X-API-Key or Bearer).",
)
@click.option(
    "--patch-mode",
    type=click.Choice(PATCH_MODES),
    default="replace",
    show_default=True,
    help="PATCH of nested objects (ratings, properties...): replace them or deep-merge.",
)
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
@click.option("--seed", type=int, default=None, help="Seed for the fault draws (reproducible).")
@click.option(
    "--stall-seconds",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    help="How long a 'stall' fault holds a request before handling it.",
)
def serve(
    host: str,
    port: int,
    db_path: Path,
    api_key: str,
    patch_mode: str,
    latency_ms: float,
    fault_rate: float,
    faults: tuple[str, ...],
    seed: int | None,
    stall_seconds: float,
) -> None:
    """Run the sandbox until Ctrl-C, printing the environment a client needs."""
    context = click.get_current_context()
    if not is_loopback(host):
        if context.get_parameter_source("host") != click.core.ParameterSource.COMMANDLINE:
            raise click.UsageError(
                f"refusing to listen on non-loopback host {host!r} unless given as --host"
            )
        click.echo(
            f"Warning: listening on {host}, which is not loopback: anyone who can reach this "
            "machine can use the sandbox with its key.",
            err=True,
        )
    try:
        from reconciler.sandbox.server import SandboxServer, SandboxSettings
    except ImportError as exc:
        raise click.ClickException(
            f"the sandbox server needs FastAPI and uvicorn ({exc.name} is missing): "
            "pip install 'ionworks-apply[sandbox]'"
        ) from None

    settings = SandboxSettings(
        db_path=db_path,
        api_key=api_key,
        patch_mode="merge" if patch_mode == "merge" else "replace",
        latency_ms=latency_ms,
        fault_rate=fault_rate,
        faults=faults,
        seed=seed,
        stall_seconds=stall_seconds,
    )
    server = SandboxServer(settings, host=host, port=port)
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
        click.echo(
            f"Sandbox ready ({db_path}, PATCH mode {patch_mode}); Ctrl-C stops it.", err=True
        )
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
    from reconciler.sandbox.db import Database
    from reconciler.sandbox.seeding import SeedCounts, find_specs, seed_spec

    if not db_path.exists():
        raise click.ClickException(f"no sandbox database at {db_path}; run `sandbox serve` first")
    db = Database(db_path)
    try:
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
    finally:
        db.close()
    click.echo(
        f"Seeded {total.specs} spec(s): {total.batches} batches, {total.instances} instances, "
        f"{total.measurements} measurements."
    )


@sandbox.command()
@db_option
def reset(db_path: Path) -> None:
    """Delete every spec, instance, batch, measurement and extra project (keeps the default)."""
    from reconciler.sandbox.db import Database

    if not db_path.exists():
        click.echo(f"Nothing to reset: no database at {db_path}.")
        return
    db = Database(db_path)
    try:
        db.reset()
    finally:
        db.close()
    click.echo(f"Sandbox data in {db_path} deleted; project {db.tenant.default_project_id} kept.")
