"""Live records in the manifest's shape: what a manifest can declare, and nothing else.

The API answers with server fields (ids, timestamps, slot ids, component types, nested material
ids, ...). ``live_body`` keeps only the create body's fields, so a live spec and a manifest can
be compared (``reconciler.compare``) and exported; ``live_view`` is what listing keeps of each
record, page by page.
"""

from __future__ import annotations

import typing
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.schema import CellSpecManifest, Component, Material

#: Top-level fields a manifest declares that the API stores (contract 4.1), in the create
#: body's order: the manifest model's, without the reconciler-only ``lifecycle``.
SPEC_FIELDS = tuple(field for field in CellSpecManifest.model_fields if field != "lifecycle")
#: The component slots (anode ... case): the manifest model's fields that hold a Component.
COMPONENT_SLOTS = tuple(
    field
    for field, info in CellSpecManifest.model_fields.items()
    if Component in typing.get_args(info.annotation)
)
MATERIAL_FIELDS = tuple(Material.model_fields)

#: Fields of a live spec read besides its manifest-shaped body (matching, staleness).
IDENTITY_FIELDS = ("id", "name", "project_id", "updated_at")
#: What a view keeps of the rest: each slot's material row id, and how many cells the spec has
#: (a material change's reach is told by row, and weighed in cells).
MATERIAL_IDS = "material_ids"
INSTANCE_COUNT = "instance_count"
#: A material's own fields: shared by every spec using it, so not a spec's state.
MATERIAL_STATE = ("definition", "product_id")


def live_body(record: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest-shaped view of a live spec: server-managed fields dropped."""
    body: dict[str, Any] = {}
    for key in SPEC_FIELDS:
        value = record.get(key)
        if key in COMPONENT_SLOTS:
            value = _live_component(value)
        if value is not None:
            body[key] = value
    return body


def live_view(record: Mapping[str, Any]) -> dict[str, Any]:
    """What plan and apply read of a live spec: ``IDENTITY_FIELDS`` and the ``live_body``.

    Listing keeps only this, page by page, to hold less memory; ``live_body`` of a view is the
    ``live_body`` of the record, so digests and diffs do not change.
    """
    view = {key: record[key] for key in IDENTITY_FIELDS if key in record}
    view.update(live_body(record))
    ids = {slot: _material_id(record.get(slot)) for slot in COMPONENT_SLOTS}
    view[MATERIAL_IDS] = {slot: found for slot, found in ids.items() if found}
    instances = record.get("instance_ids")
    view[INSTANCE_COUNT] = len(instances) if isinstance(instances, list) else 0
    return view


def carries(record: Mapping[str, Any], fields: Iterable[str]) -> bool:
    """Whether a write's answer holds each of ``fields`` as a read of the spec would.

    The API may answer a POST or PATCH with the metadata-only shape of a list (contract 4.2):
    the components' ids (``anode_id`` ...) without the components. Comparing that with what was
    written would take every component for changed by someone else; the answer is not the spec.
    A slot is carried when the answer holds it, or says it is empty (``<slot>_id: null``).
    """
    for field in fields:
        if field in COMPONENT_SLOTS:
            value = record.get(field)
            empty = value is None and f"{field}_id" in record and record[f"{field}_id"] is None
            if not (isinstance(value, Mapping) or empty):
                return False
        elif field in SPEC_FIELDS and field not in record:
            return False
    return True


def spec_state(body: Mapping[str, Any]) -> dict[str, Any]:
    """A manifest-shaped body without its materials' shared state (definition, product id).

    Which material a slot uses is the spec's; what the material is belongs to the material,
    planned and compared once as a material change (``reconciler.materials``), not as a
    difference of every spec that uses it.
    """
    state = dict(body)
    for slot in COMPONENT_SLOTS:
        component = body.get(slot)
        material = component.get("material") if isinstance(component, Mapping) else None
        if isinstance(material, Mapping) and any(key in material for key in MATERIAL_STATE):
            kept = {k: v for k, v in material.items() if k not in MATERIAL_STATE}
            state[slot] = {**component, "material": kept}  # type: ignore[dict-item]
    return state


def _material_id(component: Any) -> str | None:
    if not isinstance(component, Mapping):
        return None
    material = component.get("material")
    found = material.get("id") if isinstance(material, Mapping) else None
    found = found or component.get("material_id")
    return found if isinstance(found, str) else None


def _live_component(component: Any) -> dict[str, Any] | None:
    if not isinstance(component, Mapping):
        return None
    result: dict[str, Any] = {}
    if component.get("properties") is not None:
        result["properties"] = component["properties"]
    material = component.get("material")
    if isinstance(material, Mapping):
        result["material"] = {
            k: material[k] for k in MATERIAL_FIELDS if material.get(k) is not None
        }
    return result
