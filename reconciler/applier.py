"""Execute a Plan: guards and staleness first, then writes, then verification.

Nothing is written until every guard passed and every target was re-read and found as the plan
saw it. Writes go creates/renames/adopts/updates first, deletes last, concurrently within the
client's bound. A write whose answer was lost is never blindly resent: the live state is read
first (a POST that landed is found by name, a PATCH that landed shows its values). One failed
change does not stop the others; a re-run converges.

An update re-reads its spec just before the PATCH and writes nothing if it moved since the plan.
After each write the fields the manifest owns must be exactly that state plus our changes.
Anything else is set right at once with one more PATCH (explicit nulls remove nested keys a
deep-merging server kept; an owned field another writer changed in between is restored and the
outcome says so), so two applies racing on one spec leave it as one of them wanted, never a mix.
Fields the manifest does not declare are never written, whoever changed them. The final re-read does
not write again: a spec changed by someone else after our write is reported, not fought over.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from reconciler import compare, normalise
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
from reconciler.ownership import marker_of
from reconciler.plan import Cascade, Change, Plan

#: Attempts per change at the applier level, each after re-reading the live state.
MAX_ATTEMPTS = 4
#: Errors after which the live state is uncertain or the server may recover: look, then retry.
RECOVERABLE = (TransportError, ServerError, RateLimitedError)

Status = Literal["applied", "already", "failed", "skipped", "blocked"]


@dataclass(frozen=True)
class Outcome:
    """What happened to one change."""

    change: Change
    status: Status
    message: str = ""
    spec_id: str | None = None
    #: Fields someone else changed while we wrote, which we set back (the message says so).
    restored: tuple[str, ...] = ()

    @property
    def data(self) -> dict[str, Any]:
        return {
            "kind": self.change.kind,
            "name": self.change.name,
            "status": self.status,
            "message": self.message,
            "spec_id": self.spec_id or self.change.spec_id,
            "restored": list(self.restored),
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
    live = await client.list_specs(
        plan.project_id, full=True, view=normalise.live_view, expected=plan.live_count
    )
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
        if compare.live_digest(record) != change.live_digest:
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
    missing = compare.differing_fields(body, normalise.live_body(record))
    return {key: body[key] for key in missing}


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


def repair_body(
    expected: Mapping[str, Any], record: Mapping[str, Any], fields: Iterable[str]
) -> dict[str, Any]:
    """The PATCH that turns ``record`` into ``expected`` in ``fields`` (empty: it already is).

    Nested keys only the record has are sent as explicit nulls; other fields are never touched.
    """
    live = normalise.live_body(record)
    wanted = {key: expected.get(key) for key in sorted(fields)}
    return {
        key: with_explicit_nulls(wanted[key], live.get(key))
        for key in compare.differing_fields(wanted, live)
    }


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
        #: spec id -> fingerprint of the record our last write left, found converged then.
        self._converged: dict[str, str] = {}

    async def run(self, already: Sequence[Outcome] = ()) -> ApplyResult:
        result = ApplyResult(self.plan, outcomes=list(already))
        result.outcomes.extend(
            Outcome(c, "skipped", "orphaned, not deleted: prune is off", c.spec_id)
            for c in self.plan.of_kind("orphan")
        )
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

    def _after(self) -> int:
        """How many specs the project should hold now (a paging hint for the re-read)."""
        plan = self.plan
        return plan.live_count + len(plan.of_kind("create")) - len(plan.of_kind("delete"))

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
            else:
                spec_id = str(record["id"])
                return await self._ensure(change, spec_id, change.body, record, "created")
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
        after: Mapping[str, Any] = existing
        patch = patch_for(change.body, existing)
        if patch:
            after = await self._patch(spec_id, patch)
        return await self._ensure(change, spec_id, change.body, after, "created")

    async def _update(self, change: Change) -> Outcome:
        """Re-read the spec just before writing: the PATCH must turn exactly that into ours."""
        spec_id = change.spec_id or ""
        try:
            start = await self.client.get_spec(spec_id)
        except NotFoundError:
            start = None
        if start is None or compare.live_digest(start) != change.live_digest:
            moved = "was deleted" if start is None else "changed"
            return Outcome(
                change,
                "failed",
                f"not updated: '{change.name}' {moved} since the plan was made (someone else "
                "wrote to it meanwhile); run plan again",
                spec_id,
            )
        after = await self._patch(spec_id, change.body)
        expected = {**normalise.live_body(start), **change.body}
        verb = {"rename": f"renamed from '{change.previous_name}'", "adopt": "adopted"}
        owned = {*change.owned, *change.body}
        return await self._ensure(
            change, spec_id, expected, after, verb.get(change.kind, "updated"), owned
        )

    async def _ensure(
        self,
        change: Change,
        spec_id: str,
        expected: Mapping[str, Any],
        after: Mapping[str, Any],
        done: str,
        fields: Iterable[str] | None = None,
    ) -> Outcome:
        """Make the record ``expected`` with one more PATCH if the write left it otherwise.

        Only ``fields`` are compared: for an update, every field its manifest owns (so a
        concurrent apply's write to one of them is set back); for a create, the fields it sent.
        Fields the manifest does not declare belong to someone else and are never restored.
        """
        fields = set(expected if fields is None else fields)
        seen = compare.fingerprint(normalise.live_body(after))
        # The server echoing exactly what we asked for is the common case; compare it cheaply.
        repair = (
            {} if seen == compare.fingerprint(expected) else repair_body(expected, after, fields)
        )
        if not repair:
            self._converged[spec_id] = seen
            return Outcome(change, "applied", done, spec_id)
        after = await self._patch(spec_id, repair)
        left = repair_body(expected, after, fields)
        if left:
            return Outcome(
                change,
                "failed",
                f"'{change.name}' is being changed by someone else at the same time "
                f"({', '.join(left)} still differ after our update); run plan again",
                spec_id,
            )
        self._converged[spec_id] = compare.fingerprint(normalise.live_body(after))
        restored = tuple(sorted(set(repair) - set(change.body)))
        if restored:
            done += f"; restored {', '.join(restored)}, changed by someone else meanwhile"
        return Outcome(change, "applied", done, spec_id, restored)

    async def _patch(self, spec_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """PATCH, and the record after it; a lost answer is looked up before resending."""
        last: ApiError | None = None
        for attempt in range(MAX_ATTEMPTS):
            try:
                return await self.client.update_spec(spec_id, body)
            except RECOVERABLE as exc:
                last = exc
                live = await self.client.get_spec(spec_id)
                if not patch_for(body, live):
                    return live
                await self._pause(attempt, exc)
        assert last is not None
        raise last

    async def _delete(self, change: Change) -> Outcome:
        """Re-check the spec just before every DELETE attempt; refuse if anything moved.

        Between the plan (or the freshness check) and this moment, minutes of other writes may
        have passed: cells and measurements may have been added under the spec, its marker
        removed or its name changed. Only a spec exactly as planned, with no more data under
        it than the plan showed, is deleted. What remains is the round trip between this last
        read and the DELETE itself: the API offers no conditional delete to close it.
        """
        spec_id = change.spec_id or ""
        last: ApiError | None = None
        for attempt in range(MAX_ATTEMPTS):
            try:
                refusal = await self._delete_refusal(change)
            except NotFoundError:
                return Outcome(change, "already", "already deleted", spec_id)
            if refusal:
                return Outcome(
                    change,
                    "blocked",
                    f"{refusal}; the spec and its data are kept (run plan again to review)",
                    spec_id,
                )
            try:
                deleted = await self.client.delete_spec(spec_id)
                return Outcome(change, "applied" if deleted else "already", "deleted", spec_id)
            except RECOVERABLE as exc:
                last = exc
                await self._pause(attempt, exc)
        assert last is not None
        raise last

    async def _delete_refusal(self, change: Change) -> str:
        """Why ``change``'s spec may no longer be deleted ("" if it may), from a fresh read."""
        record = await self.client.get_spec(change.spec_id or "")
        moved: list[str] = []
        marker = marker_of(record)
        if marker != self.plan.marker:
            now = f"is now {marker!r}" if marker else "was removed"
            moved.append(f"its ownership marker {now}")
        if record.get("name") != change.name:
            moved.append(f"it was renamed to {record.get('name')!r}")
        elif not moved and compare.live_digest(record) != change.live_digest:
            moved.append("it changed since the plan was made")
        planned = change.cascade or Cascade()
        now_cascade = await self.client.cascade(change.spec_id or "")
        if now_cascade.grew_from(planned):
            moved.append(
                f"it would now also delete {now_cascade.describe()} "
                f"(the plan showed {planned.describe()})"
            )
        return "; ".join(moved)

    async def _verify(self, outcomes: Sequence[Outcome]) -> list[str]:
        """Re-fetch every touched spec and report what does not hold; never writes again.

        A spec whose record is exactly the one our write left (found converged then) is not
        compared field by field again: same JSON, same comparison. A re-read that fails leaves
        the result unverified, not lost: the outcomes (and the report) still say what was
        written, and the apply exits non-zero.
        """
        try:
            live = await self.client.list_specs(
                self.plan.project_id, full=True, view=normalise.live_view, expected=self._after()
            )
        except ApiError as exc:
            return [f"the result could not be verified (writes above were made): {exc}"]
        by_id = {str(r["id"]): r for r in live}
        problems: list[str] = []
        for outcome in outcomes:
            if outcome.status in ("failed", "blocked"):
                continue
            name = outcome.change.name
            record = by_id.get(outcome.spec_id or "")
            if outcome.change.kind == "delete":
                if record is not None:
                    problems.append(f"'{name}' still exists after its delete")
                continue
            if record is None:
                problems.append(f"'{name}' is missing after apply")
                continue
            if self._converged.get(outcome.spec_id or "") == compare.fingerprint(
                normalise.live_body(record)
            ):
                continue
            moved = patch_for(outcome.change.body, record)
            if moved:
                problems.append(
                    f"'{name}' was changed by someone else after this apply wrote it "
                    f"({', '.join(sorted(moved))} differ); run plan again"
                )
        return problems
