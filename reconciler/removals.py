"""Removing nested keys a manifest dropped, whatever the API does with a PATCHed object.

Whether a PATCH replaces a nested object or deep-merges into it is unknown (contract 8.2).
Under merge a dropped key survives the PATCH of the whole object, so the repair after it
(``repair_body``) sends it as an explicit null. An API that also refuses null inside a nested
object leaves no way to remove the key through the API at all: apply says so once per spec,
naming each key (``unremovable``), and does not retry, since the same request would be refused
again, in this run or the next, until someone removes the key in Ionworks or the manifest
declares it again. ``plan`` keeps showing the difference meanwhile, because it is one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from reconciler import compare, normalise
from reconciler.plan import Change
from reconciler.results import Outcome
from reconciler.units import is_quantity


def with_explicit_nulls(desired: Any, live: Any) -> Any:
    """``desired`` plus an explicit null for every nested key only ``live`` has.

    A server that deep-merges PATCHed objects keeps keys we dropped; null is how to remove them.
    """
    if not isinstance(desired, Mapping) or not isinstance(live, Mapping):
        return desired
    if is_quantity(desired):
        return desired
    result = {k: with_explicit_nulls(v, live.get(k)) for k, v in desired.items()}
    for key in live:
        if key not in desired:
            result[key] = None
    return result


def repair_body(
    expected: Mapping[str, Any], record: Mapping[str, Any], fields: Iterable[str]
) -> dict[str, Any]:
    """The PATCH that turns ``record`` into ``expected`` in ``fields`` (empty: it already is).

    Nested keys only the record has are sent as explicit nulls; other fields are never touched.
    A material's definition and product id are the material's, shared by every spec using it:
    never nulled from a spec's write.
    """
    live = normalise.spec_state(normalise.live_body(record))
    wanted = {key: expected.get(key) for key in sorted(fields)}
    return {
        key: with_explicit_nulls(wanted[key], live.get(key))
        for key in compare.differing_fields(wanted, live)
    }


def nested_nulls(body: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths of the nulls inside ``body``'s fields (not a field itself set to null,
    which clears it): the nested keys a PATCH of ``body`` removes."""
    found: list[str] = []
    for key, value in body.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if value is None and prefix:
            found.append(path)
        elif isinstance(value, Mapping):
            found.extend(nested_nulls(value, path))
    return sorted(found)


def unremovable(change: Change, spec_id: str, paths: Sequence[str], refusal: str) -> Outcome:
    """The failure of a change whose nested keys ``paths`` the API would not let go."""
    them = "it" if len(paths) == 1 else "them"
    return Outcome(
        change,
        "failed",
        f"{', '.join(paths)} could not be removed from '{change.name}': Ionworks merges what a "
        "PATCH sends into the stored object and refuses null inside it, so through the API a "
        f"nested key can be added or changed but never removed. Remove {them} in Ionworks "
        f"itself, or declare {them} in the manifest again; everything else of this change was "
        f"written. (The API refused the PATCH that removes {them}: {refusal})",
        spec_id,
        converges_on_rerun=False,
    )
