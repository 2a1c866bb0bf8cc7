"""Sandbox conformance for instances, batches and measurements (contract sections 5-8)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from reconciler.sandbox.server import SandboxServer

MASS = {"value": 45.1, "unit": "g"}


@pytest.fixture
def api(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=sandbox.url, headers={"X-API-Key": sandbox.api_key}, timeout=10
    ) as client:
        yield client


def make_spec(api: httpx.Client, project_id: str, name: str = "Coin") -> str:
    response = api.post("/cell_specifications", json={"name": name, "project_id": project_id})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.fixture
def spec_id(api: httpx.Client, sandbox: SandboxServer) -> str:
    return make_spec(api, sandbox.project_id)


def post(api: httpx.Client, url: str, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
    response = api.post(url, json=body)
    assert response.status_code == status, response.text
    result: dict[str, Any] = response.json()
    return result


def test_instance_lifecycle(api: httpx.Client, spec_id: str, sandbox: SandboxServer) -> None:
    body = {
        "name": "C1",
        "measured_properties": {"cell": {"weight": MASS}},
        "date_manufactured": "2024-01-20",
        "notes": "first",
    }
    instance = post(api, f"/cell_specifications/{spec_id}/cell_instances", body)
    assert instance["cell_specification_id"] == spec_id
    assert instance["project_id"] == sandbox.project_id
    assert (instance["batch_id"], instance["batch_name"], instance["measurement_ids"]) == (
        None,
        None,
        [],
    )
    assert {k: instance[k] for k in body} == body
    spec = api.get(f"/cell_specifications/{spec_id}").json()
    assert spec["instance_ids"] == [instance["id"]]
    url = f"/cell_instances/{instance['id']}"
    patched = api.patch(url, json={"notes": None, "name": "C1b"}).json()
    assert (patched["notes"], patched["name"]) == (None, "C1b")
    assert patched["updated_at"] > instance["updated_at"]
    assert patched["measured_properties"] == body["measured_properties"]
    assert api.get(url).json() == patched
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404


def test_instance_rules(api: httpx.Client, spec_id: str, sandbox: SandboxServer) -> None:
    url = f"/cell_specifications/{spec_id}/cell_instances"
    first = post(api, url, {"name": "C1"})
    clash = api.post(url, json={"name": "C1"})
    assert clash.status_code == 409
    assert clash.json()["error_code"] == "CONFLICT"
    assert clash.json()["detail"] == {"existing_id": first["id"]}
    assert api.post(url, json={"name": "c1"}).status_code == 201
    legacy = api.post(url, json={"name": "C2", "batch": "LOT-1"})
    assert legacy.status_code == 422 and legacy.json()["detail"][0]["loc"] == ["body", "batch"]
    other_spec = make_spec(api, sandbox.project_id, "Other")
    foreign = post(api, f"/cell_specifications/{other_spec}/cell_batches", {"name": "LOT"})
    for response in (
        api.post(url, json={"name": "C3", "batch_id": foreign["id"]}),
        api.patch(f"/cell_instances/{first['id']}", json={"batch_id": foreign["id"]}),
        api.post(url, json={"name": "C4", "batch_id": "no-such-batch"}),
    ):
        assert response.status_code == 400 and response.json()["error_code"] == "BAD_REQUEST"
    bad = api.post(url, json={"name": "C5", "measured_properties": {"cell": {"weight": 45}}})
    assert bad.json()["detail"][0]["loc"] == ["body", "measured_properties", "cell", "weight"]
    assert api.post(url, json={"name": "C6", "date_manufactured": "soon"}).status_code == 422
    assert api.patch(f"/cell_instances/{first['id']}", json={"name": None}).status_code == 422
    assert api.get("/cell_specifications/nope/cell_instances").status_code == 404


def test_instance_listing(api: httpx.Client, spec_id: str) -> None:
    url = f"/cell_specifications/{spec_id}/cell_instances"
    api.post("/_sandbox/seed", json={"spec_id": spec_id, "instances": 120, "batches": 2})
    page = api.get(url, params={"limit": 1000}).json()
    assert (page["count"], page["total"]) == (100, 120)
    rest = api.get(url, params={"offset": 100}).json()
    assert rest["count"] == 20
    exact = api.get(url, params={"name": "eq.seed-cell-0007"}).json()["items"]
    assert [item["name"] for item in exact] == ["seed-cell-0007"]
    batch_id = exact[0]["batch_id"]
    in_batch = api.get(url, params={"batch_id": batch_id, "limit": 100}).json()
    assert in_batch["total"] == 60 and {i["batch_id"] for i in in_batch["items"]} == {batch_id}
    assert api.get(url, params={"limit": 0}).status_code == 422


def test_batches(api: httpx.Client, spec_id: str, sandbox: SandboxServer) -> None:
    url = f"/cell_specifications/{spec_id}/cell_batches"
    body = {
        "name": "LOT-2025-Q1",
        "date_manufactured": "2025-01-15",
        "notes": "n",
        "properties": {"capacity_mean": {"value": 2.1, "unit": "A*h"}},
    }
    batch = post(api, url, body)
    assert {k: batch[k] for k in body} == body
    assert batch["instance_count"] == 0 and batch["project_id"] == sandbox.project_id
    clash = api.post(url, json={"name": "lot-2025-q1"})
    assert clash.status_code == 409 and clash.json()["detail"] == {"existing_id": batch["id"]}
    other = post(api, url, {"name": "LOT-2"})
    rename = api.patch(f"/cell_batches/{other['id']}", json={"name": "Lot-2025-q1"})
    assert rename.status_code == 409
    cells_url = f"/cell_specifications/{spec_id}/cell_instances"
    members = [post(api, cells_url, {"name": f"C{n}", "batch_id": batch["id"]}) for n in range(3)]
    assert api.get(f"/cell_batches/{batch['id']}").json()["instance_count"] == 3
    api.patch(f"/cell_instances/{members[0]['id']}", json={"batch_id": None})
    assert api.get(f"/cell_batches/{batch['id']}").json()["instance_count"] == 2
    renamed = api.patch(f"/cell_batches/{batch['id']}", json={"name": "LOT-A"}).json()
    assert renamed["name"] == "LOT-A" and renamed["instance_count"] == 2
    member = api.get(f"/cell_instances/{members[1]['id']}").json()
    assert (member["batch_id"], member["batch_name"]) == (batch["id"], "LOT-A")
    listed = api.get(url, params={"name": "ilike.%lot-a%"}).json()
    assert [item["name"] for item in listed["items"]] == ["LOT-A"]
    assert api.delete(f"/cell_batches/{batch['id']}").status_code == 204
    for instance in members:
        kept = api.get(f"/cell_instances/{instance['id']}").json()
        assert (kept["batch_id"], kept["batch_name"]) == (None, None)
    assert api.get(f"/cell_batches/{batch['id']}").status_code == 404


def test_measurements(api: httpx.Client, spec_id: str) -> None:
    instance = post(api, f"/cell_specifications/{spec_id}/cell_instances", {"name": "C1"})
    create_url = f"/cell_instances/{instance['id']}/cell_measurements/create"
    body = {
        "name": "thick",
        "measurement_type": "properties",
        "properties": {"t": {"value": 1, "unit": "mm"}},
        "notes": "n",
        "start_time": "2026-01-02T03:04:05Z",
        "tags": [" b ", "a", "B"],
    }
    measurement = post(api, create_url, body)
    assert measurement["cell_instance_id"] == instance["id"]
    assert measurement["measurement_type"] == "properties"
    assert measurement["tags"] == ["a", "b"] and measurement["processing_status"] == "ready"
    assert measurement["properties"] == body["properties"]
    assert post(api, create_url, body, 409)["detail"] == {"existing_id": measurement["id"]}
    post(api, create_url, {"name": "bad", "properties": {"t": 1}}, 422)
    post(api, create_url, {"name": "ts", "measurement_type": "time_series", "properties": {}}, 422)
    post(
        api,
        create_url,
        {"name": "late", "properties": {}, "start_time": "2026-01-02", "end_time": "2026-01-01"},
        400,
    )
    url = f"/cell_measurements/{measurement['id']}"
    patched = api.patch(url, json={"tags": ["z"], "notes": None}).json()
    assert (patched["tags"], patched["notes"]) == (["z"], None)
    assert patched["updated_at"] > measurement["updated_at"]
    assert api.get(url).json() == patched
    for number in range(3):
        post(api, create_url, {"name": f"m{number}", "properties": {}, "tags": [f"t{number}"]})
    list_url = f"/cell_instances/{instance['id']}/cell_measurements"
    listed = api.get(list_url).json()
    assert (listed["count"], listed["total"]) == (4, 4)
    assert api.get(list_url, params={"limit": 5000}).json()["count"] == 4
    assert api.get(list_url, params={"limit": 0}).status_code == 422
    tagged = api.get(list_url, params=[("tags_any", "T1"), ("tags_any", "z")]).json()
    assert sorted(item["name"] for item in tagged["items"]) == ["m1", "thick"]
    started = api.get(list_url, params={"start_time_gt": "2026-01-01"}).json()
    assert [item["name"] for item in started["items"]] == ["thick"]
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404
    remaining = api.get(list_url).json()["items"]
    oldest_first = [item["id"] for item in reversed(remaining)]
    assert api.get(f"/cell_instances/{instance['id']}").json()["measurement_ids"] == oldest_first
    assert api.delete(f"/cell_instances/{instance['id']}").status_code == 204
    assert {api.get(f"/cell_measurements/{item['id']}").status_code for item in remaining} == {404}
