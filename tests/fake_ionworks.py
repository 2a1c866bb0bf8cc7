"""A tiny stand-in for the Ionworks API that serves exactly the specs a test gives it.

The sandbox enforces the API's rules (unique names per project, project filters), so it cannot
show what a misbehaving server does. This one serves a fixed list of specs over real HTTP on
127.0.0.1, pages honestly, records every request, and answers every write with 500 so a test
can assert that none was attempted.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

KEY = "fake-key-1234567890"


@dataclass
class FakeIonworks:
    """What the fake serves, and every request it received as ``(method, path)``."""

    specs: list[dict[str, Any]]
    project_id: str = "p-1"
    requests: list[tuple[str, str]] = field(default_factory=list)
    url: str = ""
    #: ``GET /projects/{id}``'s status and body (None: the project exists, named "Fake project").
    project_answer: tuple[int, Any] | None = None

    @property
    def writes(self) -> list[tuple[str, str]]:
        return [r for r in self.requests if r[0] != "GET"]

    def env(self) -> dict[str, str]:
        return {
            "IONWORKS_API_URL": self.url,
            "IONWORKS_API_KEY": KEY,
            "IONWORKS_PROJECT_ID": self.project_id,
        }

    def answer(self, method: str, target: str) -> tuple[int, Any]:
        split = urlsplit(target)
        path, query = split.path, parse_qs(split.query)
        self.requests.append((method, path))
        if method != "GET":
            return 500, {"error_code": "INTERNAL", "message": "writes are not served here"}
        if path.startswith("/projects/"):
            if self.project_answer is not None:
                return self.project_answer
            return 200, {"id": path.rsplit("/", 1)[1], "name": "Fake project"}
        if path == "/cell_specifications":
            limit = int(query.get("limit", ["100"])[0])
            offset = int(query.get("offset", ["0"])[0])
            items = self.specs[offset : offset + limit]
            return 200, {"items": items, "count": len(items), "total": len(self.specs)}
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[0] == "cell_specifications":
            return 200, {"items": [], "count": 0, "total": 0}
        if len(parts) == 2 and parts[0] == "cell_specifications":
            for spec in self.specs:
                if spec["id"] == parts[1]:
                    return 200, spec
        return 404, {"error_code": "NOT_FOUND", "message": "not found", "detail": None}


@contextmanager
def serve(fake: FakeIonworks) -> Iterator[FakeIonworks]:
    class Handler(BaseHTTPRequestHandler):
        def _reply(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            status, body = fake.answer(self.command, self.path)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_DELETE = _reply

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
