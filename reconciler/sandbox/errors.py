"""HTTP error values raised by the sandbox's storage and routes.

These are wire responses, not reconciler errors: the sandbox stands in for a remote server and
shares no code with the core (reconciler/errors.py is the core's tree). Two shapes exist, as in
the real API: the standardized ``{"error_code", "message", "detail"}`` body (ApiProblem) and
FastAPI's validation list ``{"detail": [{"loc", "msg", "type"}]}`` (InvalidBody, status 422).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Loc = tuple[str | int, ...]


class ApiProblem(Exception):
    """A standardized error response."""

    def __init__(
        self, status: int, error_code: str, message: str, detail: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.detail = detail

    def body(self) -> dict[str, Any]:
        return {"error_code": self.error_code, "message": self.message, "detail": self.detail}


def not_found(kind: str, ident: str) -> ApiProblem:
    return ApiProblem(404, "NOT_FOUND", f"{kind} '{ident}' does not exist or is not visible to you")


def conflict(message: str, existing_id: str) -> ApiProblem:
    return ApiProblem(409, "CONFLICT", message, {"existing_id": existing_id})


def bad_request(message: str) -> ApiProblem:
    return ApiProblem(400, "BAD_REQUEST", message)


def field_error(loc: Loc, msg: str, kind: str, value: Any = None) -> dict[str, Any]:
    """One entry of a FastAPI-style validation error list."""
    return {"type": kind, "loc": list(loc), "msg": msg, "input": value}


class InvalidBody(Exception):
    """A 422 in FastAPI's shape, for rules pydantic models cannot express."""

    def __init__(self, errors: Sequence[dict[str, Any]]) -> None:
        super().__init__("; ".join(str(error["msg"]) for error in errors))
        self.errors = list(errors)


def raise_invalid(errors: Sequence[dict[str, Any]]) -> None:
    """Raise InvalidBody if there is anything to report."""
    if errors:
        raise InvalidBody(errors)
