"""Cell specifications with their components and materials (contract sections 3, 4, 8).

Materials are upserted by identity (project, name, manufacturer). Components are deduplicated
per project by (slot, material, properties): two specs with equal anodes share one row, and a
changed anode means find-or-create plus repointing the slot, never an in-place edit.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from reconciler.sandbox.db import Tx, dumps, loads, new_id
from reconciler.sandbox.errors import Loc, conflict, not_found, raise_invalid
from reconciler.sandbox.query import (
    Page,
    Params,
    Where,
    add_text_filters,
    add_time_filters,
    fetch_page,
)
from reconciler.sandbox.validation import (
    canonical_json,
    patched,
    property_errors,
    ratings_errors,
)

SLOTS = ("anode", "cathode", "electrolyte", "separator", "case")
NESTED_FIELDS = ("ratings", "properties", "source")
PLAIN_FIELDS = ("name", "form_factor", "manufacturer", "notes")
SPEC_COLUMNS = (
    "id, project_id, organization_id, name, form_factor, manufacturer, ratings, properties, "
    "source, notes, anode_id, cathode_id, electrolyte_id, separator_id, case_id, "
    "created_by, created_by_email, created_at, updated_at"
)


def ids_param(ids: Iterable[str]) -> str:
    """A JSON array bound as one parameter and expanded with json_each (no variable limit)."""
    return json.dumps(list(ids))


# -- materials and components ------------------------------------------------------------------


def upsert_material(tx: Tx, project_id: str, given: dict[str, Any], loc: Loc) -> str:
    """Find the material by identity, updating the fields given; create it if new."""
    if given.get("definition") is not None:
        raise_invalid(property_errors(given["definition"], (*loc, "definition")))
    manufacturer = given.get("manufacturer")
    row = tx.one(
        "SELECT id, product_id, definition FROM materials "
        "WHERE project_id = ? AND name = ? AND ifnull(manufacturer, '') = ?",
        (project_id, given["name"], manufacturer or ""),
    )
    if row is None:
        material_id, now = new_id(), tx.now()
        tx.execute(
            "INSERT INTO materials VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                material_id,
                project_id,
                tx.tenant.organization_id,
                given["name"],
                manufacturer,
                given.get("product_id"),
                dumps(given.get("definition")),
                now,
                now,
            ),
        )
        return material_id
    changes = {
        key: value
        for key, value in (
            ("product_id", given.get("product_id")),
            ("definition", dumps(given.get("definition"))),
        )
        if key in given and value != row[key]
    }
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
    mode: str,
) -> str:
    """The id of the component a slot should point at after this request (find-or-create)."""
    loc: Loc = ("body", slot)
    if "material" in given:
        material = given["material"]
        material_id = (
            None
            if material is None
            else upsert_material(tx, project_id, material, (*loc, "material"))
        )
    else:
        material_id = previous["material_id"] if previous is not None else None
    stored = loads(previous["properties"]) if previous is not None else None
    if "properties" in given:
        properties = patched(mode, stored, given["properties"]) or {}
    else:
        properties = stored or {}
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


def components_by_id(tx: Tx, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Nested component objects (with their material) for many ids in one query."""
    rows = tx.all(
        "SELECT c.id, c.component_type, c.material_id, c.organization_id, c.created_at, "
        "c.updated_at, c.properties, m.name AS m_name, m.manufacturer AS m_manufacturer, "
        "m.product_id AS m_product_id, m.definition AS m_definition, "
        "m.organization_id AS m_organization_id, m.created_at AS m_created_at, "
        "m.updated_at AS m_updated_at "
        "FROM components c LEFT JOIN materials m ON m.id = c.material_id "
        "WHERE c.id IN (SELECT value FROM json_each(?))",
        (ids_param(ids),),
    )
    found = {}
    for row in rows:
        material = None
        if row["material_id"] is not None:
            material = {
                "id": row["material_id"],
                "name": row["m_name"],
                "manufacturer": row["m_manufacturer"],
                "product_id": row["m_product_id"],
                "definition": loads(row["m_definition"]),
                "organization_id": row["m_organization_id"],
                "created_at": row["m_created_at"],
                "updated_at": row["m_updated_at"],
            }
        found[row["id"]] = {
            "id": row["id"],
            "component_type": row["component_type"],
            "material_id": row["material_id"],
            "organization_id": row["organization_id"],
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
            "properties": loads(row["properties"]),
            "material": material,
        }
    return found


# -- specifications ----------------------------------------------------------------------------


def spec_json(
    row: sqlite3.Row, instance_ids: list[str], components: dict[str, dict[str, Any]] | None
) -> dict[str, Any]:
    """The API shape of one spec; nested components only when ``components`` is given."""
    item: dict[str, Any] = {key: row[key] for key in row.keys()}  # noqa: SIM118 (sqlite3.Row)
    for key in NESTED_FIELDS:
        item[key] = loads(item[key])
    item["instance_ids"] = instance_ids
    if components is not None:
        for slot in SLOTS:
            component_id = row[f"{slot}_id"]
            item[slot] = None if component_id is None else components[component_id]
    return item


def specs_json(tx: Tx, rows: list[sqlite3.Row], *, full: bool) -> list[dict[str, Any]]:
    """Many specs in a constant number of queries (instance ids, then components)."""
    ids = [row["id"] for row in rows]
    instance_ids: dict[str, list[str]] = {spec_id: [] for spec_id in ids}
    for inst in tx.all(
        "SELECT cell_specification_id, id FROM cell_instances "
        "WHERE cell_specification_id IN (SELECT value FROM json_each(?)) ORDER BY created_at, id",
        (ids_param(ids),),
    ):
        instance_ids[inst["cell_specification_id"]].append(inst["id"])
    components = None
    if full:
        wanted = {row[f"{slot}_id"] for row in rows for slot in SLOTS} - {None}
        components = components_by_id(tx, wanted)
    return [spec_json(row, instance_ids[row["id"]], components) for row in rows]


def load_spec(tx: Tx, spec_id: str) -> sqlite3.Row:
    """The stored spec row, or 404 if it is unknown or belongs to another organization."""
    row = tx.one(
        f"SELECT {SPEC_COLUMNS} FROM cell_specifications WHERE id = ? AND organization_id = ?",
        (spec_id, tx.tenant.organization_id),
    )
    if row is None:
        raise not_found("Cell specification", spec_id)
    return row


def get_spec(tx: Tx, spec_id: str) -> dict[str, Any]:
    return specs_json(tx, [load_spec(tx, spec_id)], full=True)[0]


def _check_name_free(tx: Tx, project_id: str, name: str) -> None:
    row = tx.one(
        "SELECT id FROM cell_specifications WHERE project_id = ? AND name = ?", (project_id, name)
    )
    if row is not None:
        raise conflict(f"Cell specification '{name}' already exists in this project", row["id"])


def _nested_errors(field: str, value: Any, *, ratings_required: bool) -> list[dict[str, Any]]:
    if value is None or field == "source":
        return []
    if field == "ratings":
        return ratings_errors(value, ("body", "ratings"), required=ratings_required)
    return property_errors(value, ("body", field))


def create_spec(tx: Tx, fields: dict[str, Any], *, ratings_required: bool = True) -> str:
    """Insert a spec from a create body; returns its id."""
    project_id = fields["project_id"]
    if (
        tx.one(
            "SELECT 1 FROM projects WHERE id = ? AND organization_id = ?",
            (project_id, tx.tenant.organization_id),
        )
        is None
    ):
        raise not_found("Project", project_id)
    _check_name_free(tx, project_id, fields["name"])
    nested = {key: fields.get(key, {}) for key in NESTED_FIELDS}
    raise_invalid(
        [
            error
            for key, value in nested.items()
            for error in _nested_errors(
                key, value, ratings_required=ratings_required and "ratings" in fields
            )
        ]
    )
    slots = {
        slot: None
        if fields.get(slot) is None
        else resolve_component(tx, project_id, slot, fields[slot], None, "replace")
        for slot in SLOTS
    }
    spec_id, now = new_id(), tx.now()
    tenant = tx.tenant
    tx.execute(
        f"INSERT INTO cell_specifications ({SPEC_COLUMNS}) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            spec_id,
            project_id,
            tenant.organization_id,
            fields["name"],
            fields.get("form_factor"),
            fields.get("manufacturer"),
            *(dumps(nested[key]) for key in NESTED_FIELDS),
            fields.get("notes"),
            *(slots[slot] for slot in SLOTS),
            tenant.user_id,
            tenant.user_email,
            now,
            now,
        ),
    )
    return spec_id


def patch_spec(tx: Tx, spec_id: str, fields: dict[str, Any], *, mode: str) -> None:
    """Apply a partial update: only the keys present change; ``updated_at`` always moves."""
    row = load_spec(tx, spec_id)
    project_id = row["project_id"]
    if "name" in fields and fields["name"] != row["name"]:
        _check_name_free(tx, project_id, fields["name"])
    changes: dict[str, Any] = {key: fields[key] for key in PLAIN_FIELDS if key in fields}
    errors = []
    for key in NESTED_FIELDS:
        if key in fields:
            value = patched(mode, loads(row[key]), fields[key])
            errors.extend(_nested_errors(key, value, ratings_required=False))
            changes[key] = dumps(value)
    raise_invalid(errors)
    for slot in SLOTS:
        if slot not in fields:
            continue
        if fields[slot] is None:
            changes[f"{slot}_id"] = None
            continue
        previous = None
        if row[f"{slot}_id"] is not None:
            previous = tx.one("SELECT * FROM components WHERE id = ?", (row[f"{slot}_id"],))
        changes[f"{slot}_id"] = resolve_component(
            tx, project_id, slot, fields[slot], previous, mode
        )
    tx.update("cell_specifications", row, changes)


def delete_spec(tx: Tx, spec_id: str) -> None:
    """Delete a spec; its batches, instances and measurements go with it (foreign keys)."""
    load_spec(tx, spec_id)
    tx.execute("DELETE FROM cell_specifications WHERE id = ?", (spec_id,))


MATERIAL_SLOT_FILTER = (
    "EXISTS (SELECT 1 FROM components c WHERE c.id IN ({slots}) "
    "AND c.material_id IN (SELECT value FROM json_each(?)))"
)


def _add_material_filters(where: Where, params: Params) -> None:
    any_slot = ", ".join(f"t.{slot}_id" for slot in SLOTS)
    for material_id in params.get("material_id", ()):
        where.add(MATERIAL_SLOT_FILTER.format(slots=any_slot), ids_param([material_id]))
    if params.get("material_ids"):
        where.add(MATERIAL_SLOT_FILTER.format(slots=any_slot), ids_param(params["material_ids"]))
    for slot in SLOTS:
        for material_id in params.get(f"{slot}_material_id", ()):
            where.add(MATERIAL_SLOT_FILTER.format(slots=f"t.{slot}_id"), ids_param([material_id]))
    for excluded in params.get("exclude_cell_spec_id", ()):
        where.add("t.id != ?", excluded)


def list_specs(tx: Tx, params: Params, page: Page, *, full: bool) -> tuple[list[Any], int]:
    """S1: one page of specs visible to the tenant, plus the total matching the filters."""
    where = Where()
    where.add("t.organization_id = ?", tx.tenant.organization_id)
    add_text_filters(
        where,
        params,
        {
            "name": "t.name",
            "form_factor": "t.form_factor",
            "manufacturer": "t.manufacturer",
            "created_by_email": "t.created_by_email",
            "project_id": "t.project_id",
        },
    )
    add_time_filters(where, params, {"created_at": "t.created_at", "updated_at": "t.updated_at"})
    _add_material_filters(where, params)
    columns = ", ".join(f"t.{column.strip()}" for column in SPEC_COLUMNS.split(","))
    rows, total = fetch_page(tx, columns, "cell_specifications", where, page)
    return specs_json(tx, rows, full=full), total
