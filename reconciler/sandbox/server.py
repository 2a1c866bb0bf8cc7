"""Run the sandbox over real HTTP: uvicorn in a background thread (as httpx's own tests do)."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn

from reconciler.sandbox.app import SandboxApp, create_app
from reconciler.sandbox.settings import SandboxSettings

__all__ = ["SandboxServer", "SandboxSettings", "create_app"]

START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind before uvicorn starts, so port 0 yields a known ephemeral port at once."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


class SandboxServer:
    """A sandbox listening on ``host:port`` (port 0 picks a free one) until ``stop()``."""

    def __init__(self, settings: SandboxSettings, host: str = "127.0.0.1", port: int = 0) -> None:
        self.settings = settings
        self.api_key = settings.api_key
        self.host = host
        self.port = port
        self.app: SandboxApp = create_app(settings)
        self.project_id = self.app.sandbox.db.tenant.default_project_id
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    def __repr__(self) -> str:
        return (
            f"SandboxServer(url={self.url or 'not started'!r}, db={str(self.settings.db_path)!r})"
        )

    def start(self) -> None:
        """Serve in a daemon thread; returns once connections are accepted."""
        sock = bind_socket(self.host, self.port)
        self._socket = sock
        bound_host, self.port = sock.getsockname()[:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        self.url = f"http://{shown}:{self.port}"
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="sandbox", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"sandbox server did not start on {self.url}")
            time.sleep(0.005)

    def stop(self) -> None:
        """Stop serving and close the database; safe to call twice."""
        self.app.sandbox.stopping.set()
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(STOP_TIMEOUT)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(STOP_TIMEOUT)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None
        self.app.sandbox.db.close()

    def __enter__(self) -> SandboxServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
