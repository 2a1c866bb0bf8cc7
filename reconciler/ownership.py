"""The ownership marker: which specs a manifests directory may change and delete.

Every spec ionworks-apply creates or adopts carries ``properties.managed_by:
ionworks-apply/<owner>``. Only specs with a directory's own marker can ever be deleted by it;
specs with another owner's marker belong to another directory; specs without a marker are
unmanaged and never touched. The marker never shows in diffs or exports.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MARKER_PREFIX = "ionworks-apply/"
MARKER_KEY = "managed_by"
#: Where the marker lives inside a spec.
MARKER_PATH = ("properties", MARKER_KEY)


def marker_for(owner: str) -> str:
    """The marker of specs owned by ``owner`` (the config's ``owner``)."""
    return f"{MARKER_PREFIX}{owner}"


def marker_of(record: Mapping[str, Any]) -> str | None:
    """The marker a spec (live record or body) carries, or None."""
    properties = record.get("properties")
    value = properties.get(MARKER_KEY) if isinstance(properties, Mapping) else None
    return value if isinstance(value, str) else None


def foreign_owner(record: Mapping[str, Any], marker: str) -> str | None:
    """The other ionworks-apply owner's marker on ``record``, if it has one that is not ours."""
    found = marker_of(record)
    if found and found != marker and found.startswith(MARKER_PREFIX):
        return found
    return None


def with_marker(properties: Any, marker: str) -> dict[str, Any]:
    """``properties`` (a mapping, or nothing) with the marker set; a new dict."""
    return {**(properties if isinstance(properties, Mapping) else {}), MARKER_KEY: marker}
