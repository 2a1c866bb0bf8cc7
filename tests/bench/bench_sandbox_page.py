"""Benchmark: how fast the sandbox serves a deep page of full specs over real HTTP.

Not a test (no assertions, not collected by pytest). It stores N specs (default 10,000), each
with ratings and 3-5 components whose properties differ per spec, directly through the storage
layer, starts a SandboxServer on 127.0.0.1 and times page requests with a keep-alive client.

    .venv/bin/python tests/bench/bench_sandbox_page.py [--specs 10000] [--requests 200]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from reconciler.sandbox.db import Database
from reconciler.sandbox.server import SandboxServer, SandboxSettings
from reconciler.sandbox.specs import create_spec

MATERIALS = [
    {
        "name": f"Material {n}",
        "manufacturer": f"Maker {n % 4}",
        "definition": {"type": "active", "d50": {"value": 5 + n, "unit": "um"}},
    }
    for n in range(20)
]


URL = "/cell_specifications"


def q(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit}


def spec_body(index: int, project_id: str) -> dict[str, Any]:
    """A spec with 3-5 components; component properties vary so few rows are shared."""
    body: dict[str, Any] = {
        "name": f"bench-{index:05d}",
        "project_id": project_id,
        "form_factor": ("R2032", "pouch", "18650")[index % 3],
        "manufacturer": "Bench Cells",
        "ratings": {
            "capacity": q(2 + index / 10_000, "A*h"),
            "voltage_min": q(2.5, "V"),
            "voltage_max": q(4.2, "V"),
            "nominal_voltage": q(3.6, "V"),
            "energy": q(9, "W.h"),
        },
        "properties": {"assembly_method": "stacked", "layers": q(10, "dimensionless")},
        "anode": {
            "properties": {"loading": q(5 + index / 1000, "mg/cm**2"), "binder": "PVDF"},
            "material": MATERIALS[index % 20],
        },
        "cathode": {
            "properties": {"loading": q(12 + index / 1000, "mg/cm**2")},
            "material": MATERIALS[(index + 7) % 20],
        },
        "separator": {"properties": {"thickness": q(25, "um")}},
    }
    if index % 3 != 0:
        electrolyte = {"name": "LP57", "definition": {"solvents": ["EC", "EMC"]}}
        body["electrolyte"] = {
            "properties": {"volume": q(40 + index % 5, "uL")},
            "material": electrolyte,
        }
    if index % 3 == 2:
        body["case"] = {"properties": {"diameter": q(20, "mm")}}
    return body


def populate(db_path: Path, count: int) -> None:
    db = Database(db_path)
    try:
        project_id = db.tenant.default_project_id
        with db.transaction() as tx:
            for index in range(count):
                create_spec(tx, spec_body(index, project_id))
    finally:
        db.close()


def timed(api: httpx.Client, url: str, params: dict[str, Any], requests: int) -> list[float]:
    for _ in range(5):  # warm-up
        api.get(url, params=params).raise_for_status()
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        response = api.get(url, params=params)
        timings.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return timings


def report(label: str, timings: list[float], size: int) -> None:
    p95 = statistics.quantiles(timings, n=20)[18]
    print(
        f"{label:<44} median {statistics.median(timings):6.2f} ms   p95 {p95:6.2f} ms   "
        f"max {max(timings):6.2f} ms   ({size / 1024:.0f} KiB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "bench.db"
        started = time.perf_counter()
        populate(db_path, args.specs)
        print(f"stored {args.specs} specs in {time.perf_counter() - started:.1f} s")
        with (
            SandboxServer(SandboxSettings(db_path=db_path)) as server,
            httpx.Client(base_url=server.url, headers={"X-API-Key": server.api_key}) as api,
        ):
            last_page = max(args.specs - 100, 0)
            scope = {"project_id": server.project_id}
            by_name = {"order_by": "name", "order": "asc"}
            cases = [
                (
                    f"full=true limit=100 offset={last_page}",
                    {"full": "true", "limit": 100, "offset": last_page, **scope},
                ),
                ("full=true limit=100 offset=0", {"full": "true", "limit": 100, **scope}),
                (
                    f"metadata limit=100 offset={last_page}",
                    {"limit": 100, "offset": last_page, **scope},
                ),
                ("name=eq. identity lookup", {"name": "eq.bench-04321", "full": "true", **scope}),
                (
                    f"order_by=name asc full=true offset={last_page}",
                    {"full": "true", "limit": 100, "offset": last_page, **by_name, **scope},
                ),
                ("order_by=name asc full=true offset=0", {"full": "true", **by_name, **scope}),
                (
                    f"order_by=name asc metadata offset={last_page}",
                    {"limit": 100, "offset": last_page, **by_name, **scope},
                ),
                (
                    f"org-wide default order offset={last_page}",
                    {"limit": 100, "offset": last_page},
                ),
                (
                    f"org-wide order_by=name asc offset={last_page}",
                    {"limit": 100, "offset": last_page, **by_name},
                ),
            ]
            for label, params in cases:
                size = len(api.get(URL, params=params).content)
                report(label, timed(api, URL, params, args.requests), size)


if __name__ == "__main__":
    main()
