"""Benchmark: ``ionworks-apply apply`` of N creates, against the same POSTs sent one by one.

Not a test (no assertions on time, not collected by pytest). It writes N manifests (the specs of
``bench_plan.py``), serves an empty sandbox database with ``python -m reconciler.sandbox serve
--latency-ms 50`` in a child process (see ``bench_plan.py`` for why not a thread), and times:

- ours: the whole ``apply --yes`` command in-process (``cli.main``): load the manifests, plan,
  re-read the project (staleness check), N concurrent POSTs, re-fetch and verify every spec;
- sequential: the N create bodies POSTed one after another with a synchronous httpx client;
- floor: the same POSTs with our default concurrency and nothing else (no plan, no checks).

The project is reset through the sandbox's admin route between runs. Read the ratios.

    .venv/bin/python tests/bench/bench_apply.py [--creates 1000] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from bench_plan import MARKER, SPECS, Sandbox, populate, run_cli, spec_body, write_manifests

from reconciler.api import ApiSettings, Credentials, IonworksClient
from reconciler.applier import Applier
from reconciler.engine import load_targets, make_plan
from reconciler.freshness import check_fresh
from reconciler.guards import GuardOptions
from reconciler.plan import Change
from reconciler.results import Outcome


def create_bodies(count: int, project_id: str) -> list[dict[str, Any]]:
    """What ``apply`` sends for each create: the manifest as written, the marker, the project."""
    bodies = []
    for index in range(count):
        body = spec_body(index, live=False)
        body["properties"]["managed_by"] = MARKER
        bodies.append({**body, "project_id": project_id})
    return bodies


def api_headers(sandbox: Sandbox) -> dict[str, str]:
    return {"X-API-Key": sandbox.api_key, "Accept": "application/json"}


def reset(sandbox: Sandbox) -> None:
    with httpx.Client(base_url=sandbox.url, headers=api_headers(sandbox)) as api:
        api.post("/_sandbox/reset").raise_for_status()


def spec_count(sandbox: Sandbox) -> int:
    with httpx.Client(base_url=sandbox.url, headers=api_headers(sandbox)) as api:
        page = api.get(SPECS, params={"project_id": sandbox.project_id, "limit": 1})
        page.raise_for_status()
        total: int = page.json()["total"]
        return total


def ours(sandbox: Sandbox, manifests: Path, count: int, concurrency: int) -> float:
    args = ["--api-url", sandbox.url, "--concurrency", str(concurrency), "apply", "--yes"]
    started = time.perf_counter()
    output = run_cli([*args, str(manifests)])
    seconds = time.perf_counter() - started
    if f"Apply complete: {count} applied" not in output:
        raise RuntimeError(f"apply did not create {count} specs: {output[-500:]}")
    return seconds


def sequential(sandbox: Sandbox, bodies: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    with httpx.Client(base_url=sandbox.url, headers=api_headers(sandbox), timeout=60) as api:
        for body in bodies:
            api.post(SPECS, json=body).raise_for_status()
    return time.perf_counter() - started


def floor(sandbox: Sandbox, bodies: list[dict[str, Any]], concurrency: int) -> float:
    async def send_all() -> None:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        gate = asyncio.Semaphore(concurrency)
        async with httpx.AsyncClient(
            base_url=sandbox.url, headers=api_headers(sandbox), limits=limits, timeout=60
        ) as api:

            async def send(body: dict[str, Any]) -> None:
                async with gate:
                    response = await api.post(SPECS, json=body)
                response.raise_for_status()

            await asyncio.gather(*(send(body) for body in bodies))

    started = time.perf_counter()
    asyncio.run(send_all())
    return time.perf_counter() - started


class _Clock:
    """A silent apply reporter that notes when the last write finished (verification follows)."""

    def __init__(self) -> None:
        self.last_write = 0.0

    def cascade_warning(self, change: Change) -> None:
        pass

    def begin(self, total: int) -> None:
        self.last_write = time.perf_counter()

    def done(self, outcome: Outcome) -> None:
        self.last_write = time.perf_counter()


def breakdown(sandbox: Sandbox, manifests: Path, concurrency: int) -> dict[str, float]:
    """The stages of ``apply``, timed one by one through the library."""
    times: dict[str, float] = {}
    settings = ApiSettings(
        base_url=sandbox.url,
        credentials=Credentials(api_key=sandbox.api_key),
        concurrency=concurrency,
    )

    async def run() -> None:
        started = time.perf_counter()
        (target,) = load_targets([manifests], None)
        async with IonworksClient(settings) as client:
            plan = await make_plan(
                client, target, api_url=sandbox.url, prune=False, options=GuardOptions()
            )
            times["plan (load + fetch + diff)"] = time.perf_counter() - started
            started = time.perf_counter()
            already = await check_fresh(client, plan)
            times["staleness check"] = time.perf_counter() - started
            clock = _Clock()
            started = time.perf_counter()
            result = await Applier(client, plan, clock).run(already)
            ended = time.perf_counter()
        times["writes (POST)"] = clock.last_write - started
        times["verify (re-fetch + compare)"] = ended - clock.last_write
        if not result.ok:
            raise RuntimeError(f"apply failed: {result.data['summary']}")

    asyncio.run(run())
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--creates", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=ApiSettings().concurrency)
    parser.add_argument("--repeat", type=int, default=1, help="timed runs per column (median)")
    args = parser.parse_args()
    count = args.creates
    with tempfile.TemporaryDirectory(prefix="bench-apply-") as tmp:
        db_path = Path(tmp) / "sandbox.db"
        project_id = populate(db_path, 0)  # an empty project
        manifests = Path(tmp) / "manifests"
        write_manifests(manifests, count, project_id, 1)
        bodies = create_bodies(count, project_id)
        with Sandbox(db_path, args.latency_ms, secrets.token_hex(16)) as sandbox:
            os.environ["IONWORKS_API_KEY"] = sandbox.api_key
            ours(sandbox, manifests, count, args.concurrency)  # warm-up: imports, pint, caches
            times: dict[str, list[float]] = {"ours": [], "sequential": [], "floor": []}
            runs = {
                "ours": lambda: ours(sandbox, manifests, count, args.concurrency),
                "sequential": lambda: sequential(sandbox, bodies),
                "floor": lambda: floor(sandbox, bodies, args.concurrency),
            }
            for _ in range(args.repeat):
                for name, run in runs.items():
                    reset(sandbox)
                    times[name].append(run())
                    if spec_count(sandbox) != count:
                        raise RuntimeError(f"{name} left {spec_count(sandbox)} specs, not {count}")
            reset(sandbox)
            parts = breakdown(sandbox, manifests, args.concurrency)
    ours_s, sequential_s, floor_s = (statistics.median(times[k]) for k in runs)
    print(
        f"\napply of {count:,} creates; sandbox latency {args.latency_ms:g} ms/request, "
        f"concurrency {args.concurrency}, median of {args.repeat}\n"
    )
    print("| creates | ours (s) | sequential (s) | floor (s) | sequential/ours | ours/floor |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {count:,} | {ours_s:.2f} | {sequential_s:.2f} | {floor_s:.2f} "
        f"| {sequential_s / ours_s:.1f}x | {ours_s / floor_s:.2f}x |"
    )
    print("\ntarget: sequential/ours >= 6x")
    print("\nwhere apply's time goes (one run, stages timed separately):\n")
    total = sum(parts.values())
    print("| " + " | ".join(parts) + " |")
    print("|" + "---:|" * len(parts))
    print("| " + " | ".join(f"{s:.2f} s ({100 * s / total:.0f}%)" for s in parts.values()) + " |")


if __name__ == "__main__":
    main()
