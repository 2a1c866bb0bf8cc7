"""Match desired specs to live ones and diff them into a Plan.

Pure functions over plain data: no HTTP here (``runner`` fetches, then calls ``build_plan``).

What a manifest owns: every top-level field it declares, entirely (a nested key the live record
has and the manifest lacks is a change), and nothing else (undeclared top-level fields are left
alone). An explicit ``null`` clears. The ownership marker and ignored paths are never diffed, and
are carried over into every body we send so that no write drops them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from reconciler import compare, normalise
from reconciler.errors import LiveStateError, Location, ManifestError, Problem
from reconciler.manifests import ManifestSet, SpecDocument, released_conflict
from reconciler.materials import plan_materials
from reconciler.ownership import MARKER_KEY, MARKER_PATH, foreign_owner, marker_of, with_marker
from reconciler.paths import copy_tree, get_path, set_path, split_path, without_paths
from reconciler.plan import Change, FieldChange, Plan
from reconciler.units import is_quantity


@dataclass(frozen=True)
class SpecDiff:
    """The fields of one spec that differ, with details, and the PATCH body that fixes them."""

    fields: tuple[str, ...]
    details: tuple[FieldChange, ...]
    body: dict[str, Any]

    @property
    def empty(self) -> bool:
        return not self.fields


def ignored_paths(spec: SpecDocument, config_ignores: Iterable[str]) -> list[tuple[str, ...]]:
    paths = [split_path(p) for p in (*config_ignores, *spec.lifecycle.ignore_fields)]
    return whole_quantities([p for p in paths if p], spec.body)


def whole_quantities(
    paths: Sequence[tuple[str, ...]], *bodies: Mapping[str, Any]
) -> list[tuple[str, ...]]:
    """Ignored paths that reach inside a Quantity, widened to the whole Quantity.

    A Quantity is one value: ignoring its ``value`` but not its ``unit`` (or the reverse) would
    carry the live number over into the desired unit (3000 mA*h becoming 3000 A*h).
    """
    widened: list[tuple[str, ...]] = []
    for path in paths:
        for end in range(1, len(path)):
            if any(is_quantity(get_path(body, path[:end])) for body in bodies):
                path = path[:end]
                break
        widened.append(path)
    return widened


def diff_spec(
    spec: SpecDocument,
    live_record: Mapping[str, Any],
    *,
    marker: str,
    ignores: Sequence[tuple[str, ...]],
    compare_name: bool = True,
    desired: Mapping[str, Any] | None = None,
) -> SpecDiff:
    """Diff one manifest against its live spec; the body re-sends each changed field in full.

    ``desired`` is the spec's comparable form without the marker and ignored paths, when the
    caller has it already. The marker is added when missing; a manifest that does not declare
    ``properties`` still gets them sent (live keys kept, marker added), so adopting never drops
    a live key.
    """
    live = normalise.live_body(live_record)
    drop = [MARKER_PATH, *ignores]
    if desired is None:
        desired = compare.comparable_without(normalise.spec_state(spec.body), drop)
    declared = normalise.spec_state({field: live[field] for field in spec.body if field in live})
    live_cmp = compare.comparable_without(declared, drop)
    fields: list[str] = []
    details: list[FieldChange] = []
    live_raw: dict[str, Any] | None = None
    for field in spec.body:
        if field == "name" and not compare_name:
            continue
        if compare.equivalent(live_cmp.get(field), desired.get(field)):
            continue
        if live_raw is None:  # only specs that differ pay for the readable details
            live_raw = without_paths(declared, drop)
        fields.append(field)
        desired_raw = without_paths(normalise.spec_state({field: spec.body[field]}), drop)
        details.extend(
            compare.field_differences(field, live_raw.get(field), desired_raw.get(field))
        )

    body = {field: send_value(spec, field, live, marker, ignores) for field in fields}
    if marker_of(live_record) != marker:
        body["properties"] = send_value(spec, "properties", live, marker, ignores)
    return SpecDiff(tuple(fields), tuple(details), body)


def send_value(
    spec: SpecDocument,
    field: str,
    live: Mapping[str, Any],
    marker: str,
    ignores: Sequence[tuple[str, ...]],
) -> Any:
    """The full desired value of a top-level field, with the marker and ignored live values kept.

    An ignored path's live value, when it has one, replaces the manifest's in every body sent,
    whatever its depth (ignoring ``properties`` whole keeps every live property).
    """
    declared = field in spec.body
    value = without_paths({field: spec.body.get(field) if declared else live.get(field)}, [])
    for path in ignores:
        if path[0] == field:
            kept = get_path(live, path)
            if kept is not None:
                set_path(value, path, copy_tree(kept))
    if field == "properties":
        return with_marker(value.get("properties"), marker)
    return value[field]


def create_body(spec: SpecDocument, marker: str, project_id: str) -> dict[str, Any]:
    """The POST body: the manifest as written, plus the marker and the project.

    A shallow copy: nested values are shared with the manifest, and nothing writes into them.
    """
    body = dict(spec.body)
    body["properties"] = with_marker(body.get("properties"), marker)
    body["project_id"] = project_id
    return body


def build_plan(
    manifests: ManifestSet,
    live_records: Sequence[Mapping[str, Any]],
    *,
    project_id: str,
    api_url: str,
    manifests_dir: str,
    prune: bool,
) -> Plan:
    """Match by name (and ``lifecycle.previous_names``) and produce every change, no cascades yet.

    Raises ManifestError when the live state makes a manifest ambiguous: another owner's marker
    on its name, or a rename whose old and new names both exist.
    """
    config = manifests.config
    marker = config.marker
    live_records = [r for r in live_records if r.get("project_id") in (None, project_id)]
    live_by_name = _by_name(live_records, project_id)
    claimed: set[str] = set()
    changes: list[Change] = []
    unchanged: list[str] = []
    problems: list[Problem] = []
    matched: list[tuple[SpecDocument, Mapping[str, Any]]] = []
    created: list[SpecDocument] = []
    set_digest = compare.ListDigest()  # = digest([spec.body for spec in manifests.specs])

    for spec in manifests.specs:
        released = released_conflict(spec, config.release)
        if released:
            problems.append(released)
            continue
        ignores = ignored_paths(spec, config.ignore_fields)
        state = normalise.spec_state(spec.body)
        canonical = compare.comparable(state)
        set_digest.add(canonical)
        desired = compare.comparable_without(state, [MARKER_PATH, *ignores], canonical=canonical)
        record, previous, problem = _match(spec, live_by_name, marker)
        if problem:
            problems.append(problem)
            continue
        source = str(spec.location)
        if record is None:
            created.append(spec)
            changes.append(
                Change(
                    kind="create",
                    name=spec.name,
                    source=source,
                    fields=tuple(spec.body),
                    body=create_body(spec, marker, project_id),
                    desired_digest=compare.digest_comparable(desired),
                )
            )
            continue
        claimed.add(str(record["name"]))
        matched.append((spec, record))
        if ignores:
            widened = whole_quantities(ignores, normalise.live_body(record))
            if widened != ignores:
                ignores = widened
                desired = compare.comparable_without(
                    state, [MARKER_PATH, *ignores], canonical=canonical
                )
        diff = diff_spec(
            spec, record, marker=marker, ignores=ignores, compare_name=False, desired=desired
        )
        body = dict(diff.body)
        if previous is not None:
            body["name"] = spec.name
            kind = "rename"
        elif marker_of(record) != marker:
            kind = "adopt"
        elif not diff.empty:
            kind = "update"
        else:
            unchanged.append(spec.name)
            continue
        changes.append(
            Change(
                kind=kind,  # type: ignore[arg-type]
                name=spec.name,
                spec_id=str(record["id"]),
                previous_name=previous,
                source=source,
                fields=tuple(sorted(body)),
                owned=tuple(sorted({*spec.body, *body})),
                details=diff.details,
                body=body,
                desired_digest=compare.digest_comparable(desired),
                live_digest=compare.live_digest(record),
                live_updated_at=record.get("updated_at"),
            )
        )

    if problems:
        raise ManifestError(problems)

    managed = [r for r in live_records if marker_of(r) == marker]
    for record in managed:
        name = str(record["name"])
        if name in claimed:
            continue
        release = any(fnmatchcase(name, glob) for glob in config.release)
        changes.append(
            Change(
                kind="release" if release else "delete" if prune else "orphan",
                name=name,
                spec_id=str(record["id"]),
                fields=("properties",) if release else (),
                owned=("properties",) if release else (),
                body=release_body(record) if release else {},
                live_digest=compare.live_digest(record),
                live_updated_at=record.get("updated_at"),
            )
        )
    unmanaged: list[str] = []
    other_owners: dict[str, str] = {}
    for record in live_records:
        name = str(record["name"])
        if marker_of(record) == marker or name in claimed:
            continue
        owner = foreign_owner(record, marker)
        if owner:
            other_owners[name] = owner
        else:
            unmanaged.append(name)
    materials, kept = plan_materials(
        manifests.materials, live_records, matched, created, changes, marker
    )
    return Plan(
        project_id=project_id,
        owner=config.owner,
        api_url=api_url,
        manifests_dir=manifests_dir,
        prune=prune,
        changes=tuple(changes),
        unchanged=tuple(sorted(unchanged)),
        unmanaged=tuple(sorted(unmanaged)),
        other_owners=dict(sorted(other_owners.items())),
        managed_count=len(managed),
        desired_digest=set_digest.hexdigest(),
        live_ids=frozenset(str(r["id"]) for r in live_records),
        materials=tuple(materials),
        kept_materials=tuple(kept),
    )


def release_body(record: Mapping[str, Any]) -> dict[str, Any]:
    """The PATCH that releases a spec: its live properties, every one kept, without the marker.

    A server that deep-merges keeps the marker; apply then removes it with an explicit null
    (``applier._ensure``), as it removes any nested key a merge kept.
    """
    properties = normalise.live_body(record).get("properties")
    kept = properties if isinstance(properties, Mapping) else {}
    return {"properties": {k: copy_tree(v) for k, v in kept.items() if k != MARKER_KEY}}


def _by_name(
    live_records: Sequence[Mapping[str, Any]], project_id: str
) -> dict[str, Mapping[str, Any]]:
    """Live specs by name; two with one name mean a listing we cannot plan from.

    Spec names are unique per project, so a repeated name is a server (or paging) fault; matching
    either one would silently ignore, adopt or delete the wrong spec.
    """
    by_name: dict[str, Mapping[str, Any]] = {}
    repeated: list[str] = []
    for record in live_records:
        name = str(record["name"])
        first = by_name.setdefault(name, record)
        if first is not record:
            repeated.append(f"'{name}' (ids {first['id']} and {record['id']})")
    if repeated:
        raise LiveStateError(
            f"the Ionworks API listed several specs under one name in project {project_id}: "
            f"{', '.join(repeated)}; names are unique per project, so nothing was planned. "
            "Rename or delete the duplicates in Ionworks, or report the listing to Ionworks"
        )
    return by_name


def _match(
    spec: SpecDocument, live_by_name: Mapping[str, Mapping[str, Any]], marker: str
) -> tuple[Mapping[str, Any] | None, str | None, Problem | None]:
    """The live record for a manifest, the previous name it was found under, or a problem."""
    record = live_by_name.get(spec.name)
    previous = [n for n in spec.lifecycle.previous_names if n in live_by_name]
    where = spec.field_locations.get("name", spec.location)
    if record is not None and previous:
        return (
            None,
            None,
            _problem(
                where,
                f"both '{spec.name}' and its previous name '{previous[0]}' exist in Ionworks; "
                "delete or rename one of them by hand, or drop it from lifecycle.previous_names",
            ),
        )
    if len(previous) > 1:
        return (
            None,
            None,
            _problem(
                where,
                f"several previous names of '{spec.name}' exist in Ionworks "
                f"({', '.join(previous)}); keep only the one to rename in "
                "lifecycle.previous_names",
            ),
        )
    old_name = previous[0] if previous else None
    if old_name is not None:
        record = live_by_name[old_name]
    if record is not None:
        owner = foreign_owner(record, marker)
        if owner:
            return (
                None,
                None,
                _problem(
                    where,
                    f"'{record['name']}' in Ionworks is managed by {owner}, not {marker}; "
                    "change `owner` in ionworks-apply.yaml or rename this spec",
                ),
            )
    return record, old_name, None


def _problem(location: Location, message: str) -> Problem:
    return Problem(location, message)
