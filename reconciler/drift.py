"""The drift audit: a read-only look at how far Ionworks has moved from the manifests.

It is a plan made without pruning, read as a report: every write the plan would make is drift
(a field changed in the web app, a spec missing live, a spec not yet adopted or renamed), and so
is an orphan (ours, but no manifest), and so is a shared material whose live definition differs
from the manifests' (reported once per material, with the specs it reaches). Unmanaged specs
(no marker) and specs managed by another owner (another directory's marker) are listed, not
counted: they are other people's business.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reconciler.plan import Change, Plan

#: Section order and titles, shared by the renderers.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("update", "changed live (differs from the manifests)"),
    ("create", "missing live (declared in the manifests, not in Ionworks)"),
    ("adopt", "not adopted (same name in Ionworks, no ownership marker)"),
    ("rename", "not renamed (still under a previous name)"),
    ("orphan", "orphaned (ours, but no manifest)"),
    ("release", "not yet released (matched by a release glob in the config, still ours)"),
)


@dataclass(frozen=True)
class Drift:
    """One project's drift, from a prune-less plan."""

    plan: Plan

    def section(self, kind: str) -> list[Change]:
        return [c for c in self.plan.changes if c.kind == kind]

    @property
    def drifted(self) -> list[Change]:
        return [c for c in self.plan.changes if c.kind in dict(SECTIONS)]

    @property
    def in_sync(self) -> bool:
        return not self.drifted and not self.plan.materials

    def counts(self) -> dict[str, int]:
        counts = {kind: len(self.section(kind)) for kind, _ in SECTIONS}
        counts["material"] = len(self.plan.materials)
        return counts

    @property
    def data(self) -> dict[str, Any]:
        return {
            "project_id": self.plan.project_id,
            "project_name": self.plan.project_name,
            "owner": self.plan.owner,
            "manifests_dir": self.plan.manifests_dir,
            "in_sync": self.in_sync,
            "counts": self.counts(),
            "drift": [
                {
                    "kind": c.kind,
                    "name": c.name,
                    "spec_id": c.spec_id,
                    "previous_name": c.previous_name,
                    "source": c.source,
                    "details": [
                        {"path": d.path, "live": d.before, "manifest": d.after} for d in c.details
                    ],
                }
                for c in self.drifted
            ],
            "materials": [
                {
                    "name": m.name,
                    "key": list(m.key),
                    "details": [
                        {"path": d.path, "live": d.before, "manifest": d.after} for d in m.details
                    ],
                    "reach": [
                        {"name": r.name, "spec_id": r.spec_id, "owner": r.owner} for r in m.reach
                    ],
                }
                for m in self.plan.materials
            ],
            "in_sync_specs": list(self.plan.unchanged),
            "unmanaged": list(self.plan.unmanaged),
            "other_owners": dict(self.plan.other_owners),
        }
