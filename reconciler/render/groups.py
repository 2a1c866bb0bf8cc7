"""How text and markdown lay out a plan's changes for review: sections by reason, and identical
field changes shown once.

A design-of-experiments pull request makes the same field change (same path, same value
before and after) in dozens of specs. Shown per spec, the one decision a reviewer has to make
drowns in repetition; so a field change that ``GROUP_FROM`` or more specs share is shown once,
with the list of specs, and each spec then shows only the rest of its changes. Only a change
at least half of the specs changing that field share: the factors a design varies (a loading
at twenty levels, five specs each) stay with each spec, where they read as a table, not as
twenty lists. Values are compared exactly (canonical JSON), not physically: ``5 A*h`` and
``5000 mA*h`` are shown as written, so they are different lines. A create's fields count as
changes from ``(none)``. Materials are changes of their own and are never grouped.

With ``plan --base``, changes that revert an edit made outside ionworks-apply get their own
section (``outside`` and ``both``), so approving one is never an accident; each section is
grouped on its own. Rendering only: the plan keeps every change whole.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from reconciler.compare import canonical_json
from reconciler.plan import Change, FieldChange, MaterialChange, Plan, Reason
from reconciler.render.values import created_fields

#: Fewest specs sharing one field change for it to be shown once for all of them.
GROUP_FROM = 3
#: Kinds whose field changes can be shared (a delete, release or orphan has none).
_WITH_FIELDS = frozenset({"create", "rename", "adopt", "update"})


@dataclass(frozen=True)
class Shared:
    """One field change that several specs share, and the changes (specs) sharing it."""

    path: str
    before: Any
    after: Any
    reason: Reason | None
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class Section:
    """Changes shown together: their shared field changes, what is left of each, and the
    material changes of the same reason (never shared: each is one change already)."""

    changes: tuple[Change, ...]
    shared: tuple[Shared, ...] = ()
    #: ``id(change)`` -> the field changes of that change not shown among ``shared``.
    rest: dict[int, tuple[FieldChange, ...]] = field(default_factory=dict)
    materials: tuple[MaterialChange, ...] = ()

    def rest_of(self, change: Change) -> tuple[FieldChange, ...]:
        return self.rest.get(id(change), field_changes(change))

    def shared_count(self, change: Change) -> int:
        """How many field changes of ``change`` are shown once, in ``shared``."""
        return len(field_changes(change)) - len(self.rest_of(change))


@dataclass(frozen=True)
class Layout:
    """A plan's changes as shown: those of this change (or all, without a base) and those
    that revert edits made outside ionworks-apply."""

    mine: Section
    outside: Section


def layout(plan: Plan, changes: Sequence[Change] | None = None) -> Layout:
    """The sections of ``changes`` (default: every writing change of ``plan``) and of the
    plan's material changes."""
    shown = plan.writing_changes if changes is None else list(changes)
    mine = section([c for c in shown if not reverts(c)])
    outside = section([c for c in shown if reverts(c)])
    return Layout(
        replace(mine, materials=tuple(m for m in plan.materials if not reverts(m))),
        replace(outside, materials=tuple(m for m in plan.materials if reverts(m))),
    )


def reverts(change: Change | MaterialChange) -> bool:
    """Whether apply would set back something changed outside ionworks-apply (``--base``)."""
    return change.reason in ("outside", "both")


def field_changes(change: Change) -> tuple[FieldChange, ...]:
    """A change's field changes: its details, or for a create each field it sets."""
    if change.kind == "create":
        return tuple(
            FieldChange(name, None, value, change.reason) for name, value in created_fields(change)
        )
    return change.details if change.kind in _WITH_FIELDS else ()


def section(changes: Sequence[Change]) -> Section:
    """``changes`` with every field change that ``GROUP_FROM`` or more of them share, and at
    least half of those changing that field, pulled out, most shared first."""
    fields = {id(change): field_changes(change) for change in changes}
    members: dict[tuple[str, str, str, str | None], list[tuple[Change, int]]] = {}
    for change in changes:
        for index, detail in enumerate(fields[id(change)]):
            key = (detail.path, _exact(detail.before), _exact(detail.after), detail.reason)
            members.setdefault(key, []).append((change, index))
    per_path: Counter[tuple[str, str | None]] = Counter()
    for (path, _, _, reason), found in members.items():
        per_path[(path, reason)] += len(found)
    shared = [
        found
        for (path, _, _, reason), found in members.items()
        if len(found) >= GROUP_FROM and 2 * len(found) >= per_path[(path, reason)]
    ]
    if not shared:
        return Section(tuple(changes))
    shared.sort(key=lambda found: (-len(found), _detail(fields, found[0]).path))
    pulled = {(id(change), index) for found in shared for change, index in found}
    rest = {
        key: tuple(d for index, d in enumerate(details) if (key, index) not in pulled)
        for key, details in fields.items()
    }
    groups = []
    for found in shared:
        first = _detail(fields, found[0])
        groups.append(
            Shared(
                first.path,
                first.before,
                first.after,
                first.reason,
                tuple(change for change, _ in found),
            )
        )
    return Section(tuple(changes), tuple(groups), rest)


def _detail(fields: dict[int, tuple[FieldChange, ...]], member: tuple[Change, int]) -> FieldChange:
    change, index = member
    return fields[id(change)][index]


def _exact(value: Any) -> str:
    return canonical_json(value)
