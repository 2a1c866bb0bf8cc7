"""Fault injection, latency, the request journal and the admin routes of the sandbox."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from reconciler.sandbox.server import SandboxServer

pytestmark = pytest.mark.chaos

Factory = Callable[..., SandboxServer]


def client(server: SandboxServer, timeout: float = 10) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"X-API-Key": server.api_key}, timeout=timeout)


@pytest.fixture
def api(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with client(sandbox) as admin:
        yield admin


def spec(server: SandboxServer, name: str = "Coin") -> dict[str, Any]:
    return {"name": name, "project_id": server.project_id}


def faults_on(api: httpx.Client, kind: str, **extra: Any) -> None:
    response = api.put("/_sandbox/faults", json={"fault_rate": 1.0, "faults": [kind], **extra})
    assert response.status_code == 200, response.text


def faults_off(api: httpx.Client) -> None:
    assert api.put("/_sandbox/faults", json={"fault_rate": 0.0}).status_code == 200


def journal(api: httpx.Client) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get("/_sandbox/requests").json()["items"]
    return items


def spec_total(api: httpx.Client) -> int:
    return int(api.get("/cell_specifications").json()["total"])


@pytest.mark.parametrize(
    ("kind", "code"),
    [("500", "INTERNAL_ERROR"), ("502", "BAD_GATEWAY"), ("503", "SERVICE_UNAVAILABLE")],
)
def test_status_faults(sandbox_factory: Factory, kind: str, code: str) -> None:
    server = sandbox_factory(fault_rate=1.0, faults=(kind,))
    with client(server) as api:
        response = api.post("/cell_specifications", json=spec(server))
        assert response.status_code == int(kind)
        assert response.headers["content-type"] == "application/json"
        assert response.json()["error_code"] == code and response.json()["detail"] is None
        assert "x-correlation-id" in response.headers
        assert journal(api) == [
            {
                "seq": 1,
                "method": "POST",
                "path": "/cell_specifications",
                "query": "",
                "status": int(kind),
                "fault": kind,
            },
        ]
        faults_off(api)
        assert spec_total(api) == 0


def test_rate_limit_fault_says_when_to_retry(api: httpx.Client, sandbox: SandboxServer) -> None:
    faults_on(api, "429")
    response = api.get("/cell_specifications", params={"limit": 5})
    assert response.status_code == 429 and response.headers["retry-after"] == "0"
    assert response.json()["error_code"] == "RATE_LIMITED"
    assert journal(api)[-1]["query"] == "limit=5"


def test_drop_closes_the_connection_before_any_write(
    api: httpx.Client, sandbox: SandboxServer
) -> None:
    faults_on(api, "drop")
    with pytest.raises(httpx.RemoteProtocolError):
        api.post("/cell_specifications", json=spec(sandbox))
    faults_off(api)
    assert spec_total(api) == 0
    assert journal(api)[0] | {"seq": 0} == {
        "seq": 0,
        "method": "POST",
        "path": "/cell_specifications",
        "query": "",
        "status": "dropped",
        "fault": "drop",
    }


def test_drop_after_commit_writes_then_hangs_up(api: httpx.Client, sandbox: SandboxServer) -> None:
    faults_on(api, "drop-after-commit")
    with pytest.raises(httpx.RemoteProtocolError):
        api.post("/cell_specifications", json=spec(sandbox))
    faults_off(api)
    (created,) = api.get("/cell_specifications").json()["items"]
    assert created["name"] == "Coin"
    assert journal(api)[0]["status"] == "dropped"
    assert api.post("/cell_specifications", json=spec(sandbox)).status_code == 409


def test_stall_makes_the_client_time_out(api: httpx.Client, sandbox: SandboxServer) -> None:
    faults_on(api, "stall", stall_seconds=30)
    with client(sandbox, timeout=0.3) as impatient, pytest.raises(httpx.ReadTimeout):
        impatient.get("/cell_specifications")
    assert journal(api)[0]["fault"] == "stall"


def test_admin_routes_are_never_faulted_or_journaled(sandbox_factory: Factory) -> None:
    server = sandbox_factory(fault_rate=1.0, faults=("500", "drop"), latency_ms=0)
    with client(server) as api:
        for _ in range(5):
            assert api.get("/_sandbox/requests").json() == {"items": []}
        assert api.get("/_sandbox/faults").json()["faults"] == ["500", "drop"]


def test_latency_is_added_to_api_requests(sandbox_factory: Factory) -> None:
    server = sandbox_factory(latency_ms=150)
    with client(server) as api:
        started = time.perf_counter()
        assert api.get("/cell_specifications").status_code == 200
        assert time.perf_counter() - started >= 0.15


def test_seeded_fault_draws_repeat(sandbox_factory: Factory) -> None:
    runs = []
    for _ in range(2):
        server = sandbox_factory(fault_rate=0.5, faults=("500", "503", "429"), seed=7)
        with client(server) as api:
            statuses = [api.get("/cell_specifications").status_code for _ in range(30)]
            runs.append((statuses, [item["fault"] for item in journal(api)]))
    assert runs[0] == runs[1]
    statuses, faults = runs[0]
    assert {200, 500, 503, 429} == set(statuses)
    assert [str(s) if s != 200 else None for s in statuses] == faults


def test_fault_config_is_validated(api: httpx.Client) -> None:
    assert api.put("/_sandbox/faults", json={"faults": ["teapot"]}).status_code == 400
    assert api.put("/_sandbox/faults", json={"fault_rate": 2}).status_code == 422
    assert api.get("/_sandbox/faults").json()["faults"] == []


def test_journal_clear_and_reset(api: httpx.Client, sandbox: SandboxServer) -> None:
    other = api.post("/_sandbox/projects", json={"name": "second"}).json()["id"]
    created = api.post("/cell_specifications", json=spec(sandbox)).json()
    api.post("/cell_specifications", json={"name": "x", "project_id": other})
    api.post("/_sandbox/seed", json={"spec_name": "Coin", "instances": 2, "measurements": 1})
    assert [item["seq"] for item in journal(api)] == [1, 2]
    assert api.delete("/_sandbox/requests").status_code == 204
    assert journal(api) == []
    assert api.post("/_sandbox/reset").json()["project_id"] == sandbox.project_id
    assert spec_total(api) == 0
    assert api.get(f"/cell_specifications/{created['id']}").status_code == 404
    assert [p["id"] for p in api.get("/projects").json()["items"]] == [sandbox.project_id]
    assert journal(api)[-1]["seq"] == 5


def test_seed_route(api: httpx.Client, sandbox: SandboxServer) -> None:
    spec_id = api.post("/cell_specifications", json=spec(sandbox)).json()["id"]
    seeded = api.post(
        "/_sandbox/seed",
        json={"spec_name": "Coin", "instances": 5, "measurements": 3, "batches": 2},
    )
    assert seeded.status_code == 201
    assert seeded.json() == {
        "spec_id": spec_id,
        "specs": 1,
        "batches": 2,
        "instances": 5,
        "measurements": 15,
    }
    batches = api.get(f"/cell_specifications/{spec_id}/cell_batches").json()["items"]
    assert sorted(batch["instance_count"] for batch in batches) == [2, 3]
    again = api.post("/_sandbox/seed", json={"spec_id": spec_id, "instances": 1})
    assert again.status_code == 201
    assert len(api.get(f"/cell_specifications/{spec_id}").json()["instance_ids"]) == 6
    unknown = api.post("/_sandbox/seed", json={"spec_name": "nope", "instances": 1})
    assert unknown.status_code == 404
