"""Helpers shared by the API client tests: a client over httpx.MockTransport that never sleeps."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import httpx

from reconciler.api import ApiSettings, Credentials, IonworksClient

T = TypeVar("T")

KEY = "iw_test_key_6f1d9c0e_distinctive"
TOKEN = "tok_test_token_93b1e7_distinctive"
BASE = "http://api.test"

Handler = (
    Callable[[httpx.Request], httpx.Response]
    | Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]
)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class Sleeps:
    """Records requested backoff delays instead of sleeping, so retry tests are instant."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def settings(**overrides: Any) -> ApiSettings:
    values: dict[str, Any] = {
        "base_url": BASE,
        "credentials": Credentials(api_key=KEY),
        "project_id": "proj-1",
    }
    values.update(overrides)
    return ApiSettings(**values)


def client(handler: Handler, **overrides: Any) -> tuple[IonworksClient, Sleeps]:
    sleeps = Sleeps()
    return IonworksClient(
        settings(**overrides), transport=httpx.MockTransport(handler), sleep=sleeps
    ), sleeps


def json_response(status: int, body: Any, **headers: str) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers={"content-type": "application/json", **headers},
    )


async def call(
    handler: Handler, action: Callable[[IonworksClient], Awaitable[T]], **overrides: Any
) -> tuple[T, Sleeps]:
    """Run one client action against ``handler`` and close the client."""
    api, sleeps = client(handler, **overrides)
    async with api:
        return await action(api), sleeps
