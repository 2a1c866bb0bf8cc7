"""Account routes (projects, users/me, healthz) and the sandbox's own admin routes.

Admin routes live under ``/_sandbox/`` only, take the same credential as the API, and are never
journaled or faulted, so a test can seed data first and then turn faults on.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from reconciler.sandbox.api_common import Limit, Offset, ok
from reconciler.sandbox.db import new_id
from reconciler.sandbox.errors import ApiProblem, not_found
from reconciler.sandbox.models import FaultConfig, ProjectCreate, SeedRequest
from reconciler.sandbox.query import paginated
from reconciler.sandbox.seeding import find_specs, seed_spec
from reconciler.sandbox.specs import load_spec
from reconciler.sandbox.state import SandboxState

PROJECT_PAGE_CAP = 100


def project_json(row: sqlite3.Row) -> dict[str, Any]:
    return {key: row[key] for key in row.keys()}  # noqa: SIM118


def meta_routes(state: SandboxState) -> APIRouter:
    router = APIRouter(tags=["account"])
    db = state.db
    tenant = db.tenant

    @router.get("/healthz")
    def healthz() -> Response:
        return ok({"status": "ok"})

    @router.get("/users/me")
    def users_me() -> Response:
        organization = {"id": tenant.organization_id, "name": tenant.organization_name}
        return ok(
            {
                "id": tenant.user_id,
                "email": tenant.user_email,
                "authorized_organization": organization,
                "organizations": [organization],
            }
        )

    @router.get("/projects")
    def list_projects(limit: Limit = PROJECT_PAGE_CAP, offset: Offset = 0) -> Response:
        with db.snapshot() as tx:
            rows = tx.all(
                "SELECT * FROM projects WHERE organization_id = ? ORDER BY created_at, id "
                "LIMIT ? OFFSET ?",
                (tenant.organization_id, min(limit, PROJECT_PAGE_CAP), offset),
            )
            total = tx.one(
                "SELECT count(*) FROM projects WHERE organization_id = ?",
                (tenant.organization_id,),
            )
        return ok(paginated([project_json(row) for row in rows], int(total[0]) if total else 0))

    @router.get("/projects/{project_id}")
    def get_project(project_id: str) -> Response:
        with db.snapshot() as tx:
            row = tx.one(
                "SELECT * FROM projects WHERE id = ? AND organization_id = ?",
                (project_id, tenant.organization_id),
            )
        if row is None:
            raise not_found("Project", project_id)
        return ok(project_json(row))

    return router


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
