"""Helpers shared by the API client tests: a client over httpx.MockTransport that never sleeps,
and raw fake servers on 127.0.0.1 for answers no well-behaved server gives."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import httpx
from helpers import CliResult, spec_doc, write_manifests

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


# -- fake servers on 127.0.0.1, for answers no well-behaved server (or MockTransport) gives -----


class RawServer:
    """A TCP server on 127.0.0.1: each connection's request head is recorded, then ``respond``
    writes whatever bytes it likes (a broken status line, a trickle, a bomb) and the connection
    closes. ``respond`` should stop when ``server.stopping`` is set (the test is over).

    A plan reads its project first; unless ``projects`` is False, that read is answered well
    and not recorded, so what a test serves is what comes after it."""

    def __init__(
        self, respond: Callable[[RawServer, socket.socket, str], None], *, projects: bool = True
    ) -> None:
        self.respond = respond
        self.projects = projects
        self.requests: list[str] = []
        self.stopping = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        port = self._listener.getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __enter__(self) -> RawServer:
        self._acceptor.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopping.set()
        for thread in [self._acceptor, *self._threads]:
            thread.join(timeout=10)
        self._listener.close()

    def _accept(self) -> None:
        self._listener.settimeout(0.05)  # so it sees ``stopping`` soon
        while not self.stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                data = conn.recv(65536)
                if not data:
                    return
                head += data
            request = head.decode("latin-1")
            target = urlsplit(request.split(" ", 2)[1]).path
            if self.projects and target.startswith("/projects/"):
                project = {"id": target.rsplit("/", 1)[1], "name": "Test project"}
                conn.sendall(http_answer(200, json.dumps(project).encode()))
                return
            self.requests.append(request)
            with contextlib.suppress(OSError):  # the client gave up: that is often the point
                self.respond(self, conn, request)

    def methods(self) -> list[str]:
        return [request.split(" ", 1)[0] for request in self.requests]


def http_answer(
    status: int | str, body: bytes = b"", *, content_type: str = "application/json", **headers: str
) -> bytes:
    """A complete HTTP/1.1 response as bytes; ``status`` may be a whole (broken) status text."""
    line = f"HTTP/1.1 {status} OK" if isinstance(status, int) else f"HTTP/1.1 {status}"
    fields = {"content-type": content_type, "content-length": str(len(body)), **headers}
    head = "".join(f"{name}: {value}\r\n" for name, value in fields.items())
    return f"{line}\r\n{head}connection: close\r\n\r\n".encode("latin-1") + body


def query_of(request: str) -> dict[str, str]:
    """The query parameters of a recorded request head."""
    target = request.split(" ", 2)[1]
    return dict(parse_qsl(urlsplit(target).query))


def plan_against(
    run_cli: Callable[..., CliResult],
    url: str,
    manifests: Path,
    *,
    before: tuple[str, ...] = (),
    after: tuple[str, ...] = (),
    key: str = KEY,
    **env: str,
) -> CliResult:
    """``ionworks-apply [before] plan DIR [after]`` of one manifest (``Cell A``) against ``url``."""
    write_manifests(manifests, spec_doc("Cell A"))
    variables = {
        "IONWORKS_API_URL": url,
        "IONWORKS_API_KEY": key,
        "IONWORKS_PROJECT_ID": "p1",
        **env,
    }
    return run_cli(*before, "plan", str(manifests), *after, env=variables)


def one_error(result: CliResult, secret: str = KEY) -> str:
    """The one ``Error:`` line of a clean failure (exit 1, no traceback, no secret)."""
    assert result.code == 1, result.output
    assert "Traceback" not in result.output and "Internal error" not in result.output
    [line] = [line for line in result.err.splitlines() if line.startswith("Error:")]
    assert secret not in result.output
    return line


def list_server(
    records: list[dict[str, Any]], *, total: int | None = None, **headers: str
) -> RawServer:
    """A list endpoint over raw HTTP: ``records`` paged by offset, ``total`` as told."""

    def respond(server: RawServer, conn: socket.socket, request: str) -> None:
        offset = int(query_of(request).get("offset", "0"))
        page = records[offset : offset + 100]
        told = len(records) if total is None else total
        body = json.dumps({"items": page, "count": len(page), "total": told}).encode()
        conn.sendall(http_answer(200, body, **headers))

    return RawServer(respond)
