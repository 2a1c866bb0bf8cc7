"""How one write request treats nested objects (contract 8.2), fixed when the request arrives.

A nested object (spec ``ratings``/``properties``/``source``, a component's ``properties``, a
material's ``definition``, an instance's ``measured_properties``, a batch's or measurement's
``properties``) sent in a write is stored as follows:

* replace (default, and every create): the object as sent replaces the stored one;
* merge (``patch_mode="merge"``, PATCH only): deep-merged into the stored one, a ``null`` at
  any depth removing that key, so no literal null is ever stored;
* ``nested_null="reject"``: a ``null`` anywhere inside such an object is a 422, in both modes
  (the field itself set to ``null`` still clears it).

Raw writes (``POST /_sandbox/raw_specs``) skip every rule: they store what a colleague's web
app might have written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reconciler.sandbox.errors import Loc, field_error, raise_invalid
from reconciler.sandbox.settings import Behaviour


@dataclass(frozen=True)
class Write:
    merge: bool = False
    reject_nested_null: bool = False
    ratings_required: bool = True
    material_upsert: str = "update"
    checked: bool = True
    """False for raw writes: no Quantity, ratings or null rules."""

    @classmethod
    def create(cls, behaviour: Behaviour) -> Write:
        return cls(
            reject_nested_null=behaviour.nested_null == "reject",
            ratings_required=behaviour.ratings_required,
            material_upsert=behaviour.material_upsert,
        )

    @classmethod
    def patch(cls, behaviour: Behaviour) -> Write:
        return cls(
            merge=behaviour.patch_mode == "merge",
            reject_nested_null=behaviour.nested_null == "reject",
            ratings_required=behaviour.ratings_required,
            material_upsert=behaviour.material_upsert,
        )

    @classmethod
    def raw(cls, behaviour: Behaviour) -> Write:
        return cls(material_upsert=behaviour.material_upsert, checked=False)

    def check_nulls(self, given: Any, loc: Loc) -> None:
        """Under ``nested_null="reject"``, a 422 for any null inside ``given``."""
        if self.checked and self.reject_nested_null:
            raise_invalid(null_errors(given, loc))

    def nested(self, stored: Any, given: Any, loc: Loc) -> Any:
        """The value to store for a nested object field the request sent as ``given``."""
        if given is None:
            return None
        self.check_nulls(given, loc)
        if self.merge and isinstance(given, dict):
            return deep_merge(stored if isinstance(stored, dict) else {}, given)
        return given


DEFAULTS = Write()
"""A create under the default behaviour (for seeding and benchmarks)."""


def deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Merge ``patch`` into ``base``; a None in ``patch`` removes that key, at any depth."""
    merged = dict(base)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict):
            below = merged.get(key)
            merged[key] = deep_merge(below if isinstance(below, dict) else {}, value)
        else:
            merged[key] = value
    return merged


def null_errors(value: Any, loc: Loc) -> list[dict[str, Any]]:
    """A 422 entry for every null inside ``value`` (in objects and lists, at any depth)."""
    if isinstance(value, dict):
        items: list[tuple[str | int, Any]] = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    else:
        return []
    errors = []
    for key, item in items:
        if item is None:
            errors.append(
                field_error(
                    (*loc, key),
                    "null is not allowed inside a nested object; leave the key out instead",
                    "nested_null",
                )
            )
        else:
            errors.extend(null_errors(item, (*loc, key)))
    return errors
