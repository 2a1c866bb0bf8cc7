"""Test helpers: write manifests, and talk to a sandbox directly (as another user would)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from reconciler.sandbox.server import SandboxServer

WRITE_METHODS = {"POST", "PATCH", "PUT", "DELETE"}


def spec_doc(name: str, capacity: float = 5.0, unit: str = "A*h", **fields: Any) -> dict[str, Any]:
    """A small valid manifest document; keyword arguments add or override top-level fields."""
    doc: dict[str, Any] = {
        "name": name,
        "form_factor": "21700",
        "manufacturer": "Test Cells",
        "ratings": {
            "capacity": {"value": capacity, "unit": unit},
            "voltage_min": {"value": 2.5, "unit": "V"},
            "voltage_max": {"value": 4.2, "unit": "V"},
        },
    }
    doc.update(fields)
    return {k: v for k, v in doc.items() if v is not ...}


def write_manifests(directory: Path, *docs: dict[str, Any], config: str | None = None) -> Path:
    """One file per document (JSON is valid YAML); replaces what the directory held."""
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.yaml"):
        old.unlink()
    for index, doc in enumerate(docs):
        (directory / f"spec-{index:03d}.yaml").write_text(json.dumps(doc, indent=2) + "\n")
    if config is not None:
        (directory / "ionworks-apply.yaml").write_text(config)
    return directory


@dataclass
class CliResult:
    """What one run of the CLI gave: exit code, standard output and standard error."""

    code: int
    out: str
    err: str

    @property
    def output(self) -> str:
        return self.out + self.err


def env_for(server: SandboxServer) -> dict[str, str]:
    """IONWORKS_* variables pointing at a sandbox."""
    return {
        "IONWORKS_API_URL": server.url,
        "IONWORKS_API_KEY": server.api_key,
        "IONWORKS_PROJECT_ID": server.project_id,
    }


class Api:
    """A plain httpx client on the sandbox: sets up live state and reads the request journal."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.http = httpx.Client(
            base_url=server.url, headers={"X-API-Key": server.api_key}, timeout=10.0
        )

    def close(self) -> None:
        self.http.close()

    def specs(self) -> list[dict[str, Any]]:
        response = self.http.get(
            "/cell_specifications",
            params={"project_id": self.server.project_id, "full": "true", "limit": 100},
        )
        response.raise_for_status()
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    def spec(self, name: str) -> dict[str, Any]:
        matches = [s for s in self.specs() if s["name"] == name]
        assert len(matches) == 1, f"expected one spec named {name!r}, found {len(matches)}"
        return matches[0]

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(
            "/cell_specifications", json={"project_id": self.server.project_id, **body}
        )
        response.raise_for_status()
        created: dict[str, Any] = response.json()
        return created

    def patch(self, spec_id: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.patch(f"/cell_specifications/{spec_id}", json=body)
        response.raise_for_status()
        updated: dict[str, Any] = response.json()
        return updated

    def seed(self, spec_id: str, instances: int, measurements: int, batches: int = 0) -> None:
        response = self.http.post(
            "/_sandbox/seed",
            json={
                "spec_id": spec_id,
                "instances": instances,
                "measurements": measurements,
                "batches": batches,
            },
        )
        response.raise_for_status()

    def clear_journal(self) -> None:
        self.http.delete("/_sandbox/requests").raise_for_status()

    def journal(self) -> list[dict[str, Any]]:
        response = self.http.get("/_sandbox/requests")
        response.raise_for_status()
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    def writes(self) -> list[dict[str, Any]]:
        return [r for r in self.journal() if r["method"] in WRITE_METHODS]

    def set_faults(self, **settings: Any) -> None:
        self.http.put("/_sandbox/faults", json=settings).raise_for_status()


@contextmanager
def on_first_create(server: SandboxServer, action: Callable[[Api], None]) -> Iterator[None]:
    """Run ``action`` (on its own client) as soon as the first spec POST reaches the sandbox."""
    done = threading.Event()
    failure: list[BaseException] = []

    def watch() -> None:
        api = Api(server)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not done.is_set():
                if any(
                    r["method"] == "POST" and r["path"] == "/cell_specifications"
                    for r in api.journal()
                ):
                    action(api)
                    return
                time.sleep(0.01)
        except BaseException as exc:  # reported by the test, not lost in the thread
            failure.append(exc)
        finally:
            api.close()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=30)
    assert not failure, failure
