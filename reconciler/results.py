"""What apply did: one outcome per change, and per plan the result of applying it.

Plain data beside the Plan it reports on; the JSON renderer turns results into the apply report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from reconciler.plan import Cascade, Change, MaterialChange, Plan

Status = Literal["applied", "already", "failed", "skipped", "blocked"]


@dataclass(frozen=True)
class DeletedSpec:
    """What a delete destroyed: the spec's full live record, read just before the DELETE, and
    what went with it. Instances and measurements cannot be brought back; with this in the
    report the spec itself can at least be re-created (``manifest`` is ready to apply)."""

    record: dict[str, Any]
    cascade: Cascade

    @property
    def data(self) -> dict[str, Any]:
        from reconciler.export import manifest_text  # ruamel.yaml only when a report is written

        return {
            "record": self.record,
            "cascade": self.cascade.data,
            "manifest": manifest_text(self.record),
        }


@dataclass(frozen=True)
class Outcome:
    """What happened to one change (of a spec, or of a shared material)."""

    change: Change | MaterialChange
    status: Status
    message: str = ""
    spec_id: str | None = None
    #: Fields someone else changed while we wrote, which we set back (the message says so).
    restored: tuple[str, ...] = ()
    #: False for a failure a re-run cannot fix (another owner's spec took the name).
    converges_on_rerun: bool = True
    #: For a spec this apply deleted: what was destroyed.
    deleted: DeletedSpec | None = None

    @property
    def data(self) -> dict[str, Any]:
        return {
            "kind": self.change.kind,
            "name": self.change.name,
            "status": self.status,
            "message": self.message,
            "spec_id": self.spec_id or self.change.spec_id,
            "restored": list(self.restored),
            "deleted": self.deleted.data if self.deleted else None,
        }


@dataclass(repr=False)
class ApplyResult:
    """Every outcome of one plan's apply, and the specs that did not converge."""

    plan: Plan
    outcomes: list[Outcome] = field(default_factory=list)
    not_converged: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def blocked(self) -> list[Outcome]:
        """Deletes refused by the re-check just before them (exit 3)."""
        return [o for o in self.outcomes if o.status == "blocked"]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.blocked and not self.not_converged

    def __repr__(self) -> str:
        """One short line, like ``Plan``'s: an event loop formats its result in passing."""
        unconverged = len(self.not_converged)
        return f"ApplyResult({self.plan!r}, {self.counts()}, not_converged={unconverged})"

    def counts(self) -> dict[str, int]:
        counts = {"applied": 0, "already": 0, "failed": 0, "skipped": 0, "blocked": 0}
        for outcome in self.outcomes:
            counts[outcome.status] += 1
        return counts

    @property
    def data(self) -> dict[str, Any]:
        return {
            "project_id": self.plan.project_id,
            "manifests_dir": self.plan.manifests_dir,
            "summary": self.counts(),
            "not_converged": self.not_converged,
            "changes": [o.data for o in self.outcomes],
        }
