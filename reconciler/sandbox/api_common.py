"""Small helpers every router uses."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from reconciler.sandbox.query import Page

Order = Literal["asc", "desc"]
EntityOrderBy = Literal["name", "created_at", "updated_at"]
MeasurementOrderBy = Literal["name", "created_at", "updated_at", "start_time"]


def query_lists(request: Request) -> dict[str, list[str]]:
    """Every query parameter with all of its values, in the order sent."""
    found: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        found.setdefault(key, []).append(value)
    return found


def page(limit: int, offset: int, order_by: str, order: str, *, cap: int) -> Page:
    """Limits above the cap are clamped, not refused (the official client relies on it)."""
    return Page(limit=min(limit, cap), offset=offset, order_by=order_by, descending=order == "desc")


def ok(content: Any, status: int = 200) -> JSONResponse:
    """Return the body as is: no jsonable_encoder pass, the storage layer already made JSON."""
    return JSONResponse(content, status_code=status)


def deleted() -> Response:
    return Response(status_code=204)
