"""Cell specifications (contract sections 3, 4 and 8); their components live in materials.py.

Every write takes a ``Write`` (writes.py): how nested objects merge, which nulls are refused,
whether ratings need their core keys, how materials are upserted, or (raw writes) no rules.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from reconciler.sandbox.db import Tx, dumps, loads, new_id
from reconciler.sandbox.errors import conflict, field_error, not_found, raise_invalid
from reconciler.sandbox.materials import components_by_id, resolve_component
from reconciler.sandbox.query import (
    Page,
    Params,
    Where,
    add_text_filters,
    add_time_filters,
    fetch_page,
    ids_param,
)
from reconciler.sandbox.validation import property_errors, ratings_errors
from reconciler.sandbox.writes import DEFAULTS, Write

SLOTS = ("anode", "cathode", "electrolyte", "separator", "case")
NESTED_FIELDS = ("ratings", "properties", "source")
PLAIN_FIELDS = ("name", "form_factor", "manufacturer", "notes")
SPEC_COLUMNS = (
    "id, project_id, organization_id, name, form_factor, manufacturer, ratings, properties, "
    "source, notes, anode_id, cathode_id, electrolyte_id, separator_id, case_id, "
    "created_by, created_by_email, created_at, updated_at"
)


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


def get_spec(tx: Tx, spec_id: str, *, full: bool = True) -> dict[str, Any]:
    return specs_json(tx, [load_spec(tx, spec_id)], full=full)[0]


def _check_name_free(tx: Tx, project_id: str, name: str) -> None:
    row = tx.one(
        "SELECT id FROM cell_specifications WHERE project_id = ? AND name = ?", (project_id, name)
    )
    if row is not None:
        raise conflict(f"Cell specification '{name}' already exists in this project", row["id"])


def _nested_errors(field: str, value: Any, write: Write) -> list[dict[str, Any]]:
    """Quantity and ratings rules for the value a write stores in ``field``."""
    loc = ("body", field)
    if not write.checked:
        return []
    if field == "ratings":
        if value is None:
            if not write.ratings_required:
                return []
            return [field_error(loc, "Ratings are required; they cannot be null", "not_nullable")]
        return ratings_errors(value, loc, required=write.ratings_required)
    if value is None or field == "source":
        return []
    return property_errors(value, loc)


def _check_project(tx: Tx, project_id: str) -> None:
    row = tx.one(
        "SELECT 1 FROM projects WHERE id = ? AND organization_id = ?",
        (project_id, tx.tenant.organization_id),
    )
    if row is None:
        raise not_found("Project", project_id)


def create_spec(tx: Tx, fields: dict[str, Any], write: Write = DEFAULTS) -> str:
    """Insert a spec from a create body; returns its id.

    Nested fields left out are stored as ``{}`` (``null`` for raw writes, which store as sent).
    """
    project_id = fields["project_id"]
    _check_project(tx, project_id)
    _check_name_free(tx, project_id, fields["name"])
    absent: dict[str, Any] | None = {} if write.checked else None
    nested: dict[str, Any] = {}
    for key in NESTED_FIELDS:
        if key in fields:
            nested[key] = write.nested(None, fields[key], ("body", key))
            raise_invalid(_nested_errors(key, nested[key], write))
        else:
            nested[key] = absent
    spec_id = new_id()
    slots = {
        slot: None
        if fields.get(slot) is None
        else resolve_component(tx, project_id, slot, fields[slot], None, write, spec_id)
        for slot in SLOTS
    }
    now, tenant = tx.now(), tx.tenant
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


def patch_spec(tx: Tx, spec_id: str, fields: dict[str, Any], write: Write) -> None:
    """Apply a partial update: only the keys present change; ``updated_at`` always moves."""
    row = load_spec(tx, spec_id)
    project_id = row["project_id"]
    if "name" in fields and fields["name"] != row["name"]:
        _check_name_free(tx, project_id, fields["name"])
    changes: dict[str, Any] = {key: fields[key] for key in PLAIN_FIELDS if key in fields}
    errors = []
    for key in NESTED_FIELDS:
        if key in fields:
            value = write.nested(loads(row[key]), fields[key], ("body", key))
            errors.extend(_nested_errors(key, value, write))
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
            tx, project_id, slot, fields[slot], previous, write, spec_id
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
