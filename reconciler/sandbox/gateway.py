"""The ASGI layer in front of FastAPI: what every request passes through before a route.

Order per request: journal it, add latency, maybe inject a fault, check the credential (the
viewer key may only read: writes and admin routes answer 403), read the body within its cap,
gunzip and inspect it (bodies.py), then hand over to FastAPI. Every response gets an
``x-correlation-id`` and a Content-Type of exactly ``application/json`` for JSON bodies (the
official client parses nothing else). Admin routes (``/_sandbox/...``) get auth, body checks
and headers only: never faults, latency or a journal entry.

Connection drops close uvicorn's transport directly. Uvicorn hands the application the bound
``send`` method of its per-request cycle, which owns the transport; this layer runs before any
middleware could wrap that method.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from reconciler.sandbox.bodies import BodyRefused, inspect_json, problem, read_body
from reconciler.sandbox.faults import JournalEntry
from reconciler.sandbox.state import SandboxState

ADMIN_PREFIX = "/_sandbox"
PUBLIC_PATHS = frozenset({"/healthz", "/_sandbox/docs", "/_sandbox/openapi.json"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
OWNER, VIEWER = "owner", "viewer"
"""The API key's holder may do anything; the viewer key's holder may only read API routes."""
JSON = b"application/json"

STATUS_FAULTS = {
    "500": (500, "INTERNAL_ERROR", "Injected fault: internal server error"),
    "502": (502, "BAD_GATEWAY", "Injected fault: bad gateway"),
    "503": (503, "SERVICE_UNAVAILABLE", "Injected fault: service unavailable"),
    "429": (429, "RATE_LIMITED", "Injected fault: too many requests"),
}

App = Callable[[Scope, Receive, Send], Awaitable[None]]


def is_admin(path: str) -> bool:
    return path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")


async def respond(
    send: Send, status: int, body: Any, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """Send a complete JSON response."""
    content = json.dumps(body, separators=(",", ":")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", JSON),
                (b"content-length", str(len(content)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})


async def drop_connection(send: Send) -> None:
    """Close the client's TCP connection without a response."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise RuntimeError("connection drops need uvicorn: the server's send has no transport")
    transport.close()
    for _ in range(2):  # let the server see the connection go before the app returns
        await asyncio.sleep(0)


async def discard(message: Message) -> None:
    """A send that throws the response away (drop-after-commit)."""


class Gateway:
    def __init__(self, state: SandboxState) -> None:
        self.state = state
        settings = state.settings
        self._keys = {settings.api_key.encode(): OWNER}
        if settings.viewer_key is not None:
            self._keys[settings.viewer_key.encode()] = VIEWER

    async def __call__(self, scope: Scope, receive: Receive, send: Send, app: App) -> None:
        path: str = scope["path"]
        admin = is_admin(path)
        entry = None
        if not admin:
            query = scope["query_string"].decode("latin-1")
            entry = self.state.journal.record(scope["method"], path, query)
        raw_send, send = send, self._decorate(send, entry)
        fault = None
        if entry is not None:
            fault = entry.fault = self.state.faults.draw()
            await self._latency()
            if fault == "drop":
                entry.status = "dropped"
                await drop_connection(raw_send)
                return
            if fault == "stall":
                await self._stall()
            if fault in STATUS_FAULTS:
                status, code, message = STATUS_FAULTS[fault]
                extra = [(b"retry-after", b"0")] if status == 429 else []
                await respond(send, status, problem(code, message), extra)
                return
        if path not in PUBLIC_PATHS:
            role = self._role(scope)
            if role is None:
                body = problem("UNAUTHORIZED", "Invalid or missing API key or token")
                await respond(send, 401, body)
                return
            if role == VIEWER and (admin or scope["method"] not in READ_METHODS):
                message = "Your role in this project (viewer) may read but not write"
                await respond(send, 403, problem("FORBIDDEN", message))
                return
        if scope["method"] in BODY_METHODS:
            prepared = await self._prepare_body(scope, receive, send)
            if prepared is None:
                return
            scope, receive = prepared
        if fault == "drop-after-commit" and entry is not None:
            await app(scope, receive, discard)
            entry.status = "dropped"
            await drop_connection(raw_send)
            return
        await app(scope, receive, send)

    def _decorate(self, send: Send, entry: JournalEntry | None) -> Send:
        correlation_id = str(uuid.uuid4()).encode()

        async def decorated(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = []
                for name, value in message.get("headers", []):
                    if name.lower() == b"content-type" and value.lower().startswith(JSON):
                        value = JSON
                    headers.append((name, value))
                headers.append((b"x-correlation-id", correlation_id))
                message = {**message, "headers": headers}
                if entry is not None:
                    entry.status = message["status"]
            await send(message)

        return decorated

    def _role(self, scope: Scope) -> str | None:
        """Whose credential the request carries: OWNER, VIEWER, or None (401)."""
        for name, value in scope["headers"]:
            if name == b"x-api-key":
                sent = value.strip()
            elif name == b"authorization":
                scheme, _, token = value.partition(b" ")
                if scheme.lower() != b"bearer":
                    continue
                sent = token.strip()
            else:
                continue
            for key, role in self._keys.items():
                if hmac.compare_digest(sent, key):
                    return role
        return None

    async def _latency(self) -> None:
        delay = self.state.faults.latency_ms / 1000.0
        if delay > 0:
            await asyncio.sleep(delay)

    async def _stall(self) -> None:
        """Wait ``stall_seconds`` before handling, cut short only when the server stops."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.state.faults.stall_seconds
        while not self.state.stopping.is_set():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            await asyncio.sleep(min(remaining, 0.05))

    async def _prepare_body(
        self, scope: Scope, receive: Receive, send: Send
    ) -> tuple[Scope, Receive] | None:
        """Read, gunzip and inspect the body; None when it was refused or the client left."""
        headers = list(scope["headers"])
        encoding = next((v for n, v in headers if n == b"content-encoding"), b"").strip().lower()
        try:
            body = await read_body(
                receive,
                encoding=encoding,
                declared=_declared_length(headers),
                max_bytes=self.state.settings.max_body_bytes,
            )
            if body is None:
                return None
            inspect_json(body, strict_text=self.state.behaviour.strict_text)
        except BodyRefused as refused:
            await respond(send, refused.status, refused.body)
            return None
        headers = [
            (name, value)
            for name, value in headers
            if name not in (b"content-encoding", b"content-length")
        ]
        headers.append((b"content-length", str(len(body)).encode()))
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        return {**scope, "headers": headers}, replay


def _declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The Content-Length a client announced, if it is a plain number."""
    for name, value in headers:
        if name == b"content-length" and value.strip().isdigit():
            return int(value)
    return None
