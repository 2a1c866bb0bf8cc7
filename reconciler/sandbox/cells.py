"""Cell instances, batches and measurements (contract sections 5, 6, 7 and 8).

Derived values stay derived: an instance's ``batch_name`` and a batch's ``instance_count`` are
computed on read, so renames and deletes can never leave them stale.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from reconciler.sandbox.db import Tx, dumps, format_instant, loads, new_id
from reconciler.sandbox.errors import bad_request, conflict, not_found, raise_invalid
from reconciler.sandbox.query import (
    Page,
    Params,
    Where,
    add_text_filters,
    add_time_filters,
    fetch_page,
    ids_param,
)
from reconciler.sandbox.specs import load_spec
from reconciler.sandbox.validation import parse_moment, property_errors
from reconciler.sandbox.writes import Write

MAX_TAGS = 50
MAX_TAG_LENGTH = 50

INSTANCE_SELECT = "t.*, (SELECT b.name FROM cell_batches b WHERE b.id = t.batch_id) AS batch_name"
BATCH_SELECT = (
    "t.*, (SELECT count(*) FROM cell_instances i WHERE i.batch_id = t.id) AS instance_count"
)


def _load(tx: Tx, table: str, kind: str, ident: str, select: str = "t.*") -> sqlite3.Row:
    row = tx.one(
        f"SELECT {select} FROM {table} t WHERE t.id = ? AND t.organization_id = ?",
        (ident, tx.tenant.organization_id),
    )
    if row is None:
        raise not_found(kind, ident)
    return row


def _nested_change(
    fields: dict[str, Any],
    key: str,
    row: sqlite3.Row | None,
    write: Write,
    changes: dict[str, Any],
) -> None:
    """Validate and stage a properties-like field if the body has it."""
    if key not in fields:
        return
    value = write.nested(loads(row[key]) if row is not None else None, fields[key], ("body", key))
    if value is not None:
        raise_invalid(property_errors(value, ("body", key)))
    changes[key] = dumps(value)


# -- batches -----------------------------------------------------------------------------------


def batch_json(row: sqlite3.Row) -> dict[str, Any]:
    item = {key: row[key] for key in row.keys() if key != "name_key"}  # noqa: SIM118
    item["properties"] = loads(item["properties"])
    item["instance_count"] = int(item["instance_count"])
    return item


def get_batch(tx: Tx, batch_id: str) -> dict[str, Any]:
    return batch_json(_load(tx, "cell_batches", "Cell batch", batch_id, BATCH_SELECT))


def _check_batch_name_free(tx: Tx, spec_id: str, name: str, own_id: str | None = None) -> None:
    row = tx.one(
        "SELECT id FROM cell_batches WHERE cell_specification_id = ? AND name_key = ?",
        (spec_id, name.casefold()),
    )
    if row is not None and row["id"] != own_id:
        raise conflict(f"Cell batch '{name}' already exists for this specification", row["id"])


def create_batch(tx: Tx, spec_id: str, fields: dict[str, Any], write: Write) -> str:
    spec = load_spec(tx, spec_id)
    _check_batch_name_free(tx, spec_id, fields["name"])
    staged: dict[str, Any] = {}
    _nested_change(fields, "properties", None, write, staged)
    batch_id, now = new_id(), tx.now()
    tx.execute(
        "INSERT INTO cell_batches (id, cell_specification_id, project_id, organization_id, name, "
        "name_key, notes, date_manufactured, properties, created_by, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            batch_id,
            spec_id,
            spec["project_id"],
            spec["organization_id"],
            fields["name"],
            fields["name"].casefold(),
            fields.get("notes"),
            fields.get("date_manufactured"),
            staged.get("properties"),
            tx.tenant.user_id,
            now,
            now,
        ),
    )
    return batch_id


def patch_batch(tx: Tx, batch_id: str, fields: dict[str, Any], write: Write) -> None:
    row = _load(tx, "cell_batches", "Cell batch", batch_id)
    changes: dict[str, Any] = {
        key: fields[key] for key in ("notes", "date_manufactured") if key in fields
    }
    if "name" in fields:
        _check_batch_name_free(tx, row["cell_specification_id"], fields["name"], batch_id)
        changes["name"] = fields["name"]
        changes["name_key"] = fields["name"].casefold()
    _nested_change(fields, "properties", row, write, changes)
    tx.update("cell_batches", row, changes)


def delete_batch(tx: Tx, batch_id: str) -> None:
    """Members are kept and unlinked (``batch_id`` ON DELETE SET NULL)."""
    _load(tx, "cell_batches", "Cell batch", batch_id)
    tx.execute("DELETE FROM cell_batches WHERE id = ?", (batch_id,))


def list_batches(tx: Tx, spec_id: str, params: Params, page: Page) -> tuple[list[Any], int]:
    load_spec(tx, spec_id)
    where = Where()
    where.add("t.cell_specification_id = ?", spec_id)
    add_text_filters(where, params, {"name": "t.name"})
    add_time_filters(where, params, {"created_at": "t.created_at", "updated_at": "t.updated_at"})
    rows, total = fetch_page(tx, BATCH_SELECT, "cell_batches", where, page)
    return [batch_json(row) for row in rows], total


# -- instances ---------------------------------------------------------------------------------


def instances_json(tx: Tx, rows: list[sqlite3.Row]) -> list[dict[str, Any]]:
    measurement_ids: dict[str, list[str]] = {row["id"]: [] for row in rows}
    for found in tx.all(
        "SELECT cell_instance_id, id FROM cell_measurements "
        "WHERE cell_instance_id IN (SELECT value FROM json_each(?)) ORDER BY created_at, id",
        (ids_param(measurement_ids),),
    ):
        measurement_ids[found["cell_instance_id"]].append(found["id"])
    items = []
    for row in rows:
        item = {key: row[key] for key in row.keys()}  # noqa: SIM118
        item["measured_properties"] = loads(item["measured_properties"])
        item["measurement_ids"] = measurement_ids[row["id"]]
        items.append(item)
    return items


def get_instance(tx: Tx, instance_id: str) -> dict[str, Any]:
    row = _load(tx, "cell_instances", "Cell instance", instance_id, INSTANCE_SELECT)
    return instances_json(tx, [row])[0]


def _check_instance_name_free(tx: Tx, spec_id: str, name: str) -> None:
    row = tx.one(
        "SELECT id FROM cell_instances WHERE cell_specification_id = ? AND name = ?",
        (spec_id, name),
    )
    if row is not None:
        raise conflict(f"Cell instance '{name}' already exists for this specification", row["id"])


def _check_batch_of_spec(tx: Tx, batch_id: str | None, spec_id: str) -> None:
    if batch_id is None:
        return
    row = tx.one(
        "SELECT 1 FROM cell_batches WHERE id = ? AND cell_specification_id = ?",
        (batch_id, spec_id),
    )
    if row is None:
        raise bad_request(f"batch_id '{batch_id}' is not a batch of cell specification '{spec_id}'")


def create_instance(tx: Tx, spec_id: str, fields: dict[str, Any], write: Write) -> str:
    spec = load_spec(tx, spec_id)
    _check_instance_name_free(tx, spec_id, fields["name"])
    _check_batch_of_spec(tx, fields.get("batch_id"), spec_id)
    staged: dict[str, Any] = {}
    _nested_change(fields, "measured_properties", None, write, staged)
    instance_id, now = new_id(), tx.now()
    tx.execute(
        "INSERT INTO cell_instances (id, cell_specification_id, project_id, organization_id, "
        "name, batch_id, measured_properties, date_manufactured, notes, created_by, "
        "created_by_email, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            instance_id,
            spec_id,
            spec["project_id"],
            spec["organization_id"],
            fields["name"],
            fields.get("batch_id"),
            staged.get("measured_properties"),
            fields.get("date_manufactured"),
            fields.get("notes"),
            tx.tenant.user_id,
            tx.tenant.user_email,
            now,
            now,
        ),
    )
    return instance_id


def patch_instance(tx: Tx, instance_id: str, fields: dict[str, Any], write: Write) -> None:
    row = _load(tx, "cell_instances", "Cell instance", instance_id)
    spec_id = row["cell_specification_id"]
    if "name" in fields and fields["name"] != row["name"]:
        _check_instance_name_free(tx, spec_id, fields["name"])
    if "batch_id" in fields:
        _check_batch_of_spec(tx, fields["batch_id"], spec_id)
    changes: dict[str, Any] = {
        key: fields[key]
        for key in ("name", "batch_id", "date_manufactured", "notes")
        if key in fields
    }
    _nested_change(fields, "measured_properties", row, write, changes)
    tx.update("cell_instances", row, changes)


def delete_instance(tx: Tx, instance_id: str) -> None:
    """Its measurements go with it (foreign key cascade)."""
    _load(tx, "cell_instances", "Cell instance", instance_id)
    tx.execute("DELETE FROM cell_instances WHERE id = ?", (instance_id,))


def list_instances(tx: Tx, spec_id: str, params: Params, page: Page) -> tuple[list[Any], int]:
    load_spec(tx, spec_id)
    where = Where()
    where.add("t.cell_specification_id = ?", spec_id)
    add_text_filters(
        where,
        params,
        {"name": "t.name", "created_by_email": "t.created_by_email", "batch_id": "t.batch_id"},
    )
    add_time_filters(where, params, {"created_at": "t.created_at", "updated_at": "t.updated_at"})
    rows, total = fetch_page(tx, INSTANCE_SELECT, "cell_instances", where, page)
    return instances_json(tx, rows), total


# -- measurements ------------------------------------------------------------------------------

MEASUREMENT_JSON_FIELDS = ("properties", "protocol", "test_setup", "file_metadata", "tags")


def measurement_json(row: sqlite3.Row) -> dict[str, Any]:
    item = {key: row[key] for key in row.keys()}  # noqa: SIM118
    for key in MEASUREMENT_JSON_FIELDS:
        item[key] = loads(item[key])
    item["step_labels_validated"] = bool(item["step_labels_validated"])
    item.update(
        protocol_id=None,
        channel_id=None,
        processing_status="ready",
        processing_error=None,
        estimated_end_time=None,
    )
    return item


def get_measurement(tx: Tx, measurement_id: str) -> dict[str, Any]:
    return measurement_json(_load(tx, "cell_measurements", "Cell measurement", measurement_id))


def normalise_tags(tags: list[str]) -> list[str]:
    """Trimmed, deduplicated ignoring case (first spelling wins), sorted; limits give 400."""
    kept: dict[str, str] = {}
    for tag in tags:
        tag = tag.strip()
        if not tag:
            continue
        if len(tag) > MAX_TAG_LENGTH:
            raise bad_request(f"Tag '{tag[:20]}...' is longer than {MAX_TAG_LENGTH} characters")
        kept.setdefault(tag.casefold(), tag)
    if len(kept) > MAX_TAGS:
        raise bad_request(f"A measurement may carry at most {MAX_TAGS} tags")
    return sorted(kept.values(), key=str.casefold)


def _instant(raw: str | None) -> str | None:
    """Measurement times are stored in one spelling so the ``start_time_*`` filters compare."""
    return None if raw is None else format_instant(parse_moment(raw))


def _check_times(start: str | None, end: str | None) -> None:
    if start is not None and end is not None and parse_moment(end) < parse_moment(start):
        raise bad_request("end_time must not be before start_time")


def create_measurement(tx: Tx, instance_id: str, fields: dict[str, Any], write: Write) -> str:
    instance = _load(tx, "cell_instances", "Cell instance", instance_id)
    existing = tx.one(
        "SELECT id FROM cell_measurements WHERE cell_instance_id = ? AND name = ?",
        (instance_id, fields["name"]),
    )
    if existing is not None:
        raise conflict(
            f"Cell measurement '{fields['name']}' already exists for this instance", existing["id"]
        )
    staged: dict[str, Any] = {}
    _nested_change(fields, "properties", None, write, staged)
    _check_times(fields.get("start_time"), fields.get("end_time"))
    measurement_id, now = new_id(), tx.now()
    tx.execute(
        "INSERT INTO cell_measurements (id, cell_instance_id, project_id, organization_id, name, "
        "measurement_type, properties, protocol, test_setup, start_time, end_time, notes, tags, "
        "step_labels_validated, file_metadata, created_by, created_by_email, created_at, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            measurement_id,
            instance_id,
            instance["project_id"],
            instance["organization_id"],
            fields["name"],
            fields.get("measurement_type", "properties"),
            staged["properties"],
            dumps(fields.get("protocol")),
            dumps(fields.get("test_setup")),
            _instant(fields.get("start_time")),
            _instant(fields.get("end_time")),
            fields.get("notes"),
            dumps(normalise_tags(fields.get("tags") or [])),
            int(fields.get("step_labels_validated", False)),
            dumps(fields.get("file_metadata")),
            tx.tenant.user_id,
            tx.tenant.user_email,
            now,
            now,
        ),
    )
    return measurement_id


def patch_measurement(tx: Tx, measurement_id: str, fields: dict[str, Any], write: Write) -> None:
    row = _load(tx, "cell_measurements", "Cell measurement", measurement_id)
    if fields.get("channel_id") is not None:
        raise bad_request("Channels can be attached to time_series measurements only")
    if "name" in fields and fields["name"] != row["name"]:
        clash = tx.one(
            "SELECT id FROM cell_measurements WHERE cell_instance_id = ? AND name = ?",
            (row["cell_instance_id"], fields["name"]),
        )
        if clash is not None:
            raise conflict(
                f"Cell measurement '{fields['name']}' already exists for this instance", clash["id"]
            )
    changes: dict[str, Any] = {key: fields[key] for key in ("name", "notes") if key in fields}
    for key in ("start_time", "end_time"):
        if key in fields:
            changes[key] = _instant(fields[key])
    for key in ("protocol", "test_setup", "file_metadata"):
        if key in fields:
            changes[key] = dumps(fields[key])
    if "step_labels_validated" in fields:
        changes["step_labels_validated"] = int(fields["step_labels_validated"])
    if "tags" in fields:
        changes["tags"] = dumps(normalise_tags(fields["tags"] or []))
    _nested_change(fields, "properties", row, write, changes)
    _check_times(
        changes.get("start_time", row["start_time"]), changes.get("end_time", row["end_time"])
    )
    tx.update("cell_measurements", row, changes)


def delete_measurement(tx: Tx, measurement_id: str) -> None:
    _load(tx, "cell_measurements", "Cell measurement", measurement_id)
    tx.execute("DELETE FROM cell_measurements WHERE id = ?", (measurement_id,))


TAG_MATCH = "EXISTS (SELECT 1 FROM json_each(t.tags) j WHERE lower(j.value) = lower(?))"


def list_measurements(
    tx: Tx, instance_id: str, params: Params, page: Page
) -> tuple[list[Any], int]:
    _load(tx, "cell_instances", "Cell instance", instance_id)
    where = Where()
    where.add("t.cell_instance_id = ?", instance_id)
    add_text_filters(
        where,
        params,
        {
            "name": "t.name",
            "measurement_type": "t.measurement_type",
            "created_by_email": "t.created_by_email",
        },
    )
    add_time_filters(
        where,
        params,
        {"created_at": "t.created_at", "updated_at": "t.updated_at", "start_time": "t.start_time"},
    )
    for tag in params.get("tags_all", ()):
        where.add(TAG_MATCH, tag)
    if params.get("tags_any"):
        where.add(
            "(" + " OR ".join([TAG_MATCH] * len(params["tags_any"])) + ")", *params["tags_any"]
        )
    rows, total = fetch_page(tx, "t.*", "cell_measurements", where, page)
    return [measurement_json(row) for row in rows], total
