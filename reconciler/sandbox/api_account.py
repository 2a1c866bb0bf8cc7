"""Account routes: health, the current user, projects (contract sections 8.3 and 9)."""

from __future__ import annotations

import sqlite3
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from reconciler.sandbox.api_common import Limit, Offset, ok
from reconciler.sandbox.errors import not_found
from reconciler.sandbox.query import paginated
from reconciler.sandbox.state import SandboxState

PROJECT_PAGE_CAP = 100


def project_json(row: sqlite3.Row) -> dict[str, Any]:
    return {key: row[key] for key in row.keys()}  # noqa: SIM118


def account_routes(state: SandboxState) -> APIRouter:
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
