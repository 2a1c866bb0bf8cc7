"""A reviewed plan against a fresh one: what apply writes is what was reviewed, or nothing.

A saved plan file is input, not authority: anyone can edit it (a delete where an orphan was, a
removed block, another body, another project). So apply never executes a file's changes. It
plans the same directory again, from the manifests, the config and the live state, and keeps
the fresh changes that are identical to the reviewed ones; the guards are those of the fresh
plan. Any difference refuses the whole plan before the first write. A reviewed change the live
state already shows done (a plan applied twice) is reported as already applied, not as a
difference.

Pure functions over two Plans; the engine fetches and plans. ``check_pairs`` is the one
comparison behind both ways of applying a reviewed plan: ``apply PLANFILE`` (the file's own
directories, re-planned) and ``apply --expect PLANFILE DIR...`` (the directories given, re-planned
as ``apply DIR`` would, paired with the file's plans by project and owner, so the file can only
narrow what is written, never choose it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from reconciler.compare import canonical_json
from reconciler.errors import StalePlanError
from reconciler.plan import Cascade, Change, MaterialChange, Plan
from reconciler.results import Outcome


@dataclass(frozen=True)
class Reviewed:
    """The outcome of checking a reviewed plan against a fresh plan of the same directory."""

    #: The fresh plan reduced to the reviewed changes (with the fresh plan's guards).
    plan: Plan
    #: Reviewed changes that the live state already shows done.
    already: tuple[Change | MaterialChange, ...]
    #: Every difference; any one refuses the whole plan.
    reasons: tuple[str, ...]


def check_reviewed(reviewed: Plan, fresh: Plan) -> Reviewed:
    """Match every writing change of ``reviewed`` to an identical change of ``fresh``."""
    reasons: list[str] = []
    if reviewed.project_id != fresh.project_id:
        reasons.append(
            f"the plan is for project {reviewed.project_id}, but {fresh.manifests_dir} now "
            f"reconciles project {fresh.project_id}"
        )
    if reviewed.owner != fresh.owner:
        reasons.append(
            f"the plan was made for owner '{reviewed.owner}', but the config of "
            f"{fresh.manifests_dir} now says '{fresh.owner}'"
        )
    fresh_by_name = {c.name: c for c in fresh.changes}
    unchanged = set(fresh.unchanged)
    matched: list[Change] = []
    already: list[Change] = []
    seen: set[str] = set()
    for change in reviewed.writing_changes:
        seen.add(change.name)
        counterpart = fresh_by_name.get(change.name)
        if counterpart is None:
            if _done(change, unchanged, fresh):
                already.append(change)
            else:
                reasons.append(
                    f"'{change.name}': the plan says {change.kind}, but a fresh plan has "
                    "nothing to do for it"
                )
            continue
        difference = _difference(change, counterpart, reviewed)
        if difference:
            reasons.append(difference)
        else:
            matched.append(counterpart)
    reasons.extend(
        f"'{c.name}': a fresh plan also has a {c.kind} that the plan does not hold"
        for c in fresh.writing_changes
        if c.name not in seen
    )
    kept = {id(c) for c in matched}
    materials, materials_done = _check_materials(reviewed, fresh, reasons)
    plan = replace(
        fresh,
        changes=tuple(c for c in fresh.changes if id(c) in kept or not c.is_write),
        materials=materials,
    )
    return Reviewed(plan, (*already, *materials_done), tuple(reasons))


def _check_materials(
    reviewed: Plan, fresh: Plan, reasons: list[str]
) -> tuple[tuple[MaterialChange, ...], tuple[MaterialChange, ...]]:
    """The fresh material changes identical to the reviewed ones (same desired and live state,
    reach no wider), and the reviewed ones the live state already shows; reasons for the rest."""
    fresh_by_key = {m.key: m for m in fresh.materials}
    matched: list[MaterialChange] = []
    done: list[MaterialChange] = []
    for material in reviewed.materials:
        counterpart = fresh_by_key.pop(material.key, None)
        if counterpart is None:
            done.append(material)
        elif canonical_json(material.desired) != canonical_json(counterpart.desired):
            reasons.append(
                f"material {material.name}: its definition in the plan differs from "
                "what the manifests give"
            )
        elif canonical_json(material.before) != canonical_json(counterpart.before):
            reasons.append(f"material {material.name} changed in Ionworks since the plan was made")
        elif {r.spec_id for r in counterpart.reach} - {r.spec_id for r in material.reach}:
            reasons.append(f"material {material.name} now reaches more specs than the plan showed")
        else:
            matched.append(counterpart)
    reasons.extend(
        f"material {m.name}: a fresh plan also changes it, which the plan does not hold"
        for m in fresh_by_key.values()
    )
    return tuple(matched), tuple(done)


def check_pairs(
    pairs: Sequence[tuple[Plan, Plan]], reasons: Sequence[str] = ()
) -> tuple[list[Plan], list[list[Outcome]]]:
    """Each (reviewed, fresh) pair checked: the plans to apply and, per plan, the reviewed
    changes already done; StalePlanError naming every difference (and ``reasons`` found
    before) if there is any, so nothing at all is written."""
    checked = [check_reviewed(reviewed, fresh) for reviewed, fresh in pairs]
    found = [*reasons, *(reason for c in checked for reason in c.reasons)]
    if found:
        raise StalePlanError(found)
    already = [
        [Outcome(change, "already", "already applied", change.spec_id) for change in c.already]
        for c in checked
    ]
    return [c.plan for c in checked], already


def pair_by_project(
    reviewed: Sequence[Plan], fresh: Sequence[Plan]
) -> tuple[list[tuple[Plan, Plan]], list[str]]:
    """Each fresh plan with the reviewed plan of its project and owner, and what has none.

    A directory no reviewed plan covers, a reviewed plan no directory reconciles, and a
    project reviewed twice are each a reason to refuse: the review must cover exactly what
    is applied.
    """
    reasons: list[str] = []
    by_key: dict[tuple[str, str], Plan] = {}
    for plan in reviewed:
        key = (plan.project_id, plan.owner)
        if key in by_key:
            reasons.append(
                f"the reviewed plan holds project {plan.project_id} (owner '{plan.owner}') twice"
            )
        by_key[key] = plan
    pairs: list[tuple[Plan, Plan]] = []
    for plan in fresh:
        match = by_key.pop((plan.project_id, plan.owner), None)
        if match is None:
            reasons.append(
                f"{plan.manifests_dir} reconciles project {plan.project_id} (owner "
                f"'{plan.owner}'), which the reviewed plan does not cover"
            )
        else:
            pairs.append((match, plan))
    reasons.extend(
        f"the reviewed plan is for project {plan.project_id} (owner '{plan.owner}') too, "
        "which none of the directories given reconciles"
        for plan in by_key.values()
    )
    return pairs, reasons


def _done(change: Change, unchanged: set[str], fresh: Plan) -> bool:
    """Whether the live state shows ``change`` done: the spec is as desired, deleted, or (a
    release) unmarked; taken over by another owner meanwhile is a difference, not done."""
    if change.kind == "delete":
        return change.spec_id not in fresh.live_ids
    if change.kind == "release":
        return change.name in fresh.unmanaged
    return change.name in unchanged


def _difference(change: Change, fresh: Change, reviewed: Plan) -> str:
    """Why a reviewed change and its fresh counterpart differ ("" when they are identical)."""
    name = change.name
    if change.kind != fresh.kind:
        return _kind_difference(change, fresh, reviewed)
    if change.spec_id != fresh.spec_id:
        return f"'{name}' is another spec in Ionworks now (id {change.spec_id} -> {fresh.spec_id})"
    if change.live_digest != fresh.live_digest:
        return (
            f"'{name}' changed since the plan was made (updated_at {change.live_updated_at} "
            f"-> {fresh.live_updated_at})"
        )
    if change.previous_name != fresh.previous_name:
        return f"'{name}': the plan renames it from '{change.previous_name}', a fresh plan does not"
    if canonical_json(change.body) != canonical_json(fresh.body):
        fields = sorted(
            key
            for key in {*change.body, *fresh.body}
            if canonical_json(change.body.get(key)) != canonical_json(fresh.body.get(key))
        )
        return (
            f"'{name}': the {change.kind} in the plan differs from what the manifests give "
            f"({', '.join(fields)}): the plan file was edited or the manifests changed since"
        )
    if change.desired_digest != fresh.desired_digest:
        return f"'{name}': its manifest changed since the plan was made"
    if change.owned != fresh.owned:
        return f"'{name}': the fields its manifest declares changed since the plan was made"
    if fresh.kind == "delete":
        now, planned = fresh.cascade or Cascade(), change.cascade or Cascade()
        if now.grew_from(planned):
            return (
                f"'{name}': its cascade grew to {now.describe()} (the plan showed "
                f"{planned.describe() if change.cascade else 'no count'})"
            )
    return ""


def _kind_difference(change: Change, fresh: Change, reviewed: Plan) -> str:
    name = change.name
    if change.kind == "create":
        return f"'{name}' now exists in Ionworks (created since the plan)"
    if fresh.kind == "create":
        return f"'{name}' was deleted since the plan was made"
    if change.kind == "delete" and fresh.kind == "orphan" and not reviewed.prune:
        return f"'{name}': the plan deletes it, but it was made without prune (an orphan)"
    return f"'{name}': the plan says {change.kind}, a fresh plan says {fresh.kind}"
