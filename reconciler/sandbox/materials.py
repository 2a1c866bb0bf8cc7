"""Materials and components: what spec writes upsert (contract 4.1, 4.3 and 8.2).

Materials are found by identity (project, name, manufacturer). What a spec write does to an
existing one is unknown, so ``material_upsert`` picks:

* ``update`` (default): the ``definition`` / ``product_id`` sent replace the shared row's, so
  every spec using the material sees the change (deep-merged instead on a merge-mode PATCH);
* ``keep-first``: an existing row is never changed by a spec write; the spec just links to it;
* ``per-spec``: nothing is shared: each spec's slot has its own row (``scope`` = spec + slot).

Under every mode a material sent without ``definition`` or ``product_id`` (or with ``null``)
keeps the stored value: a spec write never wipes what other specs may rely on.

Components are deduplicated per project by (slot, material, properties): two specs with equal
anodes share one row, and a changed anode means find-or-create plus repointing the slot.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable
from typing import Any

from reconciler.sandbox.db import Tx, dumps, loads, new_id
from reconciler.sandbox.errors import Loc, not_found, raise_invalid
from reconciler.sandbox.query import Page, Where, fetch_page, ids_param
from reconciler.sandbox.validation import canonical_json, property_errors
from reconciler.sandbox.writes import Write

MATERIAL_COLUMNS = (
    "id, project_id, organization_id, name, manufacturer, product_id, definition, "
    "created_at, updated_at"
)


def upsert_material(
    tx: Tx, project_id: str, given: dict[str, Any], loc: Loc, write: Write, scope: str
) -> str:
    """The id of the material a slot points at after this write (see the module docstring).

    ``scope`` names the spec slot, for ``per-spec``; shared rows have the scope ``''``.
    """
    definition, product_id = given.get("definition"), given.get("product_id")
    definition_loc = (*loc, "definition")
    if definition is not None and write.checked:
        raise_invalid(property_errors(definition, definition_loc))
        write.check_nulls(definition, definition_loc)
    scope = scope if write.material_upsert == "per-spec" else ""
    manufacturer = given.get("manufacturer")
    row = tx.one(
        "SELECT id, product_id, definition FROM materials WHERE project_id = ? AND name = ? "
        "AND ifnull(manufacturer, '') = ? AND scope = ?",
        (project_id, given["name"], manufacturer or "", scope),
    )
    if row is None:
        material_id, now = new_id(), tx.now()
        stored = write.nested(None, definition, definition_loc)
        tx.execute(
            f"INSERT INTO materials ({MATERIAL_COLUMNS}, scope) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                material_id,
                project_id,
                tx.tenant.organization_id,
                given["name"],
                manufacturer,
                product_id,
                dumps(stored),
                now,
                now,
                scope,
            ),
        )
        return material_id
    if write.material_upsert == "keep-first":
        return str(row["id"])
    changes: dict[str, Any] = {}
    if product_id is not None and product_id != row["product_id"]:
        changes["product_id"] = product_id
    if definition is not None:
        merged = dumps(write.nested(loads(row["definition"]), definition, definition_loc))
        if merged != row["definition"]:
            changes["definition"] = merged
    if changes:
        assignments = ", ".join(f"{key} = ?" for key in changes)
        tx.execute(
            f"UPDATE materials SET {assignments}, updated_at = ? WHERE id = ?",
            (*changes.values(), tx.now(), row["id"]),
        )
    return str(row["id"])


def resolve_component(
    tx: Tx,
    project_id: str,
    slot: str,
    given: dict[str, Any],
    previous: sqlite3.Row | None,
    write: Write,
    spec_id: str,
) -> str:
    """The id of the component a slot should point at after this request (find-or-create).

    Left out of ``given``, ``material`` and ``properties`` keep the previous component's.
    """
    loc: Loc = ("body", slot)
    if "material" in given:
        material = given["material"]
        material_id = (
            None
            if material is None
            else upsert_material(
                tx, project_id, material, (*loc, "material"), write, f"{spec_id}:{slot}"
            )
        )
    else:
        material_id = previous["material_id"] if previous is not None else None
    stored = loads(previous["properties"]) if previous is not None else None
    if "properties" in given:
        properties = write.nested(stored, given["properties"], (*loc, "properties")) or {}
    else:
        properties = stored or {}
    if write.checked:
        raise_invalid(property_errors(properties, (*loc, "properties")))
    identity = hashlib.sha256(canonical_json([material_id, properties]).encode()).hexdigest()
    row = tx.one(
        "SELECT id FROM components WHERE project_id = ? AND component_type = ? AND identity = ?",
        (project_id, slot, identity),
    )
    if row is not None:
        return str(row["id"])
    component_id, now = new_id(), tx.now()
    tx.execute(
        "INSERT INTO components VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            component_id,
            project_id,
            tx.tenant.organization_id,
            slot,
            material_id,
            dumps(properties),
            identity,
            now,
            now,
        ),
    )
    return component_id


def material_json(row: sqlite3.Row, *, prefix: str = "") -> dict[str, Any]:
    """The API shape of a material (columns read under ``prefix``, e.g. ``m_`` in a join)."""
    return {
        "id": row[f"{prefix}id"],
        "name": row[f"{prefix}name"],
        "manufacturer": row[f"{prefix}manufacturer"],
        "product_id": row[f"{prefix}product_id"],
        "definition": loads(row[f"{prefix}definition"]),
        "organization_id": row[f"{prefix}organization_id"],
        "created_at": row[f"{prefix}created_at"],
        "updated_at": row[f"{prefix}updated_at"],
    }


def components_by_id(tx: Tx, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Nested component objects (with their material) for many ids in one query."""
    rows = tx.all(
        "SELECT c.id, c.component_type, c.material_id, c.organization_id, c.created_at, "
        "c.updated_at, c.properties, m.id AS m_id, m.name AS m_name, "
        "m.manufacturer AS m_manufacturer, m.product_id AS m_product_id, "
        "m.definition AS m_definition, m.organization_id AS m_organization_id, "
        "m.created_at AS m_created_at, m.updated_at AS m_updated_at "
        "FROM components c LEFT JOIN materials m ON m.id = c.material_id "
        "WHERE c.id IN (SELECT value FROM json_each(?))",
        (ids_param(ids),),
    )
    return {
        row["id"]: {
            "id": row["id"],
            "component_type": row["component_type"],
            "material_id": row["material_id"],
            "organization_id": row["organization_id"],
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
            "properties": loads(row["properties"]),
            "material": None if row["m_id"] is None else material_json(row, prefix="m_"),
        }
        for row in rows
    }


def _listed(row: sqlite3.Row) -> dict[str, Any]:
    return {**material_json(row), "project_id": row["project_id"]}


def get_material(tx: Tx, material_id: str) -> dict[str, Any]:
    row = tx.one(
        f"SELECT {MATERIAL_COLUMNS} FROM materials WHERE id = ? AND organization_id = ?",
        (material_id, tx.tenant.organization_id),
    )
    if row is None:
        raise not_found("Material", material_id)
    return _listed(row)


def list_materials(tx: Tx, page: Page) -> tuple[list[dict[str, Any]], int]:
    """The organization's materials; ``project_id`` does not filter them (contract 4.3)."""
    where = Where()
    where.add("t.organization_id = ?", tx.tenant.organization_id)
    columns = ", ".join(f"t.{column.strip()}" for column in MATERIAL_COLUMNS.split(","))
    rows, total = fetch_page(tx, columns, "materials", where, page)
    return [_listed(row) for row in rows], total
