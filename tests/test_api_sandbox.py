"""API client against the real sandbox over HTTP on 127.0.0.1: round trips, paging and faults."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from helpers import Api
from test_api_support import run

from reconciler.api import ApiSettings, CascadeCount, Credentials, IonworksClient
from reconciler.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    RequestRejectedError,
    TransportError,
)
from reconciler.sandbox.server import SandboxServer

Factory = Callable[..., SandboxServer]
RATINGS = {
    "capacity": {"value": 5.0, "unit": "A*h"},
    "voltage_min": {"value": 2.5, "unit": "V"},
    "voltage_max": {"value": 4.2, "unit": "V"},
}


def spec_body(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "form_factor": "21700", "ratings": RATINGS, **extra}


def settings_for(server: SandboxServer, **overrides: Any) -> ApiSettings:
    values: dict[str, Any] = {
        "base_url": server.url,
        "credentials": Credentials(api_key=server.api_key),
        "project_id": server.project_id,
        "backoff_base": 0.01,
        "backoff_max": 0.05,
    }
    values.update(overrides)
    return ApiSettings(**values)


def admin(server: SandboxServer, method: str, path: str, body: Any = None) -> Any:
    """Call a ``/_sandbox`` admin route (test set-up, not the client under test)."""
    response = httpx.request(
        method,
        f"{server.url}{path}",
        json=body,
        headers={"X-API-Key": server.api_key},
        timeout=10,
    )
    response.raise_for_status()
    return response.json() if response.content else None


def journal(server: SandboxServer) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = admin(server, "GET", "/_sandbox/requests")["items"]
    return items


def set_faults(server: SandboxServer, faults: list[str], rate: float, seed: int = 7) -> None:
    admin(
        server,
        "PUT",
        "/_sandbox/faults",
        {"fault_rate": rate, "faults": faults, "seed": seed, "latency_ms": 0},
    )


def test_create_find_update_delete_round_trip(sandbox: SandboxServer) -> None:
    async def scenario() -> None:
        async with IonworksClient(settings_for(sandbox)) as api:
            created = await api.create_spec(spec_body("LG M50"))
            assert created["project_id"] == sandbox.project_id
            found = await api.find_spec(sandbox.project_id, "LG M50")
            assert found is not None and found["id"] == created["id"]
            assert await api.find_spec(sandbox.project_id, "LG_M50") is None
            updated = await api.update_spec(created["id"], {"notes": "cycled at 25 degC"})
            assert updated["notes"] == "cycled at 25 degC"
            assert (await api.get_spec(created["id"]))["notes"] == "cycled at 25 degC"
            assert await api.cascade(created["id"]) == CascadeCount(0, 0, 0)
            assert await api.delete_spec(created["id"]) is True
            assert await api.delete_spec(created["id"]) is False
            with pytest.raises(NotFoundError, match=r"reading cell specification .* \(404\)"):
                await api.get_spec(created["id"])

    run(scenario())


def test_cascade_counts_seeded_children(sandbox: SandboxServer) -> None:
    async def scenario() -> CascadeCount:
        async with IonworksClient(settings_for(sandbox)) as api:
            spec = await api.create_spec(spec_body("seeded"))
            admin(
                sandbox,
                "POST",
                "/_sandbox/seed",
                {"spec_id": spec["id"], "instances": 3, "measurements": 2, "batches": 2},
            )
            return await api.cascade(spec["id"])

    got = run(scenario())
    assert got.instances == 3 and got.batches == 2
    assert got.measurements == 6


def test_list_specs_pages_through_250(sandbox: SandboxServer) -> None:
    async def scenario() -> list[dict[str, Any]]:
        async with IonworksClient(settings_for(sandbox)) as api:
            await asyncio.gather(*(api.create_spec(spec_body(f"cell-{i:03}")) for i in range(250)))
            admin(sandbox, "DELETE", "/_sandbox/requests")
            return await api.list_specs(sandbox.project_id)

    specs = run(scenario())
    assert [s["name"] for s in specs] == [f"cell-{i:03}" for i in range(250)], "in name order"
    gets = [r for r in journal(sandbox) if r["method"] == "GET"]
    # pages at 0, 99 and 198 (each overlapping the one before by a row), and the empty 250
    assert len(gets) == 4
    assert all(r["status"] == 200 for r in gets)
    assert all("order_by=name&order=asc" in r["query"] for r in gets)


def test_duplicate_name_is_a_conflict_naming_the_existing_spec(sandbox: SandboxServer) -> None:
    async def scenario() -> None:
        async with IonworksClient(settings_for(sandbox)) as api:
            first = await api.create_spec(spec_body("dup"))
            with pytest.raises(ConflictError) as caught:
                await api.create_spec(spec_body("dup"))
            assert caught.value.existing_id == first["id"]
            assert caught.value.correlation_id
            assert "creating cell specification 'dup' (POST /cell_specifications)" in str(
                caught.value
            )

    run(scenario())


def test_rejected_body_lists_field_errors(sandbox: SandboxServer) -> None:
    body = spec_body("bare", properties={"thickness": 3})

    async def scenario() -> None:
        async with IonworksClient(settings_for(sandbox)) as api:
            with pytest.raises(RequestRejectedError) as caught:
                await api.create_spec(body)
            assert caught.value.status in (400, 422)
            assert any("properties" in loc for loc, _ in caught.value.field_errors)

    run(scenario())


def test_wrong_key_is_an_authentication_error(sandbox: SandboxServer) -> None:
    wrong = "iw_wrong_key_4e2b_distinctive"
    settings = settings_for(sandbox, credentials=Credentials(api_key=wrong))

    async def scenario() -> None:
        async with IonworksClient(settings) as api:
            with pytest.raises(AuthenticationError) as caught:
                await api.list_specs(sandbox.project_id)
            assert "rejected the credentials (401" in str(caught.value)
            assert wrong not in str(caught.value)

    run(scenario())


def test_reads_succeed_through_injected_faults(sandbox: SandboxServer) -> None:
    async def create() -> list[str]:
        async with IonworksClient(settings_for(sandbox)) as api:
            return [(await api.create_spec(spec_body(f"f{i}")))["id"] for i in range(120)]

    ids = run(create())
    set_faults(sandbox, ["500", "502", "503", "429", "drop"], rate=0.5)
    admin(sandbox, "DELETE", "/_sandbox/requests")

    async def read() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        async with IonworksClient(settings_for(sandbox, max_retries=12)) as api:
            listed = await api.list_specs(sandbox.project_id)
            fetched = await asyncio.gather(*(api.get_spec(i) for i in ids))
            return listed, list(fetched)

    listed, fetched = run(read())
    assert sorted(s["id"] for s in listed) == sorted(ids)
    assert [s["id"] for s in fetched] == ids
    seen = {r["fault"] for r in journal(sandbox) if r["fault"]}
    assert seen == {"500", "502", "503", "429", "drop"}


def test_post_dropped_after_commit_is_sent_once_and_may_have_arrived(
    sandbox: SandboxServer,
) -> None:
    set_faults(sandbox, ["drop-after-commit"], rate=1.0)
    admin(sandbox, "DELETE", "/_sandbox/requests")

    async def create() -> None:
        async with IonworksClient(settings_for(sandbox)) as api:
            with pytest.raises(TransportError) as caught:
                await api.create_spec(spec_body("committed"))
            assert caught.value.may_have_arrived is True
            assert "so it was not resent" in str(caught.value)

    run(create())
    posts = [r for r in journal(sandbox) if r["method"] == "POST"]
    assert len(posts) == 1
    assert posts[0]["fault"] == "drop-after-commit"
    set_faults(sandbox, [], rate=0.0)

    async def find() -> dict[str, Any] | None:
        async with IonworksClient(settings_for(sandbox)) as api:
            return await api.find_spec(sandbox.project_id, "committed")

    assert run(find()) is not None


def test_a_stalled_server_times_out(sandbox_factory: Factory) -> None:
    server = sandbox_factory(stall_seconds=3.0)
    set_faults(server, ["stall"], rate=1.0)

    async def scenario() -> None:
        async with IonworksClient(settings_for(server, timeout=0.3, max_retries=1)) as api:
            with pytest.raises(TransportError) as caught:
                await api.list_specs(server.project_id)
            assert "no complete response within 0.3 s after 2 attempts" in str(caught.value)
            with pytest.raises(TransportError) as write:
                await api.create_spec(spec_body("slow"))
            assert write.value.may_have_arrived is True

    run(scenario())
    statuses = [(r["method"], r["fault"]) for r in journal(server)]
    assert statuses.count(("GET", "stall")) == 2
    assert statuses.count(("POST", "stall")) == 1


def test_connection_refused_never_arrives() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = ApiSettings(
        base_url=f"http://127.0.0.1:{port}",
        credentials=Credentials(api_key="iw_refused_key_distinctive"),
        max_retries=2,
        backoff_base=0.0,
    )

    async def scenario() -> None:
        async with IonworksClient(settings) as api:
            with pytest.raises(TransportError) as caught:
                await api.create_spec({"name": "x", "project_id": "p"})
            assert caught.value.may_have_arrived is False
            assert "could not connect" in str(caught.value)
            assert "after 3 attempts" in str(caught.value)
            assert "iw_refused_key_distinctive" not in str(caught.value)

    run(scenario())


class ChangeWhileListing(httpx.AsyncBaseTransport):
    """Real HTTP to the sandbox; just before the second page of the first listing is sent,
    another user deletes one spec already read and creates one that sorts further on."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.inner = httpx.AsyncHTTPTransport()
        self.lists = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path == "/cell_specifications":
            self.lists += 1
            if self.lists == 2:
                other = Api(self.server)
                try:
                    [gone] = other.http.get(
                        "/cell_specifications",
                        params={"project_id": self.server.project_id, "name": "eq.cell-005"},
                    ).json()["items"]
                    other.http.delete(f"/cell_specifications/{gone['id']}").raise_for_status()
                    other.create(spec_body("cell-150b"))
                finally:
                    other.close()
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_a_list_changed_while_read_is_read_again_never_partial(sandbox: SandboxServer) -> None:
    """Both changes land behind and ahead of the pages being read: the total stays 250 and no
    id repeats, so only the overlapping pages show the list moved."""

    async def scenario() -> list[dict[str, Any]]:
        async with IonworksClient(settings_for(sandbox)) as api:
            await asyncio.gather(*(api.create_spec(spec_body(f"cell-{i:03}")) for i in range(250)))
        transport = ChangeWhileListing(sandbox)
        async with IonworksClient(settings_for(sandbox), transport=transport) as api:
            admin(sandbox, "DELETE", "/_sandbox/requests")
            return await api.list_specs(sandbox.project_id)

    specs = run(scenario())
    expected = sorted({f"cell-{i:03}" for i in range(250)} - {"cell-005"} | {"cell-150b"})
    assert [s["name"] for s in specs] == expected
    ours = [r["query"] for r in journal(sandbox) if "order_by=name" in r["query"]]
    assert sum(query.endswith("offset=0") for query in ours) == 2, "the list was read twice"
