"""Routes S1-S5 (cell specifications) and the read-only materials routes (contract 4.3)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from reconciler.sandbox.api_common import (
    EntityOrderBy,
    Limit,
    Offset,
    Order,
    deleted,
    ok,
    page,
    query_lists,
)
from reconciler.sandbox.materials import get_material, list_materials
from reconciler.sandbox.models import SpecCreate, SpecPatch
from reconciler.sandbox.query import paginated
from reconciler.sandbox.specs import create_spec, delete_spec, get_spec, list_specs, patch_spec
from reconciler.sandbox.state import SandboxState
from reconciler.sandbox.writes import Write

SPEC_PAGE_CAP = 100
MATERIAL_PAGE_CAP = 100


def spec_routes(state: SandboxState) -> APIRouter:
    router = APIRouter(tags=["cell specifications"])
    db = state.db

    @router.get("/cell_specifications")
    def list_cell_specifications(
        request: Request,
        limit: Limit = SPEC_PAGE_CAP,
        offset: Offset = 0,
        full: bool = False,
        order_by: EntityOrderBy | None = None,
        order: Order = "desc",
    ) -> Response:
        window = page(state, limit, offset, order_by, order, cap=SPEC_PAGE_CAP)
        with db.snapshot() as tx:
            items, total = list_specs(tx, query_lists(request), window, full=full)
        return ok(paginated(items, total))

    @router.get("/cell_specifications/{spec_id}")
    def get_cell_specification(spec_id: str) -> Response:
        with db.snapshot() as tx:
            return ok(get_spec(tx, spec_id))

    @router.post("/cell_specifications", status_code=201)
    def create_cell_specification(body: SpecCreate) -> Response:
        fields = body.model_dump(mode="json", exclude_unset=True)
        behaviour = state.behaviour
        with db.transaction() as tx:
            spec_id = create_spec(tx, fields, Write.create(behaviour))
            return ok(get_spec(tx, spec_id, full=behaviour.write_response == "full"), 201)

    @router.patch("/cell_specifications/{spec_id}")
    def update_cell_specification(spec_id: str, body: SpecPatch) -> Response:
        fields = body.model_dump(mode="json", exclude_unset=True)
        behaviour = state.behaviour
        with db.transaction() as tx:
            patch_spec(tx, spec_id, fields, Write.patch(behaviour))
            return ok(get_spec(tx, spec_id, full=behaviour.write_response == "full"))

    @router.delete("/cell_specifications/{spec_id}", status_code=204)
    def delete_cell_specification(spec_id: str) -> Response:
        with db.transaction() as tx:
            delete_spec(tx, spec_id)
        return deleted()

    @router.get("/materials", tags=["materials"])
    def list_all_materials(
        limit: Limit = MATERIAL_PAGE_CAP,
        offset: Offset = 0,
        project_id: str | None = None,
        order_by: EntityOrderBy | None = None,
        order: Order = "desc",
    ) -> Response:
        """``project_id`` is accepted and does not filter, as in the real API."""
        window = page(state, limit, offset, order_by, order, cap=MATERIAL_PAGE_CAP)
        with db.snapshot() as tx:
            items, total = list_materials(tx, window)
        return ok(paginated(items, total))

    @router.get("/materials/{material_id}", tags=["materials"])
    def get_one_material(material_id: str) -> Response:
        with db.snapshot() as tx:
            return ok(get_material(tx, material_id))

    return router
