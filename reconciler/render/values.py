"""Value and summary wording shared by the text and markdown renderers.

Values come from manifests and the API, so they are user-provided: every string shown goes
through ``clean`` (control and bidi characters become visible escapes, so a spec name cannot
move the cursor or recolour a terminal). Nested values are shown compactly within a character
budget, keys sorted, so the same plan always renders the same way, before or after a save/load.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from reconciler.drift import SECTIONS, Drift
from reconciler.materials import HERE
from reconciler.ownership import MARKER_KEY
from reconciler.plan import Block, Cascade, Change, MaterialChange, Plan, Reached
from reconciler.units import is_quantity

#: Default budget, in characters, for one value on one line.
VALUE_LIMIT = 120

_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

PRUNE_HINT = "prune is off (use --prune or prune: true)"
RELEASE_TEXT = (
    "stops managing it: the ownership marker is removed; the spec, its cell instances and "
    "measurements are kept (then unmanaged: never pruned, not drift)"
)


#: How each field change's reason is shown where reasons are mixed (``plan --base``).
REASON_TAGS = {
    "this_change": "from this change",
    "outside": "reverts an edit made outside ionworks-apply",
    "both": "from this change; overwrites an edit made outside ionworks-apply",
}
#: A cascade block's reason without its counts: the delete above it shows them once.
CASCADE_BLOCK_TEXT = "its cell instances, batches and measurements would go with it"


def plural(n: int, singular: str, many: str | None = None) -> str:
    return f"{n} {singular if n == 1 else (many or singular + 's')}"


def clean(text: str) -> str:
    """``text`` with control, format and separator characters shown as escapes."""
    if text.isprintable():
        return text
    return "".join(_escape_char(ch) for ch in text)


def _escape_char(ch: str) -> str:
    if ch in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[ch]
    if ch == " " or unicodedata.category(ch)[0] not in "CZ":
        return ch
    code = ord(ch)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def quote(text: str, limit: int | None = VALUE_LIMIT) -> str:
    """A string in double quotes, escaped like JSON would, cut to ``limit`` characters."""
    inner = clean(text.replace("\\", "\\\\").replace('"', '\\"'))
    if limit is not None and len(inner) + 2 > limit:
        inner = inner[: max(limit - 5, 1)] + "..."
    return f'"{inner}"'


def number(value: float) -> str:
    """Shortest exact spelling; ``20.0`` shows as ``20`` (values are compared physically)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def format_value(value: Any, limit: int = VALUE_LIMIT) -> str:
    """One line for a plain JSON value: ``0.002 A*h``, ``(none)``, ``{material: {...}, ...}``.

    Nested values show as many whole levels as fit in ``limit``, deeper ones as ``{...}``; when
    not even the first level fits, its items are shown while they fit, then ``... N more``.
    """
    levels = _levels(value)
    if levels == 0:
        return _scalar(value, limit)
    best = None
    for depth in range(1, levels + 1):
        text = _whole(value, depth, limit)
        if text is None:
            break
        best = text
    return best if best is not None else _nested(value, 1, limit)


def _levels(value: Any) -> int:
    """How deep containers nest in ``value``; a Quantity is a leaf."""
    if isinstance(value, Mapping) and not is_quantity(value):
        return 1 + max((_levels(v) for v in value.values()), default=0)
    if isinstance(value, list | tuple):
        return 1 + max((_levels(v) for v in value), default=0)
    return 0


def _scalar(value: Any, limit: int | None) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return number(value)
    if isinstance(value, str):
        return quote(value, limit)
    if is_quantity(value):
        return f"{number(value['value'])} {clean(value['unit'])}"
    return clean(str(value))


def _entries(value: Any) -> tuple[str, str, list[tuple[str, Any]]]:
    """A container's brackets and ``(label, item)`` pairs, mapping keys sorted."""
    if isinstance(value, Mapping):
        return "{", "}", [(clean(str(k)) + ": ", v) for k, v in sorted(value.items(), key=_key)]
    return "[", "]", [("", v) for v in value]


def _whole(value: Any, depth: int, budget: int) -> str | None:
    """A container showing ``depth`` levels in full, or None once it passes ``budget``
    characters (stopping there, so trying one more level costs at most the budget)."""
    opening, closing, items = _entries(value)
    if not items:
        return opening + closing
    if depth == 0:
        return opening + "..." + closing
    parts: list[str] = []
    used = len(opening) + len(closing) + 2 * (len(items) - 1)
    for label, item in items:
        room = budget - used - len(label)
        child = _whole(item, depth - 1, room) if _is_container(item) else _scalar(item, None)
        if child is None or len(child) > room:
            return None
        used += len(label) + len(child)
        parts.append(label + child)
    return opening + ", ".join(parts) + closing


def _nested(value: Any, depth: int, limit: int) -> str:
    """A container showing ``depth`` levels, with only the items that fit in ``limit``."""
    opening, closing, items = _entries(value)
    if not items:
        return opening + closing
    if depth == 0:
        return opening + "..." + closing
    return _fitting(opening, closing, items, depth, limit)


def _child(value: Any, depth: int, limit: int) -> str:
    return _nested(value, depth - 1, limit) if _is_container(value) else _scalar(value, limit)


def _is_container(value: Any) -> bool:
    """A mapping (other than a Quantity) or a list: what ``_levels`` counts as a level."""
    return (isinstance(value, Mapping) and not is_quantity(value)) or isinstance(
        value, list | tuple
    )


def _key(item: tuple[Any, Any]) -> str:
    return str(item[0])


def _fitting(
    opening: str, closing: str, items: list[tuple[str, Any]], depth: int, limit: int
) -> str:
    """Items while they fit in ``limit``, then ``... N more``; if none fits, ``{...}``."""
    parts: list[str] = []
    used = len(opening) + len(closing)
    for index, (label, item) in enumerate(items):
        rest = len(items) - index
        reserve = len(f", ... {rest - 1} more") if rest > 1 else 0
        separator = 2 if parts else 0
        piece = label + _child(item, depth, limit - used - separator - len(label) - reserve)
        if used + separator + len(piece) + reserve > limit:
            if not parts:
                return opening + "..." + closing
            parts.append(f"... {rest} more")
            break
        parts.append(piece)
        used += separator + len(piece)
    return opening + ", ".join(parts) + closing


def created_fields(change: Change) -> list[tuple[str, Any]]:
    """``(field, value)`` for each top-level field a create declares, without ``name``.

    The ownership marker is ours, not the author's: it is not shown among what they set.
    """
    fields = []
    for name in change.fields:
        value = change.body.get(name)
        if name == "properties" and isinstance(value, Mapping):
            value = {k: v for k, v in value.items() if k != MARKER_KEY} or None
        if name != "name":
            fields.append((name, value))
    return fields


def block_reason(block: Block) -> str:
    """A guard's reason as shown under its delete: a cascade's counts are not repeated."""
    return CASCADE_BLOCK_TEXT if block.guard == "cascade" else block.reason


def short_commit(commit: str) -> str:
    return commit[:12]


def base_text(plan: Plan, fence: str = "") -> str:
    """What the changes of a plan made with ``--base`` were judged against (the commit between
    ``fence`` characters), or ``""``."""
    if plan.base is None:
        return ""
    return (
        f"manifests at {fence}{short_commit(plan.base)}{fence} (each change marked as from "
        "this change or as changed outside ionworks-apply)"
    )


def outside_text(plan: Plan, fence: str = "") -> str:
    """The explanation heading the changes that revert edits made outside ionworks-apply
    (the commit between ``fence`` characters)."""
    commit = f"{fence}{short_commit(plan.base or '')}{fence}"
    return (
        f"The manifests at {commit} already say what these changes set, so Ionworks was changed "
        "since, outside ionworks-apply (in the web app, or a change that was never applied). "
        "Apply sets it back to what the manifests say; to keep an edit, put it in the "
        "manifests instead."
    )


def kind_reason(change: Change) -> str:
    """Why a create, delete, adopt, rename or release is not (only) this change's, or ``""``."""
    reverting = ("outside", "both")
    if change.reason not in reverting:
        return ""
    if any(d.reason in reverting for d in change.details):
        return ""  # its fields say which of them revert an edit
    said = {
        "create": "the manifests at the base declare it too: it was deleted in Ionworks, or "
        "never created",
        "delete": "not from this change: the manifests at the base did not declare it either",
        "adopt": "the manifests at the base declare it too: its ownership marker was removed "
        "in Ionworks, or it was never adopted",
        "rename": "the manifests at the base already give it this name: it was renamed in "
        "Ionworks, or never renamed",
        "release": "the base released it too: its ownership marker was put back in Ionworks",
    }.get(change.kind, "")
    if said and change.kind == "create" and change.reason == "both":
        said += "; its manifest changed since too"
    return said


def cascade_text(cascade: Cascade | None) -> str:
    if cascade is None:
        return "cascade not counted"
    if cascade.empty:
        return "no cell instances, batches or measurements go with it"
    return "also deletes " + cascade.describe()


def summary_line(plan: Plan) -> str:
    """``Plan: 2 to create, 1 to update, 1 to delete (cascade: ...).`` or ``No changes. ...``."""
    counts = plan.counts()
    if not plan.has_changes:
        return f"No changes. {plural(len(plan.unchanged), 'spec')} up to date."
    parts = [f"{counts['create']} to create"]
    parts += [f"{counts[kind]} to {kind}" for kind in ("rename", "adopt") if counts[kind]]
    parts.append(f"{counts['update']} to update")
    parts += [f"{counts['release']} to release"] if counts["release"] else []
    materials = counts["material"]
    parts += [f"{plural(materials, 'material')} to change"] if materials else []
    parts.append(f"{counts['delete']} to delete")
    line = "Plan: " + ", ".join(parts)
    if counts["delete"]:
        total = plan.total_cascade()
        line += (
            f" (cascade: {plural(total.instances, 'instance')}, "
            f"{plural(total.batches, 'batch', 'batches')}, "
            f"{plural(total.measurements, 'measurement')})"
        )
    return line + "."


def status_notes(plan: Plan) -> str:
    """Up-to-date (when there are changes), orphaned and unmanaged counts, or ``""``."""
    notes: list[str] = []
    if plan.has_changes and plan.unchanged:
        notes.append(f"{plural(len(plan.unchanged), 'spec')} up to date")
    orphans = len(plan.of_kind("orphan"))
    if orphans:
        notes.append(f"{orphans} orphaned (not deleted)")
    if plan.other_owners:
        notes.append(f"{len(plan.other_owners)} managed by other owners (left alone)")
    if plan.unmanaged:
        notes.append(f"{len(plan.unmanaged)} unmanaged (not ours, left alone)")
    return ", ".join(notes) + "." if notes else ""


def blocked_note(plan: Plan) -> str:
    parts = []
    if plan.blocked:
        parts.append(plural(len(plan.blocked), "delete"))
    if plan.blocked_materials:
        parts.append(plural(len(plan.blocked_materials), "material change"))
    if not parts:
        return ""
    it = "it" if len(plan.blocked) + len(plan.blocked_materials) == 1 else "them"
    return f"{' and '.join(parts)} blocked: apply refuses {it} until allowed."


def orphan_reason(plan: Plan) -> str:
    return "orphaned, not deleted" + ("" if plan.prune else ": " + PRUNE_HINT)


def display_url(url: str) -> str:
    """The API address without credentials, query or fragment, which may hold secrets."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "(unparseable API URL)"
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return clean(urlunsplit((parts.scheme, netloc, parts.path, "", "")))


def drift_summary(drift: Drift) -> str:
    """``In sync: 12 specs match the manifests.`` or ``Drift: 1 changed live, 1 orphaned.``"""
    if drift.in_sync:
        return f"In sync: {plural(len(drift.plan.unchanged), 'spec')} match the manifests."
    counts = drift.counts()
    parts = [f"{counts[kind]} {title.split(' (')[0]}" for kind, title in SECTIONS if counts[kind]]
    if counts["material"]:
        parts.append(f"{plural(counts['material'], 'shared material')} differing")
    return "Drift: " + ", ".join(parts) + "."


#: Names shown per group of a material change's reach; the rest are counted.
REACH_NAMES = 5


def reach_groups(material: MaterialChange) -> list[tuple[str, list[Reached]]]:
    """The specs a material change reaches, grouped: managed here, by each other owner,
    unmanaged (in that order; empty groups left out)."""
    here = [r for r in material.reach if r.owner == HERE]
    others: dict[str, list[Reached]] = {}
    for reached in material.reach:
        if reached.owner not in (HERE, None):
            others.setdefault(str(reached.owner), []).append(reached)
    unmanaged = [r for r in material.reach if r.owner is None]
    groups = [("managed here", here)]
    groups += [(f"managed by {owner}", found) for owner, found in sorted(others.items())]
    groups.append(("unmanaged", unmanaged))
    return [(label, found) for label, found in groups if found]


def reach_summary(material: MaterialChange) -> str:
    """``reaches 3 specs (1 managed here, 2 unmanaged)``."""
    parts = ", ".join(f"{len(found)} {label}" for label, found in reach_groups(material))
    return f"reaches {plural(len(material.reach), 'spec')} ({parts})"


def route_text(material: MaterialChange) -> str:
    """How apply makes the change, in words whose names the caller quotes."""
    if material.carried_by:
        return "written by the writes above to " + ", ".join(
            quote(name) for name in material.carried_by
        )
    if material.via:
        slots = ", ".join(material.body)
        return f"written once, through {quote(material.via)} ({slots})"
    return "nothing of this directory can write it"


def kept_note(plan: Plan) -> str:
    if not plan.kept_materials:
        return ""
    names = ", ".join(plan.kept_materials)
    return f"Defined nowhere in the manifests, so Ionworks keeps their definitions: {clean(names)}."
