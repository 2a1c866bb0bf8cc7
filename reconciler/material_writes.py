"""Apply the plan's material changes: each written once, then checked on every spec of this
directory that uses it.

A material change is written through a write of the plan that carries the material anyway (a
create or an update of a slot using it), else through one component of one spec, re-checked
first. Then every target is read back. What the API does with a material sent inside a spec is
not documented, so each plausible behaviour is met:

* it updates the shared row (the usual case): every target shows the new definition; done;
* it keeps one row per spec: the spec written shows it, the others not; each of those is then
  written too, once, and checked again;
* it keeps an existing material as it is: not even the spec written shows it; that is said
  once, plainly, and never retried (retrying would only loop, and other specs are untouched).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from reconciler import compare, normalise
from reconciler.api import IonworksClient
from reconciler.catalog import DesiredMaterial, material_key
from reconciler.errors import ApiError, NotFoundError
from reconciler.materials import holds
from reconciler.plan import MaterialChange, Plan
from reconciler.results import Outcome

Patch = Callable[[str, Mapping[str, Any]], Awaitable[dict[str, Any]]]


class MaterialWriter:
    """Writes and checks one plan's material changes with the applier's PATCH (one retry shape)."""

    def __init__(self, client: IonworksClient, plan: Plan, patch: Patch) -> None:
        self.client = client
        self.plan = plan
        self.patch = patch

    async def run(self, spec_outcomes: Sequence[Outcome]) -> list[Outcome]:
        """One outcome per material change, after the plan's spec writes (``spec_outcomes``)."""
        if not self.plan.materials:
            return []
        failed = {o.change.name for o in spec_outcomes if o.status == "failed"}
        outcomes: dict[tuple[str, str | None], Outcome] = {}
        written: dict[tuple[str, str | None], str] = {}
        for change in self.plan.materials:
            if change.carried_by:
                carriers = [name for name in change.carried_by if name not in failed]
                if carriers:
                    written[change.key] = carriers[0]
                else:
                    outcomes[change.key] = Outcome(
                        change, "failed", "not changed: every write that carries it failed"
                    )
                continue
            try:
                refusal = await self._via(change)
            except ApiError as exc:
                refusal = str(exc)
            if refusal:
                outcomes[change.key] = Outcome(change, "failed", refusal, change.spec_id)
            else:
                written[change.key] = change.via or ""
        pending = [c for c in self.plan.materials if c.key not in outcomes]
        if pending:
            outcomes.update(await self._check(pending, written))
        return [outcomes[c.key] for c in self.plan.materials]

    async def _via(self, change: MaterialChange) -> str:
        """Write the change through its one component; why not, when the spec moved."""
        spec_id = change.spec_id or ""
        try:
            start = await self.client.get_spec(spec_id)
        except NotFoundError:
            return f"not changed: '{change.via}', the spec to write it through, was deleted"
        if compare.live_digest(start) != change.live_digest:
            return (
                f"not changed: '{change.via}', the spec to write it through, changed since the "
                "plan was made; run plan again"
            )
        await self.patch(spec_id, change.body)
        return ""

    async def _check(
        self, changes: Sequence[MaterialChange], written: Mapping[tuple[str, str | None], str]
    ) -> dict[tuple[str, str | None], Outcome]:
        """Read every target back; write again where the API keeps a row per spec."""
        behind = await self._behind(changes)
        outcomes: dict[tuple[str, str | None], Outcome] = {}
        again: list[MaterialChange] = []
        for change in changes:
            through = written[change.key]
            lagging = behind[change.key]
            if not lagging:
                outcomes[change.key] = Outcome(change, "applied", f"changed through '{through}'")
            elif through in lagging:
                outcomes[change.key] = _kept(change)
            else:
                again.append(change)
        for change in again:
            for name in behind[change.key]:
                await self._write_target(change, name)
        if again:
            still = await self._behind(again)
            for change in again:
                outcomes[change.key] = (
                    Outcome(
                        change,
                        "applied",
                        "changed on each spec (Ionworks keeps this material per spec)",
                    )
                    if not still[change.key]
                    else Outcome(
                        change,
                        "failed",
                        f"{', '.join(still[change.key])} still show(s) the old definition of "
                        f"material {change.name} after it was written to them",
                    )
                )
        return outcomes

    async def _write_target(self, change: MaterialChange, name: str) -> None:
        body = change.target_bodies.get(name)
        spec = await self.client.find_spec(self.plan.project_id, name)
        if body and spec is not None:
            await self.patch(str(spec["id"]), body)

    async def _behind(
        self, changes: Sequence[MaterialChange]
    ) -> dict[tuple[str, str | None], list[str]]:
        """Per change, the targets whose material does not show the desired state."""
        live = await self.client.list_specs(
            self.plan.project_id, full=True, view=normalise.live_view
        )
        by_name = {str(r["name"]): r for r in live}
        found: dict[tuple[str, str | None], list[str]] = {}
        for change in changes:
            desired = _desired(change)
            found[change.key] = sorted(
                name
                for name in change.targets
                if not _shows(by_name.get(name), change.key, desired)
            )
        return found


def _desired(change: MaterialChange) -> DesiredMaterial:
    return DesiredMaterial(
        change.key, change.desired.get("definition"), change.desired.get("product_id")
    )


def _shows(
    record: Mapping[str, Any] | None, key: tuple[str, str | None], desired: DesiredMaterial
) -> bool:
    """Whether every slot of ``record`` using the material shows the desired state."""
    if record is None:
        return False
    for slot in normalise.COMPONENT_SLOTS:
        component = record.get(slot)
        material = component.get("material") if isinstance(component, Mapping) else None
        if not isinstance(material, Mapping) or material_key(material) != key:
            continue
        if not holds(material, desired):
            return False
    return True


def _kept(change: MaterialChange) -> Outcome:
    return Outcome(
        change,
        "failed",
        f"Ionworks kept the existing definition of material {change.name}: it does not change "
        "a material through a spec that uses it. Change the material in Ionworks, or make the "
        "manifests define it as it is; nothing else was changed for it, and running apply "
        "again will not change that",
        converges_on_rerun=False,
    )
