"""The one comparison: when are a live value and a desired one the same, and where do they
differ? Planner and applier both ask here; nothing else compares records.

* ``comparable`` turns a value into a canonical tree: Quantities become their physical value in
  base units (``2 mA*h`` equals ``0.002 A.h``), numbers a fixed-precision string, text is kept
  from ever looking like either, and absent, null and empty objects all vanish;
* ``equivalent`` compares two canonical trees, allowing ``REL_TOL`` on numbers (rounding can
  split a hair); ``same`` compares two plain values;
* ``differing_fields`` and ``field_differences`` say where two bodies differ: top-level fields,
  then field-level paths through deepdiff, taught the same tolerance by a custom operator so its
  answer needs no second filter;
* ``digest``/``live_digest`` are stable hashes of canonical trees, recorded in plans to detect
  stale ones; ``fingerprint`` is the exact (no physics) form of a whole body, for the fast path
  of a server echoing exactly what it was sent.

``project_id`` is never compared: it is sent on creates, but a spec never moves between projects.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from functools import lru_cache
from typing import Any

from deepdiff import DeepDiff
from deepdiff.operator import BaseOperatorPlus

from reconciler import units
from reconciler.normalise import live_body, spec_state
from reconciler.paths import get_path, path_text, without_paths
from reconciler.plan import FieldChange

#: Significant digits kept when numbers are compared; finer differences are float noise.
SIGNIFICANT_DIGITS = 12
REL_TOL = 1e-9
#: Leading characters that mark number and Quantity leaves; text starting with one is escaped.
_TEXT_MARKS = ("#", "~", "=")
#: Fields bodies may carry that are never compared.
NOT_COMPARED = frozenset({"project_id"})


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
    try:
        return f"#{float(number):.{SIGNIFICANT_DIGITS}g}"
    except OverflowError:  # an integer beyond any float (live data is not validated)
        return f"#{Decimal(number):.{SIGNIFICANT_DIGITS}g}"


def _quantity_key(magnitude: float, unit: str) -> str:
    factor = _unit_factor(unit)
    if factor is not None:
        scale, offset, dims = factor
        try:
            return f"~{_number_key(magnitude * scale + offset)} {dims}"
        except OverflowError:
            pass
    return f"~{_number_key(magnitude)} {unit}"


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


def _numbers_close(a: str, b: str) -> bool:
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
        value = float(number)
    except ValueError:
        return None, ""
    # Beyond float range the canonical text itself is exact: only equal text is equal.
    return (value, dims) if math.isfinite(value) else (None, "")


def equivalent(a: Any, b: Any) -> bool:
    """Comparable trees equal, allowing ``REL_TOL`` on numbers (rounding can split a hair)."""
    if a == b:
        return True
    if isinstance(a, str) and isinstance(b, str):
        return _numbers_close(a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(equivalent(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(equivalent(x, y) for x, y in zip(a, b, strict=True))
    return False


def same(a: Any, b: Any) -> bool:
    """Two plain values are the same by the rules above."""
    return equivalent(comparable(a), comparable(b))


def differing_fields(body: Mapping[str, Any], live: Mapping[str, Any]) -> list[str]:
    """The top-level fields of ``body`` that ``live`` (a manifest-shaped body) does not hold,
    as a spec's state (materials' shared definitions are compared as materials)."""
    wanted, held = spec_state(body), spec_state(live)
    return [
        key
        for key, value in wanted.items()
        if key not in NOT_COMPARED and not same(value, held.get(key))
    ]


class _Tolerance(BaseOperatorPlus):
    """deepdiff, taught that two numeric leaves of canonical trees within ``REL_TOL`` are equal."""

    def match(self, level: Any) -> bool:
        return isinstance(level.t1, str) and isinstance(level.t2, str)

    def give_up_diffing(self, level: Any, diff_instance: Any) -> bool:
        return _numbers_close(level.t1, level.t2)

    def normalize_value_for_hashing(self, parent: Any, obj: Any) -> Any:
        return obj


def field_differences(field: str, before: Any, after: Any) -> list[FieldChange]:
    """Field-level changes under one top-level field, as dotted paths with plain before/after.

    deepdiff compares the canonical forms (so units and float noise never show as changes);
    the values reported are the originals at each path, units as written. Only called for
    fields already known to differ: deepdiff is the slow part at scale.
    """
    originals_old, originals_new = {field: before}, {field: after}
    diff = DeepDiff(
        {field: comparable(before)},
        {field: comparable(after)},
        view="tree",
        verbose_level=2,
        custom_operators=[_Tolerance()],
    )
    changes = [
        FieldChange(
            path=path_text(path),
            before=get_path(originals_old, path),
            after=get_path(originals_new, path),
        )
        for report in diff.values()
        for level in report
        for path in [level.path(output_format="list")]
    ]
    return sorted(changes, key=lambda c: c.path)


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


def live_digest(record: Mapping[str, Any]) -> str:
    """The digest of a live spec's own state: what a plan records to spot moves. A shared
    material's definition is not part of it: a change to the material is not a spec's move."""
    return digest(spec_state(live_body(record)))


def fingerprint(body: Mapping[str, Any]) -> str:
    """A manifest-shaped body as canonical JSON: equal text, equal data, so no change.

    Top-level fields that are null or ``{}`` are left out, as ``comparable`` treats them as
    absent (a server may answer ``source: {}`` for a source never sent).
    """
    kept = {k: v for k, v in body.items() if k not in NOT_COMPARED and v is not None and v != {}}
    return canonical_json(kept)
