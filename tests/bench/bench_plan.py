"""Benchmark: ``ionworks-apply plan`` with nothing to change, against two references.

Not a test (no assertions on time, not collected by pytest). For each N it stores N realistic
specs (ratings, 3-5 components, the ``ionworks-apply/bench`` marker) straight into a sandbox
database, writes N matching manifests (other unit spellings, as people write them: the plan must
compare by physics to find no change), serves the database with ``python -m reconciler.sandbox
serve --latency-ms 50`` in a child process, and times, in this process and in turns:

- ours: the whole ``plan`` command in-process (``cli.main``): load and validate the manifests,
  fetch every spec, normalise, diff, guards, render;
- sequential: what the official client does, one page after another with a synchronous httpx
  client (``full=true&limit=100&offset+=100``);
- floor: the same pages fetched concurrently with our default concurrency and no other work, plus
  the manifests parsed with ruamel's fastest loader (``CSafeLoader``) and nothing else.

The server is a child process because a uvicorn thread in this process would hold the GIL while
it serialises pages, and charge the server's work to whichever client is being timed. Absolute
times on a shared machine are noise: read the ratios, measured in the same run. Peak memory is
that of a separate, cold ``python -m reconciler plan`` process (``os.wait4``), beside an idle
interpreter that imports the same modules.

    .venv/bin/python tests/bench/bench_plan.py [--specs 1000,10000] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from ruamel.yaml import YAML
from ruamel.yaml.cyaml import CSafeLoader

from reconciler import engine, guards, normalise, planner, render, runtime
from reconciler.api import ApiSettings, Credentials, IonworksClient
from reconciler.cli import main as cli_main
from reconciler.sandbox.db import Database
from reconciler.sandbox.specs import create_spec

OWNER = "bench"
MARKER = f"ionworks-apply/{OWNER}"
SPECS = "/cell_specifications"
PAGE = 100
IDLE_IMPORTS = (
    "import pint, reconciler.cli, reconciler.api, reconciler.engine, reconciler.planner, "
    "reconciler.manifests, reconciler.render, reconciler.guards"
)

MATERIALS = [
    {
        "name": f"Material {n}",
        "manufacturer": f"Maker {n % 4}",
        "definition": {"type": "active", "particle_size_d50": {"value": 5 + n, "unit": "um"}},
    }
    for n in range(20)
]


def q(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit}


def spec_body(index: int, *, live: bool) -> dict[str, Any]:
    """One spec; ``live`` picks the API's unit spellings, else a manifest author's."""
    capacity = 2 + index / 10_000
    loading = 5 + index / 1000
    body: dict[str, Any] = {
        "name": f"bench-{index:05d}",
        "form_factor": ("R2032", "pouch", "18650")[index % 3],
        "manufacturer": "Bench Cells",
        "ratings": {
            "capacity": q(capacity, "A*h") if live else q(capacity * 1000, "mA.h"),
            "voltage_min": q(2.5, "V") if live else q(2500, "mV"),
            "voltage_max": q(4.2, "V"),
            "nominal_voltage": q(3.6, "V"),
            "energy": q(9, "W*h" if live else "W.h"),
            "max_charge_rate": q(1, "C"),
        },
        "properties": {"assembly_method": "stacked", "layers": q(10 + index % 7, "dimensionless")},
        "anode": {
            "properties": {
                "loading": q(loading, "mg/cm**2" if live else "mg.cm-2"),
                "porosity": q(30 + index % 10, "percent"),
                "binder": "PVDF",
            },
            "material": MATERIALS[index % 20],
        },
        "cathode": {
            "properties": {"loading": q(12 + index / 1000, "mg/cm**2" if live else "mg.cm-2")},
            "material": MATERIALS[(index + 7) % 20],
        },
        "separator": {"properties": {"thickness": q(25, "um")}},
        "notes": f"bench spec {index}",
    }
    if index % 3 != 0:
        electrolyte = {"name": "LP57", "definition": {"solvents": ["EC", "EMC"]}}
        volume = q(40 + index % 5, "uL") if live else q((40 + index % 5) / 1000, "mL")
        body["electrolyte"] = {"properties": {"volume": volume}, "material": electrolyte}
    if index % 3 == 2:
        body["case"] = {"properties": {"diameter": q(20, "mm")}}
    return body


def populate(db_path: Path, count: int) -> str:
    """Create the database with ``count`` specs owned by the bench marker; returns the project.

    Straight through the storage layer, in one transaction: 10,000 specs take seconds, not the
    minutes that many POSTs would.
    """
    db = Database(db_path)
    try:
        project_id = db.tenant.default_project_id
        with db.transaction() as tx:
            for index in range(count):
                body = spec_body(index, live=True)
                body["properties"]["managed_by"] = MARKER
                create_spec(tx, {**body, "project_id": project_id})
        return project_id
    finally:
        db.close()


def write_manifests(root: Path, count: int, project_id: str, docs_per_file: int) -> None:
    """The config and ``count`` spec documents, ``docs_per_file`` to a file (export writes 1)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "ionworks-apply.yaml").write_text(f"project_id: {project_id}\nowner: {OWNER}\n")
    yaml = YAML(typ="safe", pure=False)
    yaml.default_flow_style = None  # Quantities as {value: ..., unit: ...}, like hand-written files
    yaml.explicit_start = True
    for first in range(0, count, docs_per_file):
        documents = [
            spec_body(i, live=False) for i in range(first, min(first + docs_per_file, count))
        ]
        with (root / f"specs-{first:05d}.yaml").open("w", encoding="utf-8") as stream:
            yaml.dump_all(documents, stream)


@dataclass
class Sandbox:
    """``python -m reconciler.sandbox serve`` on a free loopback port, in a child process."""

    db_path: Path
    latency_ms: float
    api_key: str
    url: str = ""
    project_id: str = ""
    _process: subprocess.Popen[str] | None = None

    def __enter__(self) -> Sandbox:
        log = self.db_path.with_suffix(".log").open("w")
        command = [sys.executable, "-m", "reconciler.sandbox", "serve", "--port", "0"]
        command += ["--db", str(self.db_path), "--latency-ms", str(self.latency_ms)]
        environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self._process = subprocess.Popen(
            [*command, "--api-key", self.api_key],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=environment,
        )
        assert self._process.stdout is not None
        exports: dict[str, str] = {}
        while "IONWORKS_PROJECT_ID" not in exports:
            line = self._process.stdout.readline()
            if not line:
                log.close()
                self.__exit__()
                raise RuntimeError(f"sandbox did not start: {self.db_path.with_suffix('.log')}")
            name, _, value = line.removeprefix("export ").strip().partition("=")
            exports[name] = value
        log.close()
        self.url, self.project_id = exports["IONWORKS_API_URL"], exports["IONWORKS_PROJECT_ID"]
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(15)
            self._process = None


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def run_cli(args: list[str], expect: int = 0) -> str:
    """``ionworks-apply ARGS`` in this process; returns its stdout, checks its exit code."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()) as err:
        try:
            cli_main(args)
        except SystemExit as exit_:
            code = exit_.code
        else:
            code = 0
    if code != expect:
        raise RuntimeError(f"ionworks-apply {args[-2:]} exited {code}: {err.getvalue()[-2000:]}")
    return out.getvalue()


def ours(sandbox: Sandbox, manifests: Path, concurrency: int) -> float:
    args = ["--api-url", sandbox.url, "--concurrency", str(concurrency)]
    args += ["plan", "--detailed-exitcode", str(manifests)]
    return timed(lambda: run_cli(args))  # exit 0: no changes, as the data was built to give


def sequential(sandbox: Sandbox, expected: int) -> float:
    """The official client's way: ``GET ...&limit=100&offset=k``, one after another."""

    def fetch() -> None:
        rows: list[Any] = []
        headers = {"X-API-Key": sandbox.api_key, "Accept": "application/json"}
        with httpx.Client(base_url=sandbox.url, headers=headers, timeout=60) as api:
            while True:
                params = {"project_id": sandbox.project_id, "full": "true", "limit": PAGE}
                page = api.get(SPECS, params={**params, "offset": len(rows)})
                page.raise_for_status()
                data = page.json()
                rows.extend(data["items"])
                if not data["items"] or len(rows) >= data["total"]:
                    break
        if len(rows) != expected:
            raise RuntimeError(f"sequential listing got {len(rows)} specs, expected {expected}")

    return timed(fetch)


async def fetch_concurrently(sandbox: Sandbox, concurrency: int) -> list[Any]:
    """Every page, first one then the rest ``concurrency`` at a time; JSON parsed, nothing else."""
    headers = {"X-API-Key": sandbox.api_key, "Accept": "application/json"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(
        base_url=sandbox.url, headers=headers, limits=limits, timeout=60
    ) as api:

        async def page(offset: int) -> Any:
            params = {"project_id": sandbox.project_id, "full": "true", "limit": PAGE}
            async with gate:
                response = await api.get(SPECS, params={**params, "offset": offset})
            response.raise_for_status()
            return response.json()

        first = await page(0)
        rest = await asyncio.gather(*(page(o) for o in range(PAGE, first["total"], PAGE)))
    return [row for data in (first, *rest) for row in data["items"]]


def yaml_load_all(manifests: Path) -> int:
    """Parse every manifest into plain values with ruamel's fastest loader, ``CSafeLoader``
    (libyaml and a C-level scanner; here about 2x faster than ``YAML(typ="safe", pure=False)``)."""
    count = 0
    for path in sorted(manifests.glob("specs-*.yaml")):
        loader = CSafeLoader(path.read_text("utf-8"))
        try:
            while loader.check_data():
                loader.get_data()
                count += 1
        finally:
            loader.dispose()
    return count


def floor(sandbox: Sandbox, manifests: Path, expected: int, concurrency: int) -> dict[str, float]:
    """The two parts of the floor, timed apart: fetching, then parsing the manifests."""
    fetched = timed(
        lambda: check_count(asyncio.run(fetch_concurrently(sandbox, concurrency)), expected)
    )
    parsed = timed(lambda: check_count(range(yaml_load_all(manifests)), expected))
    return {"fetch": fetched, "yaml": parsed}


def check_count(rows: Any, expected: int) -> None:
    if len(rows) != expected:
        raise RuntimeError(f"got {len(rows)} rows, expected {expected}")


def breakdown(sandbox: Sandbox, manifests: Path, concurrency: int) -> dict[str, float]:
    """Where ``plan``'s time goes: the stages of ``engine.make_plan``, timed one by one."""
    times: dict[str, float] = {}
    started = time.perf_counter()
    (target,) = engine.load_targets([manifests], None)
    times["load"] = time.perf_counter() - started
    settings = ApiSettings(
        base_url=sandbox.url,
        credentials=Credentials(api_key=sandbox.api_key),
        concurrency=concurrency,
    )

    async def fetch() -> list[dict[str, Any]]:
        async with IonworksClient(settings) as client:
            return await client.list_specs(target.project_id, view=normalise.live_view)

    started = time.perf_counter()
    with runtime.fewer_collections():
        live = asyncio.run(fetch())
    times["fetch"] = time.perf_counter() - started
    started = time.perf_counter()
    with runtime.fewer_collections():
        plan = planner.build_plan(
            target.manifests,
            live,
            project_id=target.project_id,
            api_url=sandbox.url,
            manifests_dir=str(manifests),
            prune=False,
        )
    config = target.manifests.config
    plan = guards.evaluate(plan, config, guards.GuardOptions(), desired_count=len(live))
    times["plan"] = time.perf_counter() - started
    started = time.perf_counter()
    render.render([plan], "text")
    times["render"] = time.perf_counter() - started
    if plan.has_changes:
        raise RuntimeError("the bench data should plan no changes")
    return times


def child_run(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one child process, from its own rusage."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        assert process.stderr is not None
        raise RuntimeError(f"{command[-2:]} exited {process.returncode}: {process.stderr.read()}")
    return seconds, usage.ru_maxrss / 1024  # Linux reports KiB


@dataclass
class Row:
    specs: int
    ours: float
    sequential: float
    floor_fetch: float
    floor_yaml: float
    cold: float
    rss: float
    parts: dict[str, float]

    @property
    def floor(self) -> float:
        return self.floor_fetch + self.floor_yaml


def bench(count: int, args: argparse.Namespace, root: Path) -> Row:
    folder = root / f"n{count}"
    folder.mkdir()
    db_path = folder / "sandbox.db"
    started = time.perf_counter()
    project_id = populate(db_path, count)
    manifests = folder / "manifests"
    write_manifests(manifests, count, project_id, args.docs_per_file)
    seconds = time.perf_counter() - started
    print(
        f"[N={count}] stored {count} specs, wrote their manifests: {seconds:.1f} s", file=sys.stderr
    )
    with Sandbox(db_path, args.latency_ms, secrets.token_hex(16)) as sandbox:
        os.environ["IONWORKS_API_KEY"] = sandbox.api_key
        ours(sandbox, manifests, args.concurrency)  # warm-up: imports, pint registry, caches
        times: dict[str, list[float]] = {"ours": [], "sequential": [], "fetch": [], "yaml": []}
        for _ in range(args.repeat):  # interleaved, so a noisy moment hits every column
            times["ours"].append(ours(sandbox, manifests, args.concurrency))
            times["sequential"].append(sequential(sandbox, count))
            for part, seconds in floor(sandbox, manifests, count, args.concurrency).items():
                times[part].append(seconds)
        parts = breakdown(sandbox, manifests, args.concurrency)
        env = {**os.environ, "IONWORKS_API_URL": sandbox.url}
        plan_command = [sys.executable, "-m", "reconciler", "--concurrency", str(args.concurrency)]
        cold, rss = child_run([*plan_command, "plan", str(manifests)], env)
    median = {name: statistics.median(values) for name, values in times.items()}
    return Row(
        count,
        median["ours"],
        median["sequential"],
        median["fetch"],
        median["yaml"],
        cold,
        rss,
        parts,
    )


def report(rows: list[Row], idle_rss: float, args: argparse.Namespace) -> None:
    print(
        f"\nplan with no changes; sandbox latency {args.latency_ms:g} ms/request, concurrency "
        f"{args.concurrency}, {args.docs_per_file} doc(s)/file, median of {args.repeat}\n"
    )
    print(
        "| N | ours (s) | sequential (s) | floor (s) | sequential/ours | ours/floor "
        "| sequential/floor | cold CLI (s) | peak RSS (MiB) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r.specs:,} | {r.ours:.2f} | {r.sequential:.2f} | {r.floor:.2f} "
            f"| {r.sequential / r.ours:.1f}x | {r.ours / r.floor:.2f}x "
            f"| {r.sequential / r.floor:.1f}x | {r.cold:.2f} | {r.rss:.0f} |"
        )
    print("\ntargets: sequential/ours >= 8x, ours/floor <= 1.3x, peak RSS at 10,000 <= 300 MiB")
    print("sequential/floor is the best ratio any client could reach against this server")
    print(f"idle interpreter with the same imports: {idle_rss:.0f} MiB peak RSS")
    if len(rows) >= 2:
        small, large = rows[0], rows[-1]
        print(
            f"scaling: ours({large.specs:,}) / ours({small.specs:,}) = "
            f"{large.ours / small.ours:.1f} (linear: {large.specs / small.specs:.1f})"
        )
    print("\nwhere the time goes (medians for the floor; plan's stages timed once, apart):\n")
    print(
        "| N | floor: fetch | floor: YAML | sequential/floor fetch | plan: load manifests "
        "| plan: fetch | plan: normalise + diff + guards | plan: render |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        stages = " | ".join(f"{seconds:.2f}" for seconds in r.parts.values())
        print(
            f"| {r.specs:,} | {r.floor_fetch:.2f} | {r.floor_yaml:.2f} "
            f"| {r.sequential / r.floor_fetch:.1f}x | {stages} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--specs", default="1000,10000", help="comma-separated sizes")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=ApiSettings().concurrency)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per column (median)")
    parser.add_argument("--docs-per-file", type=int, default=1, help="1 is what export writes")
    args = parser.parse_args()
    sizes = [int(size) for size in args.specs.split(",")]
    idle_rss = child_run([sys.executable, "-c", IDLE_IMPORTS], dict(os.environ))[1]
    with tempfile.TemporaryDirectory(prefix="bench-plan-") as tmp:
        rows = [bench(count, args, Path(tmp)) for count in sizes]
    report(rows, idle_rss, args)


if __name__ == "__main__":
    main()
