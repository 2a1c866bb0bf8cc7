"""Execute a Plan: writes, then verification.

Guards are enforced before (``guards.enforce``), and nothing is written until every target was
re-read and found as the plan saw it (``reconciler.freshness``). Writes go creates, renames,
adopts and updates first, then shared materials (``reconciler.material_writes``), deletes last,
concurrently within the client's bound. A write whose answer was lost is never blindly resent:
the live state is read first (a POST that landed is found by name, a PATCH that landed shows
its values). Every write has the one retry shape of
``Applier._retrying``. One failed change does not stop the others; a re-run converges.

An update re-reads its spec just before the PATCH and writes nothing if it moved since the plan.
After each write the fields the manifest owns must be exactly that state plus our changes.
Anything else is set right at once with one more PATCH (explicit nulls remove nested keys a
deep-merging server kept; an owned field another writer changed in between is restored and the
outcome says so), so two applies racing on one spec leave it as one of them wanted, never a mix.
Fields the manifest does not declare are never written, whoever changed them. A delete re-reads
its spec and recounts its cascade just before the DELETE. The final re-read does not write
again: a spec changed by someone else after our write is reported, not fought over.

A write's answer is compared only when it carries what is compared; an answer without the
nested components (metadata only) costs one GET of the spec instead. Refusals that would repeat
are not repeated (``reconciler.refusals``): after a 403 no further write is sent, and after a
refused null no further null (``reconciler.removals`` names the keys that stay).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from reconciler import compare, normalise
from reconciler.api import IonworksClient
from reconciler.errors import (
    ApiError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RequestRejectedError,
    ServerError,
    TransportError,
)
from reconciler.material_writes import MaterialWriter
from reconciler.ownership import foreign_owner, marker_of
from reconciler.plan import Cascade, Change, MaterialChange, Plan
from reconciler.refusals import Refused, Trial
from reconciler.removals import nested_nulls, repair_body, unremovable
from reconciler.results import ApplyResult, DeletedSpec, Outcome

#: Attempts per change at the applier level, each after re-reading the live state.
MAX_ATTEMPTS = 4
#: Errors after which the live state is uncertain or the server may recover: look, then retry.
RECOVERABLE = (TransportError, ServerError, RateLimitedError)
T = TypeVar("T")


class Reporter(Protocol):
    """Progress events; the CLI turns them into a progress bar or one line per change."""

    def cascade_warning(self, change: Change) -> None: ...

    def begin(self, total: int) -> None: ...

    def done(self, outcome: Outcome) -> None: ...


async def count_cascade(client: IonworksClient, spec_id: str) -> Cascade:
    """What deleting the spec would take with it: the one place cascades are counted."""
    counts = await client.cascade(spec_id)
    return Cascade(counts.instances, counts.batches, counts.measurements)


def patch_for(body: Mapping[str, Any], record: Mapping[str, Any]) -> dict[str, Any]:
    """The part of ``body`` the live record does not yet hold (empty: converged)."""
    missing = compare.differing_fields(body, normalise.live_body(record))
    return {key: body[key] for key in missing}


class Applier:
    """Applies one plan with one client; see the module docstring for the order of things."""

    def __init__(self, client: IonworksClient, plan: Plan, reporter: Reporter) -> None:
        self.client = client
        self.plan = plan
        self.reporter = reporter
        #: spec id -> fingerprint of the record our last write left, found converged then.
        self._converged: dict[str, str] = {}
        #: Every write: a read-only credential is refused once, then nothing more is sent.
        self._writes = Trial(PermissionDeniedError)
        #: Repairs that remove nested keys with explicit nulls, which an API may refuse.
        self._nulls = Trial(RequestRejectedError)

    async def run(self, already: Sequence[Outcome] = ()) -> ApplyResult:
        """Write every change of the plan not among ``already`` (found done beforehand)."""
        result = ApplyResult(self.plan, outcomes=list(already))
        result.outcomes.extend(
            Outcome(c, "skipped", "orphaned, not deleted: prune is off", c.spec_id)
            for c in self.plan.of_kind("orphan")
        )
        done = {o.change.key for o in already}
        todo = [c for c in self.plan.writing_changes if c.key not in done]
        for change in todo:
            if change.kind == "delete":
                self.reporter.cascade_warning(change)
        self.reporter.begin(len(todo) + len(self.plan.materials))
        first = [c for c in todo if c.kind != "delete"]
        deletes = [c for c in todo if c.kind == "delete"]
        result.outcomes.extend(await asyncio.gather(*(self._one(c) for c in first)))
        for outcome in await self._materials(result.outcomes):
            self.reporter.done(outcome)
            result.outcomes.append(outcome)
        result.outcomes.extend(await asyncio.gather(*(self._one(c) for c in deletes)))
        result.not_converged = await self._verify(result.outcomes)
        return result

    async def _materials(self, spec_outcomes: Sequence[Outcome]) -> list[Outcome]:
        """The material changes' outcomes; none is attempted once a write was refused (403)."""
        try:
            if self._writes.refusal is not None:
                raise Refused(self._writes, self._writes.refusal, sent=False)
            return await MaterialWriter(self.client, self.plan, self._patch).run(spec_outcomes)
        except Refused as exc:  # before, or within the material writes themselves
            return [self._read_only(m, exc) for m in self.plan.materials]

    def _read_only(self, change: Change | MaterialChange, refused: Refused) -> Outcome:
        """The change whose write the API refused with 403 (``sent``), or one not attempted
        after it: the credential may read the project, not write it."""
        plan = self.plan
        project = f'"{plan.project_name}" ({plan.project_id})' if plan.project_name else ""
        why = (
            f"this credential can read project {project or plan.project_id} but not write it: "
            "Ionworks refused a write with 403 FORBIDDEN, so apply stopped writing. Use a "
            "credential whose role in the project may write (Project Contributor or Admin). "
            f"({refused.refusal})"
        )
        if refused.sent:
            return Outcome(change, "failed", why, change.spec_id, converges_on_rerun=False)
        return Outcome(change, "skipped", f"not attempted: {why}", change.spec_id)

    def _expected_count(self) -> int:
        """How many specs the project should hold now (a paging hint for the re-read)."""
        plan = self.plan
        return plan.live_count + len(plan.of_kind("create")) - len(plan.of_kind("delete"))

    async def _one(self, change: Change) -> Outcome:
        action: Callable[[Change], Awaitable[Outcome]] = {
            "create": self._create,
            "delete": self._delete,
        }.get(change.kind, self._update)
        try:
            if self._writes.refusal is not None:
                raise Refused(self._writes, self._writes.refusal, sent=False)
            outcome = await action(change)
        except Refused as exc:  # a write refused with 403 (nulls' refusals stop in _ensure)
            outcome = self._read_only(change, exc)
        except RequestRejectedError as exc:  # the same body again would be refused again
            outcome = Outcome(change, "failed", str(exc), change.spec_id, converges_on_rerun=False)
        except ApiError as exc:
            outcome = Outcome(change, "failed", str(exc), change.spec_id)
        self.reporter.done(outcome)
        return outcome

    async def _retrying(
        self, attempt: Callable[[], Awaitable[T]], landed: Callable[[], Awaitable[T | None]]
    ) -> T:
        """The one shape of every write: try it; after a failure that leaves the live state
        uncertain (or that the server may recover from), look whether it landed, and only if
        not, wait (the client's retry policy) and try again, ``MAX_ATTEMPTS`` times in all."""
        for number in range(1, MAX_ATTEMPTS + 1):
            try:
                return await attempt()
            except RECOVERABLE as exc:
                found = await landed()
                if found is not None:
                    return found
                if number == MAX_ATTEMPTS:
                    raise
                await self.client.pause(number, exc)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _create(self, change: Change) -> Outcome:
        """POST; a spec found under the name afterwards (409, or a lost answer) is settled."""

        async def post() -> tuple[Mapping[str, Any], bool]:
            try:
                return await self._writes.send(lambda: self.client.create_spec(change.body)), True
            except ConflictError as exc:
                existing = await self._lookup_created(change, exc.existing_id)
                if existing is None:
                    raise
                return existing, False

        async def landed() -> tuple[Mapping[str, Any], bool] | None:
            existing = await self._lookup_created(change, None)
            return None if existing is None else (existing, False)

        record, created_now = await self._retrying(post, landed)
        if not created_now:
            return await self._settle_existing(change, record)
        return await self._ensure(change, str(record["id"]), change.body, record, "created")

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
        other = foreign_owner(existing, self.plan.marker)
        if other:
            return Outcome(
                change,
                "failed",
                f"'{change.name}' was just created by {other} (another manifests directory) "
                "and is theirs: it was left alone. Rename this spec, or agree on one owner; "
                "running apply again will not change that",
                spec_id,
                converges_on_rerun=False,
            )
        if marker_of(existing) != self.plan.marker:
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
        verb["release"] = "released: no longer managed; the spec and its data are kept"
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
        after = await self._complete(spec_id, after, fields)
        seen = compare.fingerprint(normalise.live_body(after))
        # The server echoing exactly what we asked for is the common case; compare it cheaply.
        echoed = seen == compare.fingerprint(expected)
        repair = {} if echoed else repair_body(expected, after, fields)
        if not repair:
            self._converged[spec_id] = seen
            return Outcome(change, "applied", done, spec_id)
        removals = nested_nulls(repair)
        try:
            if removals:
                patched = await self._nulls.send(lambda: self._patch(spec_id, repair))
            else:
                patched = await self._patch(spec_id, repair)
        except Refused as exc:
            if exc.trial is not self._nulls:
                raise
            return unremovable(change, spec_id, removals, str(exc.refusal))
        after = await self._complete(spec_id, patched, fields)
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

    async def _complete(
        self, spec_id: str, answer: Mapping[str, Any], fields: Iterable[str]
    ) -> Mapping[str, Any]:
        """A write's answer, or the spec read again when the answer does not carry the fields
        compared (a metadata-only answer: one GET per such write, see ``normalise.carries``)."""
        if normalise.carries(answer, fields):
            return answer
        return await self.client.get_spec(spec_id)

    async def _patch(self, spec_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """PATCH, and the record after it; a lost answer is looked up before resending."""

        async def patch() -> dict[str, Any]:
            return await self._writes.send(lambda: self.client.update_spec(spec_id, body))

        async def landed() -> dict[str, Any] | None:
            live = await self.client.get_spec(spec_id)
            return None if patch_for(body, live) else live

        return await self._retrying(patch, landed)

    async def _delete(self, change: Change) -> Outcome:
        """Re-check the spec just before every DELETE attempt; refuse if anything moved.

        Between the plan (or the freshness check) and this moment, minutes of other writes may
        have passed: cells and measurements may have been added under the spec, its marker
        removed or its name changed. Only a spec exactly as planned, with no more data under
        it than the plan showed, is deleted. What remains is the round trip between this last
        read and the DELETE itself: the API offers no conditional delete to close it.
        """
        spec_id = change.spec_id or ""
        last: DeletedSpec | None = None  # the record read just before the DELETE: the report's

        async def delete() -> Outcome:
            nonlocal last
            try:
                refusal, last = await self._delete_refusal(change)
            except NotFoundError:
                return Outcome(change, "already", "already deleted", spec_id)
            if refusal:
                return Outcome(
                    change,
                    "blocked",
                    f"{refusal}; the spec and its data are kept (run plan again to review)",
                    spec_id,
                )
            if await self._writes.send(lambda: self.client.delete_spec(spec_id)):
                return Outcome(change, "applied", "deleted", spec_id, deleted=last)
            return Outcome(change, "already", "deleted", spec_id)

        async def landed() -> Outcome | None:
            try:
                await self.client.get_spec(spec_id)
            except NotFoundError:
                return Outcome(change, "applied", "deleted", spec_id, deleted=last)
            return None

        return await self._retrying(delete, landed)

    async def _delete_refusal(self, change: Change) -> tuple[str, DeletedSpec]:
        """Why ``change``'s spec may no longer be deleted ("" if it may), from a fresh read,
        and what that read found: the record and cascade a DELETE now would destroy."""
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
        counted = await count_cascade(self.client, change.spec_id or "")
        if counted.grew_from(planned):
            moved.append(
                f"it would now also delete {counted.describe()} "
                f"(the plan showed {planned.describe()})"
            )
        return "; ".join(moved), DeletedSpec(record, counted)

    async def _verify(self, outcomes: Sequence[Outcome]) -> list[str]:
        """Re-fetch every touched spec and report what does not hold; never writes again.

        A spec whose record is exactly the one our write left (found converged then) is not
        compared field by field again: same JSON, same comparison. A re-read that fails leaves
        the result unverified, not lost: the outcomes (and the report) still say what was
        written, and the apply exits non-zero.
        """
        try:
            live = await self.client.list_specs(
                self.plan.project_id,
                full=True,
                view=normalise.live_view,
                expected=self._expected_count(),
            )
        except ApiError as exc:
            return [f"the result could not be verified (writes above were made): {exc}"]
        by_id = {str(r["id"]): r for r in live}
        problems: list[str] = []
        for outcome in outcomes:
            if outcome.status not in ("applied", "already") or outcome.change.kind == "material":
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
