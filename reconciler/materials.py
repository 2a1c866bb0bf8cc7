"""Shared materials in the plan: which differ from the manifests, whom a change reaches, and
how apply makes it.

A material's definition and product id live in one row that every spec using it points at
(in the API's usual behaviour), so a change made through one spec reaches them all: specs of
this directory, of other owners, and unmanaged ones. Pure functions over the desired materials
(``reconciler.catalog``), the live records (listing views, which keep each slot's material row
id) and the planner's matches: no HTTP here.

Which rows a plan would write: the rows this directory's specs already use for that material,
and, when a manifest starts using it (a create, or a slot switched to it) while exactly one row
exists, that row too (a new use joins the shared row). Several rows for one material mean the
API keeps one per spec: a new use then gets its own. A changed row reaches every spec that uses
it; reach is computed from the listing the plan already fetched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler import compare
from reconciler.catalog import DesiredMaterial, MaterialKey, material_key
from reconciler.manifests import SpecDocument
from reconciler.normalise import COMPONENT_SLOTS, INSTANCE_COUNT, MATERIAL_IDS
from reconciler.ownership import foreign_owner, marker_of
from reconciler.plan import Change, FieldChange, MaterialChange, Reached, material_title

#: ``Reached.owner`` of a spec this directory manages (or declares and will adopt).
HERE = "here"


@dataclass(frozen=True)
class LiveUse:
    """One live spec's slot using a material: which row, and that row's state."""

    spec_id: str
    spec_name: str
    slot: str
    key: MaterialKey
    row: str
    material: Mapping[str, Any]
    owner: str | None
    instances: int


def live_uses(records: Iterable[Mapping[str, Any]], marker: str, ours: set[str]) -> list[LiveUse]:
    """Every material use of the live specs; ``ours`` are the ids this directory declares."""
    found = []
    for record in records:
        spec_id = str(record["id"])
        ours_now = spec_id in ours or marker_of(record) == marker
        owner = HERE if ours_now else foreign_owner(record, marker)
        row_ids = record.get(MATERIAL_IDS) or {}
        for slot in COMPONENT_SLOTS:
            component = record.get(slot)
            material = component.get("material") if isinstance(component, Mapping) else None
            if not isinstance(material, Mapping) or not isinstance(material.get("name"), str):
                continue
            found.append(
                LiveUse(
                    spec_id=spec_id,
                    spec_name=str(record["name"]),
                    slot=slot,
                    key=material_key(material),
                    # Without a row id, a use can only be assumed to be a row of its own.
                    row=row_ids.get(slot) or f"{spec_id}/{slot}",
                    material=material,
                    owner=owner,
                    instances=int(record.get(INSTANCE_COUNT) or 0),
                )
            )
    return found


def plan_materials(
    desired: Sequence[DesiredMaterial],
    records: Sequence[Mapping[str, Any]],
    matched: Sequence[tuple[SpecDocument, Mapping[str, Any]]],
    created: Sequence[SpecDocument],
    changes: Sequence[Change],
    marker: str,
) -> tuple[list[MaterialChange], list[str]]:
    """The material changes, and the materials the manifests use but define nowhere."""
    ours = {str(record["id"]) for _, record in matched}
    uses = live_uses(records, marker, ours)
    by_key: dict[MaterialKey, list[LiveUse]] = {}
    for use in uses:
        by_key.setdefault(use.key, []).append(use)
    wanted = _slots_by_key([spec for spec, _ in matched] + list(created))
    planned: list[MaterialChange] = []
    kept: list[str] = []
    for material in desired:
        if material.key not in wanted:
            continue
        if material.definition is None and material.product_id is None:
            kept.append(material_title(material.key))
            continue
        change = _material_change(
            material, by_key.get(material.key, []), wanted[material.key], matched, changes
        )
        if change is not None:
            planned.append(change)
    return planned, kept


def _slots_by_key(specs: Iterable[SpecDocument]) -> dict[MaterialKey, list[tuple[str, str]]]:
    """Per material, every ``(spec name, slot)`` of the manifests that uses it."""
    found: dict[MaterialKey, list[tuple[str, str]]] = {}
    for spec in specs:
        for slot in COMPONENT_SLOTS:
            component = spec.body.get(slot)
            material = component.get("material") if isinstance(component, Mapping) else None
            if isinstance(material, Mapping) and isinstance(material.get("name"), str):
                found.setdefault(material_key(material), []).append((spec.name, slot))
    return found


def _material_change(
    material: DesiredMaterial,
    uses: Sequence[LiveUse],
    wanted: Sequence[tuple[str, str]],
    matched: Sequence[tuple[SpecDocument, Mapping[str, Any]]],
    changes: Sequence[Change],
) -> MaterialChange | None:
    rows: dict[str, list[LiveUse]] = {}
    for use in uses:
        rows.setdefault(use.row, []).append(use)
    wanted_set = set(wanted)
    written = {u.row for u in uses if u.owner == HERE and (u.spec_name, u.slot) in wanted_set}
    existing = {(u.spec_name, u.slot) for u in uses}
    if len(rows) == 1 and any(place not in existing for place in wanted):
        written |= set(rows)
    differing = sorted(row for row in written if not holds(rows[row][0].material, material))
    if not differing:
        return None
    reached = {u.spec_id: u for row in differing for u in rows[row]}
    before = dict(rows[differing[0]][0].material)
    carried = _carried_by(material.key, changes)
    via = None if carried else _via(material, uses, matched, changes)
    bodies: dict[str, dict[str, Any]] = {}
    for spec, _ in matched:
        for name, slot in wanted:
            if name == spec.name:
                bodies.setdefault(name, {})[slot] = spec.body[slot]
    return MaterialChange(
        key=material.key,
        desired=material.data,
        before=before,
        details=tuple(_details(before, material)),
        reach=tuple(
            Reached(u.spec_name, u.spec_id, u.owner, u.instances)
            for u in sorted(reached.values(), key=lambda u: u.spec_name)
        ),
        targets=tuple(sorted({name for name, _ in wanted})),
        target_bodies=bodies,
        rows=len(differing),
        source=str(material.defined_at) if material.defined_at else None,
        carried_by=carried,
        spec_id=via[0] if via else None,
        via=via[1] if via else None,
        body=via[2] if via else {},
        live_digest=via[3] if via else None,
    )


def holds(live: Mapping[str, Any], material: DesiredMaterial) -> bool:
    """Whether a live material shows what the manifests define (what they leave out is free)."""
    if material.definition is not None and not compare.same(
        live.get("definition"), material.definition
    ):
        return False
    return material.product_id is None or live.get("product_id") == material.product_id


def _details(before: Mapping[str, Any], material: DesiredMaterial) -> list[FieldChange]:
    details = []
    if material.definition is not None:
        details += compare.field_differences(
            "definition", before.get("definition"), material.definition
        )
    if material.product_id is not None and before.get("product_id") != material.product_id:
        details.append(FieldChange("product_id", before.get("product_id"), material.product_id))
    return details


def _carried_by(key: MaterialKey, changes: Sequence[Change]) -> tuple[str, ...]:
    """Names of the plan's writes whose body carries the material (so they write it anyway)."""
    carriers = []
    for change in changes:
        if change.kind in ("delete", "orphan"):
            continue
        for slot in COMPONENT_SLOTS:
            component = change.body.get(slot)
            material = component.get("material") if isinstance(component, Mapping) else None
            if isinstance(material, Mapping) and material_key(material) == key:
                carriers.append(change.name)
                break
    return tuple(sorted(carriers))


def _via(
    material: DesiredMaterial,
    uses: Sequence[LiveUse],
    matched: Sequence[tuple[SpecDocument, Mapping[str, Any]]],
    changes: Sequence[Change],
) -> tuple[str, str, dict[str, Any], str] | None:
    """The smallest write that makes the change: one component of one spec of ours that uses
    the material and is not being deleted; ``(spec id, name, PATCH body, live digest)``."""
    gone = {c.spec_id for c in changes if c.kind == "delete"}
    records = {str(record["id"]): (spec, record) for spec, record in matched}
    candidates = []
    for use in uses:
        if use.spec_id not in records or use.spec_id in gone:
            continue
        spec, record = records[use.spec_id]
        component = spec.body.get(use.slot)
        if not isinstance(component, Mapping):
            continue
        used = component.get("material")
        if not isinstance(used, Mapping) or material_key(used) != material.key:
            continue
        body = {use.slot: dict(component)}
        size = len(compare.canonical_json(body))
        candidates.append((size, spec.name, use.spec_id, body, compare.live_digest(record)))
    if not candidates:
        return None
    _, name, spec_id, body, digest = min(candidates, key=lambda c: (c[0], c[1]))
    return spec_id, name, body, digest


__all__ = ["HERE", "LiveUse", "holds", "live_uses", "plan_materials"]


def _as_before(use: LiveUse, change: MaterialChange) -> bool:
    return compare.same(
        use.material.get("definition"), change.before.get("definition")
    ) and use.material.get("product_id") == change.before.get("product_id")


def moved_since(change: MaterialChange, records: Sequence[Mapping[str, Any]], marker: str) -> str:
    """Why a planned material change no longer holds ("" when it does): a target's material is
    neither as the plan saw it nor already as desired, or the rows now reach more specs."""
    desired = DesiredMaterial(
        change.key, change.desired.get("definition"), change.desired.get("product_id")
    )
    targets = set(change.targets)
    ids = {str(r["id"]) for r in records if str(r["name"]) in targets}
    uses = [u for u in live_uses(records, marker, ids) if u.key == change.key]
    rows = {u.row for u in uses if u.spec_name in targets}
    # With one row, the plan saw its state; with one row per spec it kept only the first's.
    for use in uses if change.rows == 1 else ():
        if use.row in rows and not holds(use.material, desired) and not _as_before(use, change):
            return f"material {change.name} changed since the plan was made"
    planned = {r.spec_id for r in change.reach}
    new = sorted(
        u.spec_name for u in uses if u.row in rows and u.owner != HERE and u.spec_id not in planned
    )
    if new:
        return f"material {change.name} now also reaches {', '.join(new)}"
    return ""
