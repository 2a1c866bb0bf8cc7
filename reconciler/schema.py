"""The shape of a cell-specification manifest (pydantic) and the checks pydantic cannot express.

The pydantic models are strict (unknown keys are errors) at the top level, in ``ratings``,
``source``, each component and its ``material``; ``properties`` and ``definition`` are free-form
but numbers there must be Quantities. ``check_spec`` returns every problem as an ``Issue``
addressed by its path in the document, so the loader can point at ``file:line:col``; this module
knows nothing about YAML. A document with ``kind: material`` is a material catalog entry
(``MaterialManifest``, ``check_material``); ``reconciler.editor_schema`` turns both models into
the JSON Schema editors use.
"""

from __future__ import annotations

import json
import math
import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema

from reconciler.paths import path_text
from reconciler.schema_checks import (
    DocPath,
    Issue,
    check_free_form,
    check_lifecycle,
    check_name,
    check_ratings,
    describe_value,
    null_inside,
    quantity_example,
    suggest,
)

__all__ = [
    "CellSpecManifest",
    "Issue",
    "MaterialManifest",
    "check_material",
    "check_spec",
    "model_at",
    "validation_issues",
]

_STRICT = ConfigDict(extra="forbid", strict=True)
# A placeholder pydantic accepts; json_schema() swaps in a reference to PropertyValue.
FREE_FORM_MARK = "x-free-form"
FreeForm = Annotated[dict[str, Any], WithJsonSchema({"type": "object", FREE_FORM_MARK: True})]
SERVER_FIELDS = frozenset(
    {"id", "organization_id", "created_by", "created_by_email", "created_at", "updated_at"}
    | {"instance_ids", "component_type", "material_id"}
    | {f"{slot}_id" for slot in ("anode", "cathode", "electrolyte", "separator", "case")}
)


class Quantity(BaseModel):
    """A number with its unit, the only way numbers appear in a cell specification."""

    model_config = ConfigDict(extra="forbid", strict=True, title="Quantity")
    value: float = Field(allow_inf_nan=False, description="A finite number.")
    unit: str = Field(
        min_length=1,
        description="pint syntax (A*h, mg/cm**2, mA*h/g) or dot-exponent syntax (A.h, mg.cm-2, "
        "mA.h.g-1, mol.L-1), not both in one unit (mA*h/g-1 would mean mA*h*g); also Ah, mAh, "
        "Wh, percent, wt%, vol%, dimensionless, um, uL, ohm, mOhm. C is a C-rate (1/h); spell "
        "a coulomb `coulomb`.",
    )


def _rating(description: str) -> Any:
    return Field(default=None, description=description)


class Ratings(BaseModel):
    """Electrical ratings; each a Quantity of the stated dimension."""

    model_config = _STRICT
    capacity: Quantity = Field(description="Rated capacity, a charge: A*h, mA*h, A.h. Over 0.")
    voltage_min: Quantity = Field(description="Lower cut-off voltage: V. Below voltage_max.")
    voltage_max: Quantity = Field(description="Upper cut-off voltage: V.")
    nominal_voltage: Quantity | None = _rating("Nominal voltage: V.")
    energy: Quantity | None = _rating("Rated energy: W*h, mW.h.")
    energy_density_gravimetric: Quantity | None = _rating("Energy per mass: W*h/kg, W.h.kg-1.")
    energy_density_volumetric: Quantity | None = _rating("Energy per volume: W*h/L, W.h.L-1.")
    max_charge_rate: Quantity | None = _rating("Maximum charge C-rate: C.")
    max_discharge_rate: Quantity | None = _rating("Maximum discharge C-rate: C.")


class Material(BaseModel):
    """The material of a component; materials are shared per project by name and manufacturer."""

    model_config = _STRICT
    name: str = Field(min_length=1, description="Material name, e.g. NMC811, Graphite.")
    manufacturer: str | None = Field(default=None, description="Who makes the material.")
    definition: FreeForm | None = Field(
        default=None,
        description="Free-form description: text, lists and Quantities (no bare numbers), "
        "e.g. {type: graphite, particle_size_d50: {value: 15, unit: um}}.",
    )
    product_id: str | None = Field(default=None, description="The maker's product id.")


class Component(BaseModel):
    """One slot of the cell (anode, cathode, electrolyte, separator, case)."""

    model_config = _STRICT
    properties: FreeForm | None = Field(
        default=None,
        description="Application properties: text, lists and Quantities (no bare numbers), "
        "e.g. {coating_thickness: {value: 85, unit: um}, binder: PVDF}.",
    )
    material: Material | None = Field(default=None, description="What the component is made of.")


class Source(BaseModel):
    """Where the specification comes from."""

    model_config = _STRICT
    doi: str | None = Field(default=None, description="DOI of the publication.")
    license: str | None = Field(default=None, description="License of the data, e.g. CC-BY-4.0.")
    publication_date: str | None = Field(default=None, description="Date, e.g. 2020-05-01.")
    citation: str | None = Field(default=None, description="Human-readable citation.")
    creator_name: str | None = Field(default=None, description="Who created the data.")
    creator_orcid: str | None = Field(default=None, description="The creator's ORCID iD.")


class LifecycleSettings(BaseModel):
    """Reconciler-only settings; never sent to the API."""

    model_config = _STRICT
    previous_names: list[str] = Field(
        default_factory=list,
        description="Former names of this spec: a live spec with one of them is renamed, "
        "not deleted and recreated.",
    )
    ignore_fields: list[str] = Field(
        default_factory=list,
        description="Dotted paths never diffed for this spec, e.g. properties.last_calibrated.",
    )


def _component(slot: str) -> Any:
    return Field(default=None, description=f"The {slot}: properties and material.")


class CellSpecManifest(BaseModel):
    """One Ionworks cell specification, as declared in a manifest document."""

    model_config = ConfigDict(extra="forbid", strict=True, title="Ionworks cell specification")
    kind: Literal["cell_specification"] | None = Field(
        default=None,
        description="What this document is; a cell specification unless it says "
        "`kind: material`. Never sent to the API.",
    )
    name: str = Field(description="Unique name of the spec within the project.")
    form_factor: str | None = Field(
        default=None, description="Free text: 18650, 21700, R2032, pouch, prismatic ..."
    )
    manufacturer: str | None = Field(default=None, description="Who made the cell.")
    ratings: Ratings | None = Field(default=None, description="Electrical ratings.")
    properties: FreeForm | None = Field(
        default=None,
        description="Non-electrical design properties: text, lists and Quantities "
        "(no bare numbers), e.g. {assembly_method: wound, mass: {value: 69, unit: g}}.",
    )
    source: Source | None = Field(default=None, description="Provenance of the data.")
    anode: Component | None = _component("anode")
    cathode: Component | None = _component("cathode")
    electrolyte: Component | None = _component("electrolyte")
    separator: Component | None = _component("separator")
    case: Component | None = _component("case")
    notes: str | None = Field(default=None, description="Free text.")
    lifecycle: LifecycleSettings | None = Field(
        default=None, description="Reconciler-only settings, never sent to the API."
    )


class MaterialManifest(Material):
    """A material catalog entry: the one definition of a material shared by every spec that
    uses it (identity: name and manufacturer)."""

    model_config = ConfigDict(extra="forbid", strict=True, title="Ionworks material")
    kind: Literal["material"] = Field(description="`material`: this document is a material.")


TOP_LEVEL_FIELDS = tuple(CellSpecManifest.model_fields)
#: Keys of a manifest document for ionworks-apply alone, never sent to the API.
RECONCILER_FIELDS = frozenset({"kind", "lifecycle"})
_FREE_FORM_FIELDS = frozenset({"properties", "definition"})
_PROJECT_SETTINGS = frozenset(
    {"owner", "prune", "protect", "max_deletes", "max_delete_percent", "allow_cascade"}
)


def check_spec(document: Mapping[str, Any]) -> list[Issue]:
    """Every problem in one spec document, at most one per path, in a stable order."""
    issues = _non_finite_anywhere(document)
    data = dict(document)
    if "project_id" in data:
        del data["project_id"]
        message = (
            "project_id does not belong in a manifest: every spec goes to the project named "
            "by project_id in ionworks-apply.yaml"
        )
        issues.append(Issue(("project_id",), message, at_key=True))
    try:
        CellSpecManifest.model_validate(data)
    except ValidationError as exc:
        issues.extend(validation_issues(exc, CellSpecManifest, data))
    issues.extend(check_name(data.get("name")))
    if "ratings" in data and data["ratings"] is None:
        message = (
            "ratings: null would clear the ratings, which Ionworks requires (with capacity, "
            "voltage_min and voltage_max) and refuses to clear: leave ratings out to keep what "
            "Ionworks has, or give the ratings"
        )
        issues.append(Issue(("ratings",), message))
    for key in ("properties", "anode", "cathode", "electrolyte", "separator", "case"):
        issues.extend(_component_free_form(key, data.get(key)))
    if isinstance(data.get("source"), dict):
        nulls = [key for key, value in data["source"].items() if value is None]
        issues.extend(null_inside(("source", key)) for key in nulls)
    issues.extend(check_ratings(data.get("ratings")))
    issues.extend(check_lifecycle(data.get("lifecycle"), data.get("name"), TOP_LEVEL_FIELDS))
    return _one_per_path(issues)


def check_material(document: Mapping[str, Any]) -> list[Issue]:
    """Every problem in one material catalog document (``kind: material``)."""
    issues = _non_finite_anywhere(document)
    try:
        MaterialManifest.model_validate(document)
    except ValidationError as exc:
        issues.extend(validation_issues(exc, MaterialManifest, document))
    issues.extend(check_name(document.get("name")))
    if isinstance(document.get("definition"), dict):
        issues.extend(check_free_form(document["definition"], ("definition",)))
    return _one_per_path(issues)


def document_kind(document: Mapping[str, Any]) -> str | None:
    """``material``, ``cell_specification``, or None for a kind we do not know."""
    kind = document.get("kind", "cell_specification")
    return kind if kind in ("material", "cell_specification") else None


def _component_free_form(key: str, value: Any) -> list[Issue]:
    if key == "properties":
        return check_free_form(value, (key,)) if isinstance(value, dict) else []
    if not isinstance(value, dict):
        return []
    issues = []
    if isinstance(value.get("properties"), dict):
        issues.extend(check_free_form(value["properties"], (key, "properties")))
    material = value.get("material")
    if isinstance(material, dict) and isinstance(material.get("definition"), dict):
        issues.extend(check_free_form(material["definition"], (key, "material", "definition")))
    return issues


def _non_finite_anywhere(document: Mapping[str, Any]) -> list[Issue]:
    """NaN and infinity anywhere in the document. JSON refuses them, and in C: a fast first
    look at every spec, so that the paths are only built for the rare one that has any."""
    try:
        json.dumps(document, allow_nan=False)
    except (ValueError, TypeError):
        return _non_finite(document, ())
    return []


def _non_finite(value: Any, path: DocPath) -> list[Issue]:
    if isinstance(value, float) and not math.isfinite(value):
        message = (
            f"{value} is not a finite number (.nan, .inf and numbers over 1e308 are not allowed)"
        )
        return [Issue(path, message)]
    if isinstance(value, dict):
        return [issue for k, v in value.items() for issue in _non_finite(v, (*path, k))]
    if isinstance(value, list):
        return [issue for i, v in enumerate(value) for issue in _non_finite(v, (*path, i))]
    return []


def _one_per_path(issues: list[Issue]) -> list[Issue]:
    """Keep the first issue per place, and none below a value that is itself wrong."""
    kept: dict[tuple[DocPath, bool], Issue] = {}
    wrong_values: set[DocPath] = set()
    for issue in issues:
        place = (issue.path, issue.at_key)
        if place in kept or any(issue.path[:n] in wrong_values for n in range(len(issue.path))):
            continue
        kept[place] = issue
        if not issue.at_key:
            wrong_values.add(issue.path)
    return list(kept.values())


def validation_issues(
    error: ValidationError, model: type[BaseModel], document: Mapping[str, Any] | None = None
) -> list[Issue]:
    """Pydantic errors in our words: unknown keys get a suggestion (``document``, when given,
    shows where a mis-indented key belongs), types get an example."""
    issues = []
    for item in error.errors(include_url=False):
        path: DocPath = tuple(item["loc"])
        kind, value, ctx = item["type"], item.get("input"), item.get("ctx") or {}
        field = path_text(path)
        if kind == "extra_forbidden":
            issues.append(Issue(path, _unknown_key(model, path, document), at_key=True))
        elif kind == "missing":
            where = f" in {path_text(path[:-1])}" if len(path) > 1 else ""
            issues.append(Issue(path[:-1], f"missing required key {path[-1]!r}{where}", True))
        elif kind == "string_type":
            number = isinstance(value, int | float) and not isinstance(value, bool)
            hint = f'; quote it: "{value}"' if number else ""
            issues.append(Issue(path, f"{field} must be text, got {describe_value(value)}{hint}"))
        elif kind in ("float_type", "float_parsing"):
            issues.append(Issue(path, f"{field} must be a number, got {describe_value(value)}"))
        elif kind in ("int_type", "int_parsing", "int_from_float"):
            got = describe_value(value)
            issues.append(Issue(path, f"{field} must be a whole number, got {got}"))
        elif kind == "bool_type":
            issues.append(
                Issue(path, f"{field} must be true or false, got {describe_value(value)}")
            )
        elif kind in ("model_type", "dict_type", "model_attributes_type"):
            got = describe_value(value)
            if model_at(model, path) is Quantity:
                wanted = f"a Quantity like {quantity_example(path, value)}"
            else:
                wanted = "a mapping (key: value lines)"
            issues.append(Issue(path, f"{field} must be {wanted}, got {got}"))
        elif kind == "list_type":
            issues.append(Issue(path, f"{field} must be a list, got {describe_value(value)}"))
        elif kind == "finite_number":
            issues.append(Issue(path, f"{field} must be a finite number"))
        elif kind == "string_too_short":
            issues.append(Issue(path, f"{field} must not be empty"))
        elif kind == "greater_than_equal":
            issues.append(Issue(path, f"{field} must be at least {ctx.get('ge'):g}"))
        elif kind == "less_than_equal":
            issues.append(Issue(path, f"{field} must be at most {ctx.get('le'):g}"))
        elif kind == "value_error":
            issues.append(Issue(path, f"{field}: {ctx.get('error')}"))
        else:
            issues.append(Issue(path, f"{field}: {item['msg']}"))
    return issues


def _unknown_key(model: type[BaseModel], path: DocPath, document: Mapping[str, Any] | None) -> str:
    key = str(path[-1])
    if key in SERVER_FIELDS:
        return f"unknown key {key!r}: server-assigned fields are not written in manifests"
    parent = model_at(model, path[:-1])
    allowed = list(parent.model_fields) if parent is not None else []
    if parent is Quantity:
        return f"unknown key {key!r} in a Quantity: a Quantity has only value and unit"
    if parent is LifecycleSettings and key in _PROJECT_SETTINGS:
        return f"unknown key {key!r}: {key} is a project setting; set it in ionworks-apply.yaml"
    owner = _indented_too_little(model, path, document) if document is not None else None
    if owner is not None:
        return f"unknown key {key!r}: indent it under {owner}"
    if parent is CellSpecManifest:
        if key in Ratings.model_fields:
            return f"unknown key {key!r}: it belongs under ratings:"
        if key in LifecycleSettings.model_fields:
            return f"unknown key {key!r}: it belongs under lifecycle:"
    return f"unknown key {key!r}{suggest(key, allowed)}"


def _indented_too_little(
    model: type[BaseModel], path: DocPath, document: Mapping[str, Any]
) -> str | None:
    """The key above ``path`` (or a key nested in its last lines) that takes ``path``'s key:
    where a key written too far left belongs, as in ``material:`` / ``  name: G`` followed by
    ``manufacturer: X`` at the level of ``material``. Keys above that are misplaced too are
    looked past; a key that belongs where it is ends the search."""
    key = path[-1]
    parent = model_at(model, path[:-1])
    siblings = list(_value_at(document, path[:-1]) or {})
    index = siblings.index(key) if key in siblings else 0
    for previous in reversed(siblings[:index]):
        above: DocPath = (*path[:-1], previous)
        while True:
            value = _value_at(document, above)
            takes = model_at(model, above)
            if (takes is not None and key in takes.model_fields) or (
                above[-1] in _FREE_FORM_FIELDS and not value
            ):
                return str(above[-1])
            if not isinstance(value, dict) or not value:
                break
            above = (*above, list(value)[-1])
        if parent is None or previous in parent.model_fields:
            return None
    return None


def _value_at(document: Mapping[str, Any], path: DocPath) -> Any:
    value: Any = document
    for part in path:
        found = isinstance(value, dict) and part in value
        found = found or (isinstance(value, list) and isinstance(part, int) and part < len(value))
        if not found:
            return None
        value = value[part]
    return value


def model_at(model: type[BaseModel], path: DocPath) -> type[BaseModel] | None:
    """The model that validates the mapping at ``path`` (list indexes skipped)."""
    current: type[BaseModel] = model
    for part in path:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part)
        inner = _inner_model(field.annotation) if field is not None else None
        if inner is None:
            return None
        current = inner
    return current


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) in (
        typing.Union,
        list,
    ):
        for arg in typing.get_args(annotation):
            found = _inner_model(arg)
            if found is not None:
                return found
    return None
