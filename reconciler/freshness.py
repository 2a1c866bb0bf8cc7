"""Is the plan still what Ionworks holds? Every target re-read just before the first write.

A spec changed since the plan (its digest moved), a create whose name was taken, a delete whose
cascade grew, a shared material changed or now reaching more specs: each is a reason, and any
reason refuses the whole apply (StalePlanError, exit 3) before anything is written. Changes the
live state already shows done come back as outcomes instead.
"""

from __future__ import annotations

import asyncio

from reconciler import compare, normalise
from reconciler.api import IonworksClient
from reconciler.applier import count_cascade, patch_for
from reconciler.errors import StalePlanError
from reconciler.materials import moved_since
from reconciler.ownership import marker_of
from reconciler.plan import Cascade, Change, Plan
from reconciler.results import Outcome


async def check_fresh(client: IonworksClient, plan: Plan) -> list[Outcome]:
    """Re-read every target; raise StalePlanError naming what moved since the plan was made.

    Returns outcomes for changes that turned out to be done already (a create that now exists
    exactly as desired, a delete whose spec is already gone).
    """
    live = await client.list_specs(
        plan.project_id, full=True, view=normalise.live_view, expected=plan.live_count
    )
    by_id = {str(r["id"]): r for r in live}
    by_name = {str(r["name"]): r for r in live}
    reasons: list[str] = []
    already: list[Outcome] = []
    deletes: list[Change] = []
    for change in plan.writing_changes:
        if change.kind == "create":
            existing = by_name.get(change.name)
            if existing is None:
                continue
            if marker_of(existing) == marker_of(change.body) and not patch_for(
                change.body, existing
            ):
                already.append(Outcome(change, "already", "exists as planned", str(existing["id"])))
            else:
                reasons.append(f"'{change.name}' now exists in Ionworks (created since the plan)")
            continue
        record = by_id.get(change.spec_id or "")
        if record is None:
            if change.kind == "delete":
                already.append(Outcome(change, "already", "already deleted"))
            else:
                reasons.append(f"'{change.name}' was deleted since the plan was made")
            continue
        if compare.live_digest(record) != change.live_digest:
            reasons.append(
                f"'{change.name}' changed since the plan was made (updated_at "
                f"{change.live_updated_at} -> {record.get('updated_at')})"
            )
        elif change.kind == "delete":
            deletes.append(change)
    counts = await asyncio.gather(*(count_cascade(client, c.spec_id or "") for c in deletes))
    for change, now in zip(deletes, counts, strict=True):
        planned = change.cascade or Cascade()
        if now.grew_from(planned):
            reasons.append(
                f"'{change.name}': its cascade grew to {now.describe()} "
                f"(the plan showed {planned.describe()})"
            )
    reasons.extend(
        reason
        for material in plan.materials
        if (reason := moved_since(material, live, plan.marker))
    )
    if reasons:
        raise StalePlanError(reasons)
    return already
