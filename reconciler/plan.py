"""The Plan: plain data describing what apply would do.

A Plan knows nothing about output or HTTP. Changes are small value objects in a fixed order
(creates, renames, adopts, updates, releases, deletes, then orphans that are only reported);
shared materials are changes of their own (``MaterialChange``). Each has a ``data`` dict that the
JSON renderer and the plan file (``reconciler.plan_files``) share, so the JSON plan is the stable
contract for CI (``FORMAT_VERSION``); ``validator`` reads it back strictly.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import Field, TypeAdapter

from reconciler import __version__
from reconciler.ownership import marker_for

#: 2: materials are changes of their own (``materials``); spec changes leave them out.
FORMAT_VERSION = 2
T = TypeVar("T")

ChangeKind = Literal["create", "rename", "adopt", "update", "release", "delete", "orphan"]

#: Render and apply order; deletes come last so nothing is lost before everything else landed.
KIND_ORDER: dict[str, int] = {
    "create": 0,
    "rename": 1,
    "adopt": 2,
    "update": 3,
    "release": 4,
    "delete": 5,
    "orphan": 6,
}

#: Kinds that write to the API; an orphan is only reported. A release removes our ownership
#: marker (one PATCH) and keeps the spec and everything under it.
WRITING_KINDS = frozenset({"create", "rename", "adopt", "update", "release", "delete"})

#: Why a change (or one field of it) is in a plan made with ``--base REF``
#: (``reconciler.provenance``): ``this_change`` the manifests at REF said otherwise, so the
#: manifests changed; ``outside`` the manifests at REF already said so, so Ionworks was changed
#: outside ionworks-apply and apply reverts that; ``both`` the manifests changed and Ionworks
#: was changed outside too (apply overwrites that edit), or, for a change, some fields of each.
#: None: the plan was not compared with a base.
Reason = Literal["this_change", "outside", "both"]


@dataclass(frozen=True)
class FieldChange:
    """One field-level difference: a dotted path with the values before and after.

    ``before``/``after`` are plain JSON values as the API and the manifest hold them (a Quantity
    stays ``{"value": ..., "unit": ...}``); ``None`` means absent or null.
    """

    path: str
    before: Any
    after: Any
    reason: Reason | None = None

    @property
    def data(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "before": self.before,
            "after": self.after,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Cascade:
    """What a spec delete takes with it, counted from the API's list totals."""

    instances: int = 0
    batches: int = 0
    measurements: int = 0

    @property
    def empty(self) -> bool:
        return self.instances == 0 and self.batches == 0 and self.measurements == 0

    def grew_from(self, earlier: Cascade) -> bool:
        return (
            self.instances > earlier.instances
            or self.batches > earlier.batches
            or self.measurements > earlier.measurements
        )

    def describe(self) -> str:
        """``12 cell instances, 3 batches and 340 measurements`` (plural-aware)."""
        parts = [
            _count(self.instances, "cell instance"),
            _count(self.batches, "batch", "batches"),
            _count(self.measurements, "measurement"),
        ]
        return f"{parts[0]}, {parts[1]} and {parts[2]}"

    @property
    def data(self) -> dict[str, int]:
        return {
            "instances": self.instances,
            "batches": self.batches,
            "measurements": self.measurements,
        }


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"


@dataclass(frozen=True)
class Block:
    """A guard that would refuse a delete, and what would allow it."""

    guard: Literal[
        "protect", "max_deletes", "max_delete_percent", "empty", "cascade", "shared_material"
    ]
    reason: str
    allow: str

    @property
    def data(self) -> dict[str, str]:
        return {"guard": self.guard, "reason": self.reason, "allow": self.allow}


@dataclass(frozen=True)
class Change:
    """One planned change to one cell specification.

    ``body`` is exactly what apply sends: the POST body for a create, the PATCH body for a
    rename/adopt/update (changed top-level fields, each in full), empty for delete and orphan.
    ``owned`` lists the top-level fields the manifest declares: apply may set those back if a
    concurrent writer changes them mid-write, and never touches any other field.
    ``live_digest``/``live_updated_at`` record the live record the plan was made from, so apply
    can refuse a stale plan.
    """

    kind: ChangeKind
    name: str
    spec_id: str | None = None
    previous_name: str | None = None
    source: str | None = None
    fields: tuple[str, ...] = ()
    owned: tuple[str, ...] = ()
    details: tuple[FieldChange, ...] = ()
    body: dict[str, Any] = field(default_factory=dict)
    desired_digest: str | None = None
    live_digest: str | None = None
    live_updated_at: str | None = None
    cascade: Cascade | None = None
    #: Saved as ``blocked_by``, the name the JSON contract has always used.
    blocks: Annotated[tuple[Block, ...], Field(validation_alias="blocked_by")] = ()
    reason: Reason | None = None

    @property
    def is_write(self) -> bool:
        """Whether apply writes for this change (an orphan is only reported)."""
        return self.kind in WRITING_KINDS

    @property
    def key(self) -> tuple[str, str]:
        """What identifies a change within its plan (a name appears in one change at most)."""
        return (self.kind, self.name)

    @property
    def sort_key(self) -> tuple[int, str]:
        return (KIND_ORDER[self.kind], self.name)

    @property
    def data(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "spec_id": self.spec_id,
            "previous_name": self.previous_name,
            "source": self.source,
            "fields": list(self.fields),
            "owned": list(self.owned),
            "details": [d.data for d in self.details],
            "body": self.body,
            "desired_digest": self.desired_digest,
            "live_digest": self.live_digest,
            "live_updated_at": self.live_updated_at,
            "cascade": self.cascade.data if self.cascade else None,
            "blocked_by": [b.data for b in self.blocks],
            "reason": self.reason,
        }


def material_title(key: tuple[str, str | None]) -> str:
    """``"NCM622" (BASF)``, or ``"NCM622"`` without a manufacturer: how a material is named
    everywhere it is shown."""
    name, manufacturer = key
    return f'"{name}"' + (f" ({manufacturer})" if manufacturer else "")


@dataclass(frozen=True)
class Reached:
    """A spec a material change reaches: who manages it, and how many cells it has."""

    name: str
    spec_id: str
    #: ``here`` (this directory), another owner's marker, or None (unmanaged).
    owner: str | None
    instances: int = 0


@dataclass(frozen=True)
class MaterialChange:
    """One shared material whose live definition (or product id) differs from the manifests'.

    Every spec using the material's row sees the change (``reach``), whoever manages it, so it
    is planned once, not as an update of each spec. ``targets`` are the specs of this directory
    that must show ``desired`` afterwards. Apply writes it once: through ``carried_by`` (changes
    of this plan whose body carries the material anyway), else through the spec ``spec_id``
    with ``body`` (one component), re-checked against ``live_digest`` first.
    """

    key: tuple[str, str | None]
    desired: dict[str, Any]
    before: dict[str, Any]
    details: tuple[FieldChange, ...] = ()
    reach: tuple[Reached, ...] = ()
    targets: tuple[str, ...] = ()
    #: For each existing target, the component(s) that use the material, as the manifest
    #: gives them: what apply writes when the API keeps a row per spec.
    target_bodies: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: How many rows of the material differ (more than one: the API keeps one per spec).
    rows: int = 1
    source: str | None = None
    carried_by: tuple[str, ...] = ()
    spec_id: str | None = None
    via: str | None = None
    body: dict[str, Any] = field(default_factory=dict)
    live_digest: str | None = None
    blocks: Annotated[tuple[Block, ...], Field(validation_alias="blocked_by")] = ()
    reason: Reason | None = None

    kind: ClassVar[str] = "material"

    @property
    def name(self) -> str:
        return material_title(self.key)

    @property
    def beyond_here(self) -> tuple[Reached, ...]:
        """The reached specs this directory does not manage."""
        return tuple(r for r in self.reach if r.owner != "here")

    @property
    def data(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "key": list(self.key),
            "desired": self.desired,
            "before": self.before,
            "details": [d.data for d in self.details],
            "reach": [
                {"name": r.name, "spec_id": r.spec_id, "owner": r.owner, "instances": r.instances}
                for r in self.reach
            ],
            "targets": list(self.targets),
            "target_bodies": self.target_bodies,
            "rows": self.rows,
            "source": self.source,
            "carried_by": list(self.carried_by),
            "spec_id": self.spec_id,
            "via": self.via,
            "body": self.body,
            "live_digest": self.live_digest,
            "blocked_by": [b.data for b in self.blocks],
            "reason": self.reason,
        }


@dataclass(frozen=True, repr=False)
class Plan:
    """Every change for one project (one manifests directory), in apply order."""

    project_id: str
    owner: str
    api_url: str
    manifests_dir: str
    prune: bool
    changes: tuple[Change, ...]
    unchanged: tuple[str, ...] = ()
    unmanaged: tuple[str, ...] = ()
    managed_count: int = 0
    desired_digest: str = ""
    tool_version: str = __version__
    #: The project's name as the API gave it (None when it gave none): headers show it.
    project_name: str | None = None
    #: Specs carrying another owner's marker (name -> marker): theirs, never touched.
    other_owners: dict[str, str] = field(default_factory=dict)
    #: Ids of every spec listed when the plan was made; not saved (a file's word is not needed).
    live_ids: frozenset[str] = field(default=frozenset(), compare=False)
    materials: tuple[MaterialChange, ...] = ()
    #: Materials the manifests use but define nowhere: Ionworks keeps what it has for them.
    kept_materials: tuple[str, ...] = ()
    #: The commit whose manifests every change's ``reason`` was judged against (``--base``).
    base: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "changes", tuple(sorted(self.changes, key=lambda c: c.sort_key)))

    def __repr__(self) -> str:
        """One short line whatever the size: asyncio and loggers format plans in passing (a
        full repr of 1,000 changes took 0.1 s at the end of every event loop run)."""
        counts = ", ".join(f"{n} {kind}" for kind, n in self.counts().items() if n)
        return (
            f"Plan(project_id={self.project_id!r}, owner={self.owner!r}, "
            f"changes=[{counts}], unchanged={len(self.unchanged)}, "
            f"unmanaged={len(self.unmanaged)})"
        )

    @property
    def marker(self) -> str:
        """The ownership marker of the specs this plan's directory owns."""
        return marker_for(self.owner)

    def of_kind(self, *kinds: ChangeKind) -> list[Change]:
        return [c for c in self.changes if c.kind in kinds]

    @property
    def writing_changes(self) -> list[Change]:
        return [c for c in self.changes if c.is_write]

    @property
    def has_changes(self) -> bool:
        return bool(self.writing_changes or self.materials)

    @property
    def blocked(self) -> list[Change]:
        return [c for c in self.changes if c.blocks]

    @property
    def blocked_materials(self) -> list[MaterialChange]:
        return [m for m in self.materials if m.blocks]

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(KIND_ORDER, 0)
        for change in self.changes:
            counts[change.kind] += 1
        counts["material"] = len(self.materials)
        return counts

    @property
    def live_count(self) -> int:
        """How many specs the project held when the plan was made (every one is listed)."""
        listed = sum(1 for c in self.changes if c.kind != "create")
        return listed + len(self.unchanged) + len(self.unmanaged) + len(self.other_owners)

    def total_cascade(self) -> Cascade:
        deletes = [c.cascade for c in self.of_kind("delete") if c.cascade]
        return Cascade(
            instances=sum(c.instances for c in deletes),
            batches=sum(c.batches for c in deletes),
            measurements=sum(c.measurements for c in deletes),
        )

    @property
    def data(self) -> dict[str, Any]:
        return {
            "project_id": self.project_id,
            "project_name": self.project_name,
            "owner": self.owner,
            "api_url": self.api_url,
            "manifests_dir": self.manifests_dir,
            "prune": self.prune,
            "tool_version": self.tool_version,
            "desired_digest": self.desired_digest,
            "managed_count": self.managed_count,
            "summary": self.counts(),
            "cascade": self.total_cascade().data,
            "changes": [c.data for c in self.changes],
            "materials": [m.data for m in self.materials],
            "kept_materials": list(self.kept_materials),
            "unchanged": list(self.unchanged),
            "unmanaged": list(self.unmanaged),
            "other_owners": dict(self.other_owners),
            "base": self.base,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Plan:
        """The plan of one ``data`` entry, validated strictly; ValueError if malformed."""
        plan: Plan = validator(Plan).validate_json(json.dumps(data), strict=True)
        return plan


@functools.cache
def validator(kind: type[T]) -> TypeAdapter[T]:
    """Pydantic validation derived from the dataclasses themselves (built on first use)."""
    return TypeAdapter(kind)
