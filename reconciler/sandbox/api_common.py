"""Small helpers every router uses."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Query, Request
from fastapi.responses import JSONResponse, Response

from reconciler.sandbox.query import Page
from reconciler.sandbox.state import SandboxState

Order = Literal["asc", "desc"]
EntityOrderBy = Literal["name", "created_at", "updated_at"]
MeasurementOrderBy = Literal["name", "created_at", "updated_at", "start_time"]

MAX_OFFSET = 2**63 - 1
"""Postgres bigint, and the largest integer SQLite binds."""
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
Limit = Annotated[int, Query(ge=1)]
"""Any positive limit; routes clamp it to their cap (the official client relies on that)."""


def query_lists(request: Request) -> dict[str, list[str]]:
    """Every query parameter with all of its values, in the order sent."""
    found: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        found.setdefault(key, []).append(value)
    return found


def page(
    state: SandboxState, limit: int, offset: int, order_by: str | None, order: str, *, cap: int
) -> Page:
    """The slice to serve. Without ``order_by``: ``created_at`` (stable) or shuffled (unstable)."""
    unordered = order_by is None and state.behaviour.list_order == "unstable"
    return Page(
        limit=min(limit, cap),
        offset=offset,
        order_by=order_by or "created_at",
        descending=order == "desc",
        shuffle=state.shuffler.shuffle if unordered else None,
    )


def ok(content: Any, status: int = 200) -> JSONResponse:
    """Return the body as is: no jsonable_encoder pass, the storage layer already made JSON."""
    return JSONResponse(content, status_code=status)


def deleted() -> Response:
    return Response(status_code=204)
