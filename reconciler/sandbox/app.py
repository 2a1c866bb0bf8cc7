"""The FastAPI application: routers, error shapes, and the gateway in front of it all."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from reconciler.sandbox.api_account import account_routes
from reconciler.sandbox.api_admin import admin_routes
from reconciler.sandbox.api_cells import cell_routes
from reconciler.sandbox.api_specs import spec_routes
from reconciler.sandbox.errors import ApiProblem, InvalidBody
from reconciler.sandbox.gateway import Gateway
from reconciler.sandbox.settings import SandboxSettings
from reconciler.sandbox.state import SandboxState

logger = logging.getLogger(__name__)

HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
}


class SandboxApp(FastAPI):
    """FastAPI with the gateway wrapped around it (see gateway.py for why it sits outermost)."""

    sandbox: SandboxState

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        await self.gateway(scope, receive, send, super().__call__)

    def attach(self, state: SandboxState) -> None:
        self.sandbox = state
        self.gateway = Gateway(state)


async def _problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiProblem)
    return JSONResponse(exc.body(), status_code=exc.status)


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidBody)
    return JSONResponse({"detail": exc.errors}, status_code=422)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = HTTP_CODES.get(exc.status_code, f"HTTP_{exc.status_code}")
    body = {"error_code": code, "message": str(exc.detail), "detail": None}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def _crash(request: Request, exc: Exception) -> JSONResponse:
    logger.error("sandbox bug on %s %s", request.method, request.url.path, exc_info=exc)
    body = {"error_code": "INTERNAL_ERROR", "message": "Sandbox internal error", "detail": None}
    return JSONResponse(body, status_code=500)


def create_app(settings: SandboxSettings) -> SandboxApp:
    """A ready application over ``settings.db_path`` (created if missing)."""
    state = SandboxState.open(settings)
    app = SandboxApp(
        title="Ionworks sandbox",
        description="Local Ionworks-compatible API for ionworks-apply.",
        docs_url="/_sandbox/docs",
        redoc_url=None,
        openapi_url="/_sandbox/openapi.json",
    )
    app.attach(state)
    app.add_exception_handler(ApiProblem, _problem)
    app.add_exception_handler(InvalidBody, _invalid)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _crash)
    for router in (
        spec_routes(state),
        cell_routes(state),
        account_routes(state),
        admin_routes(state),
    ):
        app.include_router(router)
    return app
