"""Execute a Plan: guards and staleness first, then writes, then verification.

Nothing is written until every guard passed and every target was re-read and found as the plan
saw it. Writes go creates/renames/adopts/updates first, deletes last, concurrently within the
client's bound. A write whose answer was lost is never blindly resent: the live state is read
first (a POST that landed is found by name, a PATCH that landed shows its values). One failed
change does not stop the others; a re-run converges.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from reconciler import normalise
from reconciler.api import IonworksClient
from reconciler.errors import (
    ApiError,
    ConflictError,
    GuardError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    StalePlanError,
    TransportError,
)
from reconciler.plan import Change, Plan
from reconciler.planner import live_digest, marker_of

#: Attempts per change at the applier level, each after re-reading the live state.
MAX_ATTEMPTS = 4
#: Errors after which the live state is uncertain or the server may recover: look, then retry.
RECOVERABLE = (TransportError, ServerError, RateLimitedError)

Status = Literal["applied", "already", "failed", "skipped"]


@dataclass(frozen=True)
class Outcome:
    """What happened to one change."""

    change: Change
    status: Status
    message: str = ""
    spec_id: str | None = None

    @property
    def data(self) -> dict[str, Any]:
        return {
            "kind": self.change.kind,
            "name": self.change.name,
            "status": self.status,
            "message": self.message,
            "spec_id": self.spec_id or self.change.spec_id,
        }


@dataclass
class ApplyResult:
    """Every outcome of one plan's apply, and the specs that did not converge."""

    plan: Plan
    outcomes: list[Outcome] = field(default_factory=list)
    not_converged: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.not_converged

    def counts(self) -> dict[str, int]:
        counts = {"applied": 0, "already": 0, "failed": 0, "skipped": 0}
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


class Reporter(Protocol):
    """Progress events; the CLI turns them into a progress bar or one line per change."""

    def cascade_warning(self, change: Change) -> None: ...

    def begin(self, total: int) -> None: ...

    def done(self, outcome: Outcome) -> None: ...


ConfirmCascade = Callable[[Change], bool]


def check_guards(plan: Plan, confirm_cascade: ConfirmCascade | None) -> Plan:
    """Refuse (GuardError) unless every delete is unblocked; a cascade-only block may be
    lifted by the user typing the spec's name when ``confirm_cascade`` is given (a terminal)."""
    blocked: list[str] = []
    for change in plan.of_kind("delete"):
        remaining = list(change.blocks)
        only_cascade = remaining and all(b.guard == "cascade" for b in remaining)
        if only_cascade and confirm_cascade is not None and confirm_cascade(change):
            remaining = []
        blocked.extend(
            f'DELETE "{change.name}" blocked: {b.reason}; to allow: {b.allow}' for b in remaining
        )
    if blocked:
        raise GuardError(
            f"{len(blocked)} guard(s) refused deletes; nothing was written", blocked=blocked
        )
    return plan


async def check_fresh(client: IonworksClient, plan: Plan) -> list[Outcome]:
    """Re-read every target; raise StalePlanError naming what moved since the plan was made.

    Returns outcomes for changes that turned out to be done already (a create that now exists
    exactly as desired, a delete whose spec is already gone).
    """
    live = await client.list_specs(plan.project_id, full=True)
    by_id = {str(r["id"]): r for r in live}
    by_name = {str(r["name"]): r for r in live}
    reasons: list[str] = []
    already: list[Outcome] = []
    deletes: list[Change] = []
    for change in plan.writes:
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
        if live_digest(record) != change.live_digest:
            reasons.append(
                f"'{change.name}' changed since the plan was made (updated_at "
                f"{change.live_updated_at} -> {record.get('updated_at')})"
            )
        elif change.kind == "delete":
            deletes.append(change)
    counts = await asyncio.gather(*(client.cascade(c.spec_id or "") for c in deletes))
    for change, now in zip(deletes, counts, strict=True):
        if change.cascade is not None and now.grew_from(change.cascade):
            reasons.append(
                f"'{change.name}': its cascade grew to {now.describe()} "
                f"(the plan showed {change.cascade.describe()})"
            )
    if reasons:
        raise StalePlanError(reasons)
    return already


def patch_for(body: Mapping[str, Any], record: Mapping[str, Any]) -> dict[str, Any]:
    """The part of ``body`` the live record does not yet hold (empty: converged)."""
    live = normalise.live_body(record)
    return {
        key: value
        for key, value in body.items()
        if key != "project_id"
        and not normalise.equivalent(
            normalise.comparable(value), normalise.comparable(live.get(key))
        )
    }


def with_explicit_nulls(desired: Any, live: Any) -> Any:
    """``desired`` plus an explicit null for every nested key only ``live`` has.

    A server that deep-merges PATCHed objects keeps keys we dropped; null is how to remove them.
    """
    if not isinstance(desired, Mapping) or not isinstance(live, Mapping):
        return desired
    if _is_quantity_like(desired):
        return desired
    result = {k: with_explicit_nulls(v, live.get(k)) for k, v in desired.items()}
    for key in live:
        if key not in desired:
            result[key] = None
    return result


def _is_quantity_like(value: Mapping[str, Any]) -> bool:
    return set(value) == {"value", "unit"}


class Applier:
    """Applies one plan with one client; see the module docstring for the order of things."""

    def __init__(
        self,
        client: IonworksClient,
        plan: Plan,
        reporter: Reporter,
        *,
        backoff: float = 0.5,
    ) -> None:
        self.client = client
        self.plan = plan
        self.reporter = reporter
        self.backoff = backoff

    async def run(self, already: Sequence[Outcome] = ()) -> ApplyResult:
        result = ApplyResult(self.plan, outcomes=list(already))
        done = {id(o.change) for o in already}
        todo = [c for c in self.plan.writes if id(c) not in done]
        for change in todo:
            if change.kind == "delete":
                self.reporter.cascade_warning(change)
        self.reporter.begin(len(todo))
        first = [c for c in todo if c.kind != "delete"]
        deletes = [c for c in todo if c.kind == "delete"]
        for batch in (first, deletes):
            result.outcomes.extend(await asyncio.gather(*(self._one(c) for c in batch)))
        result.not_converged = await self._verify(result.outcomes)
        return result

    async def _one(self, change: Change) -> Outcome:
        action: Callable[[Change], Awaitable[Outcome]] = {
            "create": self._create,
            "delete": self._delete,
        }.get(change.kind, self._update)
        try:
            outcome = await action(change)
        except ApiError as exc:
            outcome = Outcome(change, "failed", str(exc), change.spec_id)
        self.reporter.done(outcome)
        return outcome

    async def _pause(self, attempt: int, exc: Exception) -> None:
        delay = self.backoff * (2**attempt) * random.uniform(0.5, 1.0)
        if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
            delay = max(delay, min(exc.retry_after, 30.0))
        await asyncio.sleep(delay)

    async def _create(self, change: Change) -> Outcome:
        last: ApiError | None = None
        for attempt in range(MAX_ATTEMPTS):
            try:
                record = await self.client.create_spec(change.body)
                return Outcome(change, "applied", "created", str(record["id"]))
            except ConflictError as exc:
                existing = await self._lookup_created(change, exc.existing_id)
                if existing is None:
                    raise
                return await self._settle_existing(change, existing)
            except RECOVERABLE as exc:
                last = exc
                existing = await self._lookup_created(change, None)
                if existing is not None:
                    return await self._settle_existing(change, existing)
                await self._pause(attempt, exc)
        assert last is not None
        raise last

    async def _lookup_created(self, change: Change, spec_id: str | None) -> dict[str, Any] | None:
        if spec_id:
            try:
                return await self.client.get_spec(spec_id)
            except NotFoundError:
                pass
        return await self.client.find_spec(self.plan.project_id, change.name)

    async def _settle_existing(self, change: Change, existing: Mapping[str, Any]) -> Outcome:
        """A spec with the create's name exists: ours (a lost answer, or a concurrent apply of
        the same manifests) is brought to the desired state; anyone else's is left alone."""
        spec_id = str(existing["id"])
        if marker_of(existing) != marker_of(change.body):
            return Outcome(
                change,
                "failed",
                f"a spec named '{change.name}' was created by someone else since the plan; "
                "run plan again to adopt it",
                spec_id,
            )
        patch = patch_for(change.body, existing)
        if patch:
            await self._patch(change, spec_id, patch)
        return Outcome(change, "applied", "created", spec_id)

    async def _update(self, change: Change) -> Outcome:
        spec_id = change.spec_id or ""
        await self._patch(change, spec_id, change.body)
        verb = {"rename": f"renamed from '{change.previous_name}'", "adopt": "adopted"}
        return Outcome(change, "applied", verb.get(change.kind, "updated"), spec_id)

    async def _patch(self, change: Change, spec_id: str, body: Mapping[str, Any]) -> None:
        last: ApiError | None = None
        for attempt in range(MAX_ATTEMPTS):
            try:
                await self.client.update_spec(spec_id, body)
                return
            except RECOVERABLE as exc:
                last = exc
                live = await self.client.get_spec(spec_id)
                if not patch_for(body, live):
                    return
                await self._pause(attempt, exc)
        assert last is not None
        raise last

    async def _delete(self, change: Change) -> Outcome:
        spec_id = change.spec_id or ""
        last: ApiError | None = None
        for attempt in range(MAX_ATTEMPTS):
            try:
                deleted = await self.client.delete_spec(spec_id)
                return Outcome(change, "applied" if deleted else "already", "deleted", spec_id)
            except RECOVERABLE as exc:
                last = exc
                try:
                    await self.client.get_spec(spec_id)
                except NotFoundError:
                    return Outcome(change, "applied", "deleted", spec_id)
                await self._pause(attempt, exc)
        assert last is not None
        raise last

    async def _verify(self, outcomes: Sequence[Outcome]) -> list[str]:
        """Re-fetch and re-compare every touched spec; once, send explicit nulls for leftovers.

        A re-read that fails leaves the result unverified, not lost: the outcomes (and the
        report) still say what was written, and the apply exits non-zero.
        """
        try:
            live = await self.client.list_specs(self.plan.project_id, full=True)
        except ApiError as exc:
            return [f"the result could not be verified (writes above were made): {exc}"]
        by_id = {str(r["id"]): r for r in live}
        problems: list[str] = []
        leftovers: list[tuple[Outcome, Mapping[str, Any]]] = []
        for outcome in outcomes:
            if outcome.status == "failed":
                continue
            record = by_id.get(outcome.spec_id or "")
            if outcome.change.kind == "delete":
                if record is not None:
                    problems.append(f"'{outcome.change.name}' still exists after its delete")
                continue
            if record is None:
                problems.append(f"'{outcome.change.name}' is missing after apply")
            elif patch_for(outcome.change.body, record):
                leftovers.append((outcome, record))
        problems.extend(
            p for p in await asyncio.gather(*(self._clear(o, r) for o, r in leftovers)) if p
        )
        return problems

    async def _clear(self, outcome: Outcome, record: Mapping[str, Any]) -> str | None:
        spec_id = str(record["id"])
        live = normalise.live_body(record)
        body = {
            key: with_explicit_nulls(value, live.get(key))
            for key, value in patch_for(outcome.change.body, record).items()
        }
        try:
            await self._patch(outcome.change, spec_id, body)
            after = await self.client.get_spec(spec_id)
        except ApiError as exc:
            return f"'{outcome.change.name}' did not converge: {exc}"
        remaining = patch_for(outcome.change.body, after)
        if remaining:
            return (
                f"'{outcome.change.name}' did not converge: the API still differs in "
                f"{', '.join(sorted(remaining))} after the update"
            )
        return None
