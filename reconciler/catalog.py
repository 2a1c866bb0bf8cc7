"""The material catalog: every shared material defined once, and each spec's use of it.

In Ionworks a material (project + ``name`` + ``manufacturer``) is shared by every spec that uses
it, in any slot, and a spec write upserts it. So a material's ``definition`` and ``product_id``
are not a spec's to set: two manifests that disagree on them would each rewrite the material in
turn, forever. Here a material is defined once: by a catalog document (``kind: material``,
conventionally under ``materials/``) or inline in a component. Two catalog entries for one
material, or definitions that differ (compared physically, units as everywhere), are errors
naming every place. A component that names a material without defining it takes the one
definition there is (``expand``), so every body sent carries the whole material; a material
defined nowhere is sent by name only, and Ionworks keeps whatever definition it has.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from reconciler.compare import same
from reconciler.errors import Location, Problem
from reconciler.plan import material_title

#: A material's identity within a project: its name and its manufacturer (None: none given).
MaterialKey = tuple[str, str | None]
#: Where a path inside spec number N of the set was written (re-read with full positions: slow,
#: so only for problems).
Locate = Callable[[int, tuple[str | int, ...]], Location]
#: Roughly where a slot of spec number N is (known without re-reading the file).
Near = Callable[[int, str], Location]
#: The fields of a material that are the material's, not a spec's.
SHARED_FIELDS = ("definition", "product_id")


def material_key(material: Mapping[str, Any]) -> MaterialKey:
    manufacturer = material.get("manufacturer")
    return str(material.get("name")), manufacturer if isinstance(manufacturer, str) else None


@dataclass(frozen=True)
class MaterialDocument:
    """One catalog entry, as written in a ``kind: material`` document."""

    key: MaterialKey
    definition: dict[str, Any] | None
    product_id: str | None
    location: Location
    field_locations: Mapping[str, Location]


@dataclass(frozen=True)
class DesiredMaterial:
    """What the manifests say a material is: its definition and product id (None: not said),
    and where that was said (a catalog entry, or the first inline definition)."""

    key: MaterialKey
    definition: dict[str, Any] | None = None
    product_id: str | None = None
    defined_at: Location | None = None

    @property
    def data(self) -> dict[str, Any]:
        """The material as a spec body carries it: identity plus what the manifests define."""
        name, manufacturer = self.key
        data: dict[str, Any] = {"name": name}
        if manufacturer is not None:
            data["manufacturer"] = manufacturer
        if self.definition is not None:
            data["definition"] = self.definition
        if self.product_id is not None:
            data["product_id"] = self.product_id
        return data


@dataclass(frozen=True)
class _Use:
    """A component's material in spec number ``spec``, slot ``slot``."""

    spec: int
    slot: str
    material: Mapping[str, Any]


def uses(bodies: Sequence[Mapping[str, Any]], slots: Iterable[str]) -> list[_Use]:
    """Every component material of the given spec bodies, in order."""
    slot_names = tuple(slots)
    found = []
    for number, body in enumerate(bodies):
        for slot in slot_names:
            component = body.get(slot)
            material = component.get("material") if isinstance(component, Mapping) else None
            if isinstance(material, Mapping) and isinstance(material.get("name"), str):
                found.append(_Use(number, slot, material))
    return found


def build_catalog(
    documents: Sequence[MaterialDocument],
    bodies: Sequence[Mapping[str, Any]],
    slots: Iterable[str],
    locate: Locate,
    near: Near,
) -> tuple[dict[MaterialKey, DesiredMaterial], list[Problem]]:
    """The desired material per key, and a problem at every place that contradicts another.

    Exact positions (``locate``) are looked up only for problems: with thousands of specs
    defining materials inline, re-reading every file for them would triple loading.
    """
    problems: list[Problem] = []
    catalog: dict[MaterialKey, DesiredMaterial] = {}
    entries: dict[MaterialKey, MaterialDocument] = {}
    for document in documents:
        first = entries.setdefault(document.key, document)
        if first is not document:
            problems.append(
                Problem(
                    document.location,
                    f"material {material_title(document.key)} is already in the catalog at "
                    f"{first.location}; define each material once",
                )
            )
            continue
        catalog[document.key] = DesiredMaterial(
            document.key, document.definition, document.product_id, document.location
        )
    inline: dict[tuple[MaterialKey, str], tuple[Any, _Use]] = {}
    agreed: set[tuple[MaterialKey, str, str]] = set()  # values found to agree, by their repr
    for use in uses(bodies, slots):
        key = material_key(use.material)
        catalog.setdefault(key, DesiredMaterial(key))
        for field in SHARED_FIELDS:
            if field in use.material and use.material[field] is None:
                problems.append(
                    Problem(
                        locate(use.spec, (use.slot, "material", field)),
                        f"{field}: null is not sent: material {material_title(key)} is shared by "
                        f"every spec that uses it, so a spec cannot clear its {field}",
                        "warning",
                    )
                )
            value = use.material.get(field)
            if value is None:
                continue
            written = repr(value)  # the same text again needs no physical comparison
            if (key, field, written) in agreed:
                continue
            problem = _conflict(key, field, value, use, entries, inline, locate)
            if problem:
                problems.append(problem)
                continue
            agreed.add((key, field, written))
            if (key, field) not in inline:
                inline[(key, field)] = (value, use)
                if key not in entries:
                    catalog[key] = replace(catalog[key], **{field: value})
                    if catalog[key].defined_at is None:
                        catalog[key] = replace(catalog[key], defined_at=near(use.spec, use.slot))
    return catalog, problems


def _conflict(
    key: MaterialKey,
    field: str,
    value: Any,
    use: _Use,
    entries: Mapping[MaterialKey, MaterialDocument],
    inline: Mapping[tuple[MaterialKey, str], tuple[Any, _Use]],
    locate: Locate,
) -> Problem | None:
    """A problem when ``value`` differs from the catalog's, or from an earlier inline one."""
    entry = entries.get(key)
    if entry is not None:
        theirs = getattr(entry, field)
        if theirs is None:
            return Problem(
                locate(use.spec, (use.slot, "material", field)),
                f"material {material_title(key)} is in the catalog at {entry.location}, which "
                f"sets no {field}; set it there, once, not here",
            )
        if same(value, theirs):
            return None
        where = entry.field_locations.get(field, entry.location)
        what = "the catalog's"
    elif (key, field) in inline:
        theirs, first = inline[(key, field)]
        if same(value, theirs):
            return None
        where = locate(first.spec, (first.slot, "material", field))
        what = "the one"
    else:
        return None
    return Problem(
        locate(use.spec, (use.slot, "material", field)),
        f"material {material_title(key)} is shared by every spec that uses it, but this {field} "
        f"differs from {what} at {where}; define it once (a `kind: material` document) and "
        "name it here by name and manufacturer",
    )


def expand(
    body: Mapping[str, Any], catalog: Mapping[MaterialKey, DesiredMaterial], slots: Iterable[str]
) -> dict[str, Any]:
    """``body`` with every component material carrying the one desired definition (a new dict;
    components without a material, or materials defined nowhere, are left as written)."""
    expanded = dict(body)
    for slot in slots:
        component = body.get(slot)
        material = component.get("material") if isinstance(component, Mapping) else None
        if not isinstance(material, Mapping) or not isinstance(material.get("name"), str):
            continue
        desired = catalog.get(material_key(material))
        if desired is not None:
            expanded[slot] = {**component, "material": desired.data}  # type: ignore[dict-item]
    return expanded
