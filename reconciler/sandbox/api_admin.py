"""The sandbox's own admin routes, for tests and demos.

Admin routes live under ``/_sandbox/`` only, take the API key (never the viewer key), and are
never journaled or faulted, so a test can seed data first and then turn faults on.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from reconciler.sandbox.api_account import project_json
from reconciler.sandbox.api_common import ok
from reconciler.sandbox.db import new_id
from reconciler.sandbox.errors import ApiProblem, not_found
from reconciler.sandbox.models import (
    BehaviourChange,
    FaultConfig,
    ProjectCreate,
    RawSpec,
    SeedRequest,
)
from reconciler.sandbox.seeding import find_specs, seed_spec
from reconciler.sandbox.specs import create_spec, get_spec, load_spec
from reconciler.sandbox.state import SandboxState
from reconciler.sandbox.writes import Write


def admin_routes(state: SandboxState) -> APIRouter:
    router = APIRouter(prefix="/_sandbox", tags=["sandbox admin"])
    db = state.db

    @router.get("/requests")
    def list_requests() -> Response:
        return ok({"items": state.journal.items()})

    @router.delete("/requests", status_code=204)
    def clear_requests() -> Response:
        state.journal.clear()
        return Response(status_code=204)

    @router.post("/reset")
    def reset() -> Response:
        db.reset()
        return ok({"reset": True, "project_id": db.tenant.default_project_id})

    @router.get("/faults")
    def get_faults() -> Response:
        return ok(state.faults.describe())

    @router.put("/faults")
    def put_faults(body: FaultConfig) -> Response:
        try:
            state.faults.configure(
                fault_rate=body.fault_rate,
                faults=None if body.faults is None else tuple(body.faults),
                seed=body.seed,
                latency_ms=body.latency_ms,
                stall_seconds=body.stall_seconds,
            )
        except ValueError as exc:
            raise ApiProblem(400, "BAD_REQUEST", str(exc)) from None
        return ok(state.faults.describe())

    @router.get("/behaviour")
    def get_behaviour() -> Response:
        return ok(state.behaviour.as_dict())

    @router.put("/behaviour")
    def put_behaviour(body: BehaviourChange) -> Response:
        changes = body.model_dump(exclude_none=True)
        seed = changes.pop("seed", None)
        state.behaviour = state.behaviour.changed(**changes)
        if seed is not None:
            state.shuffler.reseed(seed)
        return ok(state.behaviour.as_dict())

    @router.post("/seed")
    def seed(body: SeedRequest) -> Response:
        with db.transaction() as tx:
            if body.spec_id is not None:
                spec_id = load_spec(tx, body.spec_id)["id"]
            elif body.spec_name is not None:
                project_id = body.project_id or db.tenant.default_project_id
                found = find_specs(tx, body.spec_name, project_id)
                if not found:
                    raise not_found("Cell specification", body.spec_name)
                spec_id = found[0]
            else:
                raise ApiProblem(400, "BAD_REQUEST", "Give spec_id or spec_name")
            counts = seed_spec(
                tx,
                spec_id,
                instances=body.instances,
                measurements=body.measurements,
                batches=body.batches,
            )
        return ok({"spec_id": spec_id, **counts.as_dict()}, 201)

    @router.post("/raw_specs", status_code=201)
    def store_raw_spec(body: RawSpec) -> Response:
        fields = body.model_dump(mode="json", exclude_unset=True)
        fields["project_id"] = fields.get("project_id") or db.tenant.default_project_id
        with db.transaction() as tx:
            spec_id = create_spec(tx, fields, Write.raw(state.behaviour))
            return ok(get_spec(tx, spec_id), 201)

    @router.post("/projects", status_code=201)
    def create_project(body: ProjectCreate) -> Response:
        with db.transaction() as tx:
            project_id, now = new_id(), tx.now()
            tx.execute(
                "INSERT INTO projects VALUES (?, ?, ?, ?, ?)",
                (project_id, db.tenant.organization_id, body.name, now, now),
            )
            row = tx.one("SELECT * FROM projects WHERE id = ?", (project_id,))
        assert row is not None
        return ok(project_json(row), 201)

    return router
