"""Whose change is it? Each change of a plan judged against the manifests at a base commit.

Without a state file, git is the state: the manifests at the pull request's base are what
Ionworks should hold already. So for every field a plan changes, the manifest at the base tells
whether the difference comes from this change or from somewhere else:

* the base manifest had another value: the manifests changed (``this_change``);
* the base manifest already had the desired value: Ionworks was changed outside
  ionworks-apply (an edit in the web app, or a change never applied), and apply reverts it
  (``outside``);
* the base manifest had a third value, neither live nor desired: the manifests changed, and
  Ionworks was edited outside too, so apply overwrites that edit (``both``).

A top-level field (or a material's ``definition`` / ``product_id``) that the base manifest did
not declare was not the manifests' business at the base: setting it is this change. Values are
compared as the planner compares them (``compare.same``: units physically). Pure functions over
a Plan and plain data; reading the base from git is ``reconciler.git_base``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from typing import Any

from reconciler import compare
from reconciler.catalog import MaterialKey
from reconciler.manifests import ManifestSet
from reconciler.normalise import spec_state
from reconciler.ownership import MARKER_KEY
from reconciler.plan import Change, FieldChange, MaterialChange, Plan, Reason


@dataclass(frozen=True)
class Base:
    """What the manifests declared at the base commit, as plain data.

    ``specs`` maps each name to its manifest body (materials' shared state left out, as specs
    are compared); ``previous_names`` maps each ``lifecycle.previous_names`` entry to the name
    that declared it; ``materials`` maps each material key to what the manifests defined.
    """

    commit: str
    specs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    previous_names: Mapping[str, str] = field(default_factory=dict)
    release: tuple[str, ...] = ()
    materials: Mapping[MaterialKey, Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def of(cls, commit: str, manifests: ManifestSet | None) -> Base:
        """The base of a loaded manifests directory; None: the directory did not exist."""
        if manifests is None:
            return cls(commit)
        return cls(
            commit=commit,
            specs={spec.name: spec_state(spec.body) for spec in manifests.specs},
            previous_names={
                old: spec.name for spec in manifests.specs for old in spec.lifecycle.previous_names
            },
            release=tuple(manifests.config.release),
            materials={m.key: m.data for m in manifests.materials},
        )

    def declares(self, name: str) -> bool:
        return name in self.specs


def classify(plan: Plan, base: Base) -> Plan:
    """The plan with a ``reason`` on every change and field change, and ``base`` recorded."""
    return replace(
        plan,
        changes=tuple(_change(change, base) for change in plan.changes),
        materials=tuple(_material(material, base) for material in plan.materials),
        base=base.commit,
    )


def field_reason(declared: bool, base_value: Any, before: Any, after: Any) -> Reason:
    """Why one field differs: see the module docstring. ``declared``: whether the base
    manifest declared the top-level field the value is under."""
    if not declared:
        return "this_change"
    if compare.same(base_value, after):
        return "outside"
    if compare.same(base_value, before):
        return "this_change"
    return "both"


def combine(reasons: Iterable[Reason]) -> Reason:
    """One reason for several: all the same gives that one, any mix gives ``both``."""
    found = set(reasons)
    if len(found) == 1:
        return found.pop()
    return "both" if found else "this_change"


def _change(change: Change, base: Base) -> Change:
    if change.kind == "orphan":
        return change  # only reported: apply writes nothing to judge
    if change.kind == "delete":
        # A spec the base declared is gone from the manifests now: this change removed it.
        return replace(change, reason="this_change" if base.declares(change.name) else "outside")
    if change.kind == "release":
        released_before = not base.declares(change.name) and any(
            fnmatchcase(change.name, glob) for glob in base.release
        )
        return replace(change, reason="outside" if released_before else "this_change")
    if change.kind == "create":
        return replace(change, reason=_create_reason(change, base))
    body = _base_body(change, base)
    details = tuple(_detail(detail, body) for detail in change.details)
    reasons = [d.reason for d in details if d.reason is not None]
    if change.kind in ("adopt", "rename"):
        # Adopting or renaming is the manifests' doing unless the base already asked for it.
        reasons.append("outside" if base.declares(change.name) else "this_change")
    elif not details:
        reasons.append(_fields_reason(change, body))
    return replace(change, details=details, reason=combine(reasons))


def _create_reason(change: Change, base: Base) -> Reason:
    """A spec the base did not declare is new; one it declared is missing from Ionworks
    (deleted outside, or never created): re-creating it reverts that, and if the manifest
    changed meanwhile too, it is both."""
    declared = base.specs.get(change.name)
    if declared is None:
        return "this_change"
    wanted = {name: _without_marker(name, change.body.get(name)) for name in change.fields}
    return "outside" if compare.same(spec_state(wanted), declared) else "both"


def _without_marker(field: str, value: Any) -> Any:
    if field == "properties" and isinstance(value, Mapping):
        return {k: v for k, v in value.items() if k != MARKER_KEY} or None
    return value


def _base_body(change: Change, base: Base) -> Mapping[str, Any] | None:
    """The base manifest of a change's spec: by its name, else by the name it had there."""
    found = base.specs.get(change.name)
    if found is None and change.previous_name is not None:
        found = base.specs.get(change.previous_name)
    return found


def _detail(detail: FieldChange, body: Mapping[str, Any] | None) -> FieldChange:
    if body is None:
        return replace(detail, reason="this_change")
    declared, value = value_at(body, detail.path)
    return replace(detail, reason=field_reason(declared, value, detail.before, detail.after))


def _fields_reason(change: Change, body: Mapping[str, Any] | None) -> Reason:
    """An update without field details (every difference within tolerance of a field-level
    diff): judged by its whole top-level fields."""
    if body is None:
        return "this_change"
    sent = spec_state({name: _without_marker(name, value) for name, value in change.body.items()})
    same = all(f in body and compare.same(body[f], sent.get(f)) for f in change.fields)
    return "outside" if same and change.fields else "this_change"


def _material(material: MaterialChange, base: Base) -> MaterialChange:
    body = base.materials.get(material.key)
    details = tuple(_detail(detail, body) for detail in material.details)
    reason = combine(d.reason for d in details if d.reason is not None)
    return replace(material, details=details, reason=reason)


def value_at(tree: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    """Whether ``tree`` declares the top-level field of ``path``, and the value at ``path``
    (None when absent), for a path as field-level differences show it (``a.b[1].c``).

    Keys may themselves hold dots, so each step takes the longest key of the mapping at hand
    that the rest of the path starts with (followed by ``.``, ``[`` or the end).
    """
    node: Any = tree
    rest = path
    top = True
    while rest:
        if rest.startswith("["):
            end = rest.find("]")
            index = rest[1:end] if end > 0 else ""
            if not index.isdigit() or not isinstance(node, list) or int(index) >= len(node):
                return True, None
            node, rest = node[int(index)], rest[end + 1 :]
        else:
            rest = rest.removeprefix(".")
            key = _longest_key(node, rest)
            if key is None:
                return not top, None
            node, rest = node[key], rest[len(key) :]
        top = False
    return True, node


def _longest_key(node: Any, rest: str) -> str | None:
    if not isinstance(node, Mapping):
        return None
    fitting = [
        key
        for key in node
        if isinstance(key, str)
        and rest.startswith(key)
        and (len(rest) == len(key) or rest[len(key)] in ".[")
    ]
    return max(fitting, key=len, default=None)
