"""Bulk instances, batches and measurements under existing specs, for demos and load tests.

Used by ``POST /_sandbox/seed`` and by ``ionworks-apply sandbox seed`` (which works on the
database file directly, so no server needs to run). Everything goes through the same storage
functions as the API, so seeded rows obey the same rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from reconciler.sandbox.cells import create_batch, create_instance, create_measurement
from reconciler.sandbox.db import Tx
from reconciler.sandbox.writes import DEFAULTS


@dataclass
class SeedCounts:
    """How many rows a seed run added."""

    specs: int = 0
    batches: int = 0
    instances: int = 0
    measurements: int = 0

    def add(self, other: SeedCounts) -> None:
        for key, value in asdict(other).items():
            setattr(self, key, getattr(self, key) + value)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _free_names(prefix: str, taken: set[str], fold: bool = False) -> Iterator[str]:
    number = 0
    while True:
        number += 1
        name = f"{prefix}-{number:04d}"
        if (name.casefold() if fold else name) not in taken:
            yield name


def find_specs(tx: Tx, name: str | None = None, project_id: str | None = None) -> list[str]:
    """Ids of the tenant's specs, optionally by exact name and project, oldest first."""
    sql = "SELECT id FROM cell_specifications WHERE organization_id = ?"
    params: list[Any] = [tx.tenant.organization_id]
    if name is not None:
        sql += " AND name = ?"
        params.append(name)
    if project_id is not None:
        sql += " AND project_id = ?"
        params.append(project_id)
    return [row["id"] for row in tx.all(sql + " ORDER BY created_at, id", params)]


def seed_spec(
    tx: Tx, spec_id: str, *, instances: int, measurements: int, batches: int
) -> SeedCounts:
    """Add ``instances`` cells spread round-robin over ``batches`` new lots, each cell with
    ``measurements`` properties measurements."""
    lot_names = _free_names(
        "seed-lot",
        {
            r["name_key"]
            for r in tx.all(
                "SELECT name_key FROM cell_batches WHERE cell_specification_id = ?", (spec_id,)
            )
        },
        fold=True,
    )
    write = DEFAULTS
    batch_ids = [
        create_batch(tx, spec_id, {"name": next(lot_names)}, write) for _ in range(batches)
    ]
    cell_names = _free_names(
        "seed-cell",
        {
            r["name"]
            for r in tx.all(
                "SELECT name FROM cell_instances WHERE cell_specification_id = ?", (spec_id,)
            )
        },
    )
    for index in range(instances):
        instance_id = create_instance(
            tx,
            spec_id,
            {
                "name": next(cell_names),
                "batch_id": batch_ids[index % len(batch_ids)] if batch_ids else None,
                "measured_properties": {
                    "cell": {"weight": {"value": 45.0 + index % 7, "unit": "g"}}
                },
            },
            write,
        )
        for number in range(measurements):
            create_measurement(
                tx,
                instance_id,
                {
                    "name": f"properties-{number + 1:03d}",
                    "measurement_type": "properties",
                    "properties": {"thickness": {"value": 0.1 + number / 1000, "unit": "mm"}},
                    "tags": ["seed"],
                },
                write,
            )
    return SeedCounts(
        specs=1, batches=batches, instances=instances, measurements=instances * measurements
    )
