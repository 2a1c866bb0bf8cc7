"""Live and desired records -> one comparable form.

The API answers with server fields (ids, timestamps, slot ids, component types, ...) and echoes
unit strings verbatim; manifests spell units as their authors like. Before anything is compared
both sides go through here:

* ``live_body`` keeps only what a manifest can declare (the create body's fields);
* ``comparable`` turns a value into a canonical tree: Quantities become their physical value in
  base units, numbers a fixed-precision string, and absent, null and empty objects all vanish;
* ``digest`` is a stable hash of a comparable tree, recorded in plans to detect stale ones.

Ownership markers and ignored paths are removed with ``without_paths`` before comparing.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from reconciler import units

#: Top-level fields of a cell specification that a manifest can declare (contract 4.1).
SPEC_FIELDS = (
    "name",
    "form_factor",
    "manufacturer",
    "ratings",
    "properties",
    "source",
    "anode",
    "cathode",
    "electrolyte",
    "separator",
    "case",
    "notes",
)
COMPONENT_SLOTS = ("anode", "cathode", "electrolyte", "separator", "case")
COMPONENT_FIELDS = ("properties", "material")
MATERIAL_FIELDS = ("name", "manufacturer", "definition", "product_id")

#: Fields of a live spec read besides its manifest-shaped body (matching, staleness).
IDENTITY_FIELDS = ("id", "name", "project_id", "updated_at")

#: Significant digits kept when numbers are compared; finer differences are float noise.
SIGNIFICANT_DIGITS = 12
REL_TOL = 1e-9
#: Leading characters that mark number and Quantity leaves; text starting with one is escaped.
_TEXT_MARKS = ("#", "~", "=")


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
    return view


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


def comparable(value: Any) -> Any:
    """A canonical, hashable-by-json form of a value; equal forms mean 'no change'.

    Runs for every field of every spec on both sides of a plan, so the plain JSON types are
    dispatched on their exact type first; anything else takes the general path below.
    """
    kind = type(value)
    if kind is str:
        return "=" + value if value.startswith(_TEXT_MARKS) else value
    if kind is dict:
        return _comparable_mapping(value)
    if kind is float or kind is int:
        return _number_key(value)
    if kind is list:
        return [comparable(item) for item in value]
    if value is None or kind is bool:
        return value
    if isinstance(value, Mapping):
        return _comparable_mapping(value)
    if isinstance(value, list | tuple):
        return [comparable(item) for item in value]
    if isinstance(value, str):
        # Keep text from ever looking like a number or Quantity leaf.
        return "=" + value if value.startswith(_TEXT_MARKS) else value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _number_key(value)
    return value


def _comparable_mapping(value: Mapping[Any, Any]) -> Any:
    if "unit" in value and len(value) == 2 and units.is_quantity(value):
        return _quantity_key(value["value"], value["unit"])
    result = {}
    for key, item in value.items():
        canon = comparable(item)
        if canon is not None:
            result[key if type(key) is str else str(key)] = canon
    return result or None


def comparable_without(
    body: Mapping[str, Any],
    paths: Sequence[tuple[str, ...]],
    *,
    canonical: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``comparable(without_paths(body, paths))`` (``{}`` when nothing is left), without the copy.

    ``canonical`` is ``comparable(body)`` when the caller already has it: then only the nodes
    along each removed path are copied. Keys are text (JSON and the manifest loader see to it).
    A path through a ``{value, unit}`` pair can change whether it is a Quantity, so that rare
    case takes the exact, slower route.
    """
    if any(_near_quantity(body, path) for path in paths):
        return comparable(without_paths(body, paths)) or {}
    tree = comparable(body) if canonical is None else canonical
    result: dict[str, Any] = tree if isinstance(tree, dict) else {}
    for path in paths:
        result = _pruned(result, path) or {}
    return result


def _near_quantity(body: Mapping[str, Any], path: tuple[str, ...]) -> bool:
    """Whether a mapping on the way to ``path``'s last key holds ``value`` or ``unit``."""
    node: Any = body
    for part in (None, *path[:-1]):
        if part is not None:
            node = node.get(part)
        if not isinstance(node, Mapping):
            return False
        if "value" in node or "unit" in node:
            return True
    return False


def _pruned(tree: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any] | None:
    """A copy of a comparable tree without ``path`` (copying only that path), dropping what the
    removal leaves empty, as ``comparable`` drops empty objects; None when nothing is left."""
    if not path or path[0] not in tree:
        return tree
    head, rest = path[0], path[1:]
    if rest:
        child = tree[head]
        if not isinstance(child, dict):
            return tree
        replaced = _pruned(child, rest)
        if replaced is child:
            return tree
        result = dict(tree)
        if replaced is None:
            del result[head]
        else:
            result[head] = replaced
    else:
        result = {key: value for key, value in tree.items() if key != head}
    return result or None


def _number_key(number: float) -> str:
    if isinstance(number, float) and not math.isfinite(number):
        return repr(number)
    return f"#{float(number):.{SIGNIFICANT_DIGITS}g}"


def _quantity_key(magnitude: float, unit: str) -> str:
    factor = _unit_factor(unit)
    if factor is None:
        return f"~{_number_key(magnitude)} {unit}"
    scale, offset, dims = factor
    return f"~{_number_key(magnitude * scale + offset)} {dims}"


@lru_cache(maxsize=4096)
def _unit_factor(unit: str) -> tuple[float, float, str] | None:
    """How to bring ``unit`` to base units (scale, offset, dimensionality), cached per spelling.

    Converting through pint for every Quantity of thousands of specs is the slow part of a plan;
    two conversions per unit give an affine map that serves every later value.
    """
    try:
        zero, dims = units.canonical(0.0, unit)
        one, _ = units.canonical(1.0, unit)
    except units.UnitError:
        return None
    return one - zero, zero, dims


def numbers_close(a: str, b: str) -> bool:
    """Whether two comparable leaves are the same number or Quantity within ``REL_TOL``."""
    a_num, a_dims = _split_numeric(a)
    b_num, b_dims = _split_numeric(b)
    if a_num is None or b_num is None or a_dims != b_dims:
        return False
    return math.isclose(a_num, b_num, rel_tol=REL_TOL, abs_tol=0.0)


def _split_numeric(leaf: str) -> tuple[float | None, str]:
    text = leaf[1:] if leaf.startswith("~") else leaf
    if not text.startswith("#"):
        return None, ""
    number, _, dims = text[1:].partition(" ")
    try:
        return float(number), dims
    except ValueError:
        return None, ""


def equivalent(a: Any, b: Any) -> bool:
    """Comparable trees equal, allowing ``REL_TOL`` on numbers (rounding can split a hair)."""
    if a == b:
        return True
    if isinstance(a, str) and isinstance(b, str):
        return numbers_close(a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(equivalent(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(equivalent(x, y) for x, y in zip(a, b, strict=True))
    return False


def split_path(path: str) -> tuple[str, ...]:
    return tuple(part for part in path.split(".") if part)


def without_paths(body: Mapping[str, Any], paths: Iterable[tuple[str, ...]]) -> dict[str, Any]:
    """A copy of ``body`` with the dotted paths removed (ignored fields, the marker)."""
    result: dict[str, Any] = _copy(body)
    for path in paths:
        _remove(result, path)
    return result


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _remove(tree: dict[str, Any], path: tuple[str, ...]) -> None:
    node: Any = tree
    for part in path[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return
    if isinstance(node, dict):
        node.pop(path[-1], None)


def get_path(tree: Any, path: Sequence[str | int]) -> Any:
    """The value at a path (keys, or indexes into lists), ``None`` when any step is missing."""
    node = tree
    for part in path:
        if isinstance(node, Mapping):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return None
    return node


def set_path(tree: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    """Set a value at a path, creating (or replacing non-dict) parents."""
    node = tree
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[path[-1]] = value


def digest(value: Any) -> str:
    """A short stable hash of a value's comparable form."""
    return digest_comparable(comparable(value))


def digest_comparable(tree: Any) -> str:
    """``digest`` of a value whose comparable form ``tree`` is already at hand."""
    return hashlib.sha256(canonical_json(tree).encode("utf-8")).hexdigest()[:16]


class ListDigest:
    """``digest_comparable`` of a list fed one comparable item at a time, never held whole."""

    def __init__(self) -> None:
        self._hasher = hashlib.sha256(b"[")
        self._empty = True

    def add(self, tree: Any) -> None:
        self._hasher.update(
            ("" if self._empty else ",").encode() + canonical_json(tree).encode("utf-8")
        )
        self._empty = False

    def hexdigest(self) -> str:
        hasher = self._hasher.copy()
        hasher.update(b"]")
        return hasher.hexdigest()[:16]


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys: equal text means equal data, exactly (no physics)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
