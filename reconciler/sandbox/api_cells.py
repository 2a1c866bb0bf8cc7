"""Routes I1-I5 (instances), B1-B5 (batches) and M1-M5 (properties measurements)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from reconciler.sandbox import cells
from reconciler.sandbox.api_common import (
    EntityOrderBy,
    Limit,
    MeasurementOrderBy,
    Offset,
    Order,
    deleted,
    ok,
    page,
    query_lists,
)
from reconciler.sandbox.models import (
    BatchCreate,
    BatchPatch,
    InstanceCreate,
    InstancePatch,
    MeasurementCreate,
    MeasurementPatch,
)
from reconciler.sandbox.query import paginated
from reconciler.sandbox.state import SandboxState
from reconciler.sandbox.writes import Write

PAGE_CAP = 100
MEASUREMENT_PAGE_CAP = 1000


def cell_routes(state: SandboxState) -> APIRouter:
    router = APIRouter()
    _instance_routes(router, state)
    _batch_routes(router, state)
    _measurement_routes(router, state)
    return router


def _instance_routes(router: APIRouter, state: SandboxState) -> None:
    db = state.db

    @router.get("/cell_specifications/{spec_id}/cell_instances", tags=["cell instances"])
    def list_cell_instances(
        spec_id: str,
        request: Request,
        limit: Limit = PAGE_CAP,
        offset: Offset = 0,
        order_by: EntityOrderBy | None = None,
        order: Order = "desc",
    ) -> Response:
        window = page(state, limit, offset, order_by, order, cap=PAGE_CAP)
        with db.snapshot() as tx:
            items, total = cells.list_instances(tx, spec_id, query_lists(request), window)
        return ok(paginated(items, total))

    @router.post(
        "/cell_specifications/{spec_id}/cell_instances", status_code=201, tags=["cell instances"]
    )
    def create_cell_instance(spec_id: str, body: InstanceCreate) -> Response:
        with db.transaction() as tx:
            fields = body.model_dump(mode="json", exclude_unset=True)
            instance_id = cells.create_instance(tx, spec_id, fields, Write.create(state.behaviour))
            return ok(cells.get_instance(tx, instance_id), 201)

    @router.get("/cell_instances/{instance_id}", tags=["cell instances"])
    def get_cell_instance(instance_id: str) -> Response:
        with db.snapshot() as tx:
            return ok(cells.get_instance(tx, instance_id))

    @router.patch("/cell_instances/{instance_id}", tags=["cell instances"])
    def update_cell_instance(instance_id: str, body: InstancePatch) -> Response:
        with db.transaction() as tx:
            fields = body.model_dump(mode="json", exclude_unset=True)
            cells.patch_instance(tx, instance_id, fields, Write.patch(state.behaviour))
            return ok(cells.get_instance(tx, instance_id))

    @router.delete("/cell_instances/{instance_id}", status_code=204, tags=["cell instances"])
    def delete_cell_instance(instance_id: str) -> Response:
        with db.transaction() as tx:
            cells.delete_instance(tx, instance_id)
        return deleted()


def _batch_routes(router: APIRouter, state: SandboxState) -> None:
    db = state.db

    @router.get("/cell_specifications/{spec_id}/cell_batches", tags=["cell batches"])
    def list_cell_batches(
        spec_id: str,
        request: Request,
        limit: Limit = PAGE_CAP,
        offset: Offset = 0,
        order_by: EntityOrderBy | None = None,
        order: Order = "desc",
    ) -> Response:
        window = page(state, limit, offset, order_by, order, cap=PAGE_CAP)
        with db.snapshot() as tx:
            items, total = cells.list_batches(tx, spec_id, query_lists(request), window)
        return ok(paginated(items, total))

    @router.post(
        "/cell_specifications/{spec_id}/cell_batches", status_code=201, tags=["cell batches"]
    )
    def create_cell_batch(spec_id: str, body: BatchCreate) -> Response:
        with db.transaction() as tx:
            fields = body.model_dump(mode="json", exclude_unset=True)
            batch_id = cells.create_batch(tx, spec_id, fields, Write.create(state.behaviour))
            return ok(cells.get_batch(tx, batch_id), 201)

    @router.get("/cell_batches/{batch_id}", tags=["cell batches"])
    def get_cell_batch(batch_id: str) -> Response:
        with db.snapshot() as tx:
            return ok(cells.get_batch(tx, batch_id))

    @router.patch("/cell_batches/{batch_id}", tags=["cell batches"])
    def update_cell_batch(batch_id: str, body: BatchPatch) -> Response:
        with db.transaction() as tx:
            fields = body.model_dump(mode="json", exclude_unset=True)
            cells.patch_batch(tx, batch_id, fields, Write.patch(state.behaviour))
            return ok(cells.get_batch(tx, batch_id))

    @router.delete("/cell_batches/{batch_id}", status_code=204, tags=["cell batches"])
    def delete_cell_batch(batch_id: str) -> Response:
        with db.transaction() as tx:
            cells.delete_batch(tx, batch_id)
        return deleted()


def _measurement_routes(router: APIRouter, state: SandboxState) -> None:
    db = state.db

    @router.get("/cell_instances/{instance_id}/cell_measurements", tags=["cell measurements"])
    def list_cell_measurements(
        instance_id: str,
        request: Request,
        limit: Limit = MEASUREMENT_PAGE_CAP,
        offset: Offset = 0,
        order_by: MeasurementOrderBy | None = None,
        order: Order = "desc",
    ) -> Response:
        window = page(state, limit, offset, order_by, order, cap=MEASUREMENT_PAGE_CAP)
        with db.snapshot() as tx:
            items, total = cells.list_measurements(tx, instance_id, query_lists(request), window)
        return ok(paginated(items, total))

    @router.post(
        "/cell_instances/{instance_id}/cell_measurements/create",
        status_code=201,
        tags=["cell measurements"],
    )
    def create_properties_measurement(instance_id: str, body: MeasurementCreate) -> Response:
        with db.transaction() as tx:
            fields = body.model_dump(mode="json", exclude_unset=True)
            write = Write.create(state.behaviour)
            measurement_id = cells.create_measurement(tx, instance_id, fields, write)
            return ok(cells.get_measurement(tx, measurement_id), 201)

    @router.get("/cell_measurements/{measurement_id}", tags=["cell measurements"])
    def get_cell_measurement(measurement_id: str) -> Response:
        with db.snapshot() as tx:
            return ok(cells.get_measurement(tx, measurement_id))

    @router.patch("/cell_measurements/{measurement_id}", tags=["cell measurements"])
    def update_cell_measurement(measurement_id: str, body: MeasurementPatch) -> Response:
        with db.transaction() as tx:
            fields = body.model_dump(mode="json", exclude_unset=True)
            cells.patch_measurement(tx, measurement_id, fields, Write.patch(state.behaviour))
            return ok(cells.get_measurement(tx, measurement_id))

    @router.delete(
        "/cell_measurements/{measurement_id}", status_code=204, tags=["cell measurements"]
    )
    def delete_cell_measurement(measurement_id: str) -> Response:
        with db.transaction() as tx:
            cells.delete_measurement(tx, measurement_id)
        return deleted()
