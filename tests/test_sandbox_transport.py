"""Sandbox transport rules (contract sections 1 and 9): auth, headers, bodies, validation."""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from reconciler.sandbox.server import SandboxServer

Q = {"value": 1, "unit": "mm"}
RATINGS = {
    "capacity": {"value": 2, "unit": "A*h"},
    "voltage_min": {"value": 2.5, "unit": "V"},
    "voltage_max": {"value": 4.2, "unit": "V"},
}


@pytest.fixture
def api(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=sandbox.url, headers={"X-API-Key": sandbox.api_key}, timeout=10
    ) as client:
        yield client


def post_spec(api: httpx.Client, project_id: str, **fields: Any) -> httpx.Response:
    return api.post(
        "/cell_specifications", json={"name": "Coin", "project_id": project_id, **fields}
    )


def test_credentials(sandbox: SandboxServer) -> None:
    unauthorized = {"error_code": "UNAUTHORIZED", "detail": None}
    with httpx.Client(base_url=sandbox.url) as anonymous:
        for headers in (
            {},
            {"X-API-Key": "wrong"},
            {"Authorization": "Bearer wrong"},
            {"Authorization": f"Basic {sandbox.api_key}"},
        ):
            response = anonymous.get("/cell_specifications", headers=headers)
            assert response.status_code == 401, headers
            body = response.json()
            assert {k: body[k] for k in unauthorized} == unauthorized and body["message"]
            assert sandbox.api_key not in response.text
        bearer = {"Authorization": f"Bearer {sandbox.api_key}"}
        assert anonymous.get("/cell_specifications", headers=bearer).status_code == 200
        keyed = {"X-API-Key": sandbox.api_key}
        assert anonymous.get("/cell_specifications", headers=keyed).status_code == 200
        assert anonymous.get("/_sandbox/requests").status_code == 401
        assert anonymous.get("/healthz").status_code == 200


def test_exact_content_type_and_correlation_ids(api: httpx.Client, sandbox: SandboxServer) -> None:
    created = post_spec(api, sandbox.project_id)
    responses = [
        created,
        post_spec(api, sandbox.project_id),
        api.get("/cell_specifications"),
        api.get("/cell_specifications/unknown"),
        api.get("/no/such/route"),
        api.get("/cell_specifications", params={"limit": 0}),
        api.get("/cell_specifications", headers={"X-API-Key": "wrong"}),
        api.post("/cell_specifications", content=b"{not json"),
        api.get("/_sandbox/requests"),
    ]
    assert [r.status_code for r in responses] == [201, 409, 200, 404, 404, 422, 401, 422, 200]
    for response in responses:
        assert response.headers["content-type"] == "application/json", response.request.url
    deleted = api.delete(f"/cell_specifications/{created.json()['id']}")
    assert deleted.status_code == 204 and deleted.content == b""
    ids = [r.headers["x-correlation-id"] for r in [*responses, deleted]]
    assert len({str(uuid.UUID(ident)) for ident in ids}) == len(ids)


def test_gzip_request_bodies(api: httpx.Client, sandbox: SandboxServer) -> None:
    spec = {"name": "Zipped", "project_id": sandbox.project_id, "notes": "x" * 600_000}
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    body = gzip.compress(json.dumps(spec).encode(), compresslevel=1)
    created = api.post("/cell_specifications", content=body, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["notes"] == spec["notes"]
    patch = gzip.compress(json.dumps({"notes": "small"}).encode())
    url = f"/cell_specifications/{created.json()['id']}"
    assert api.patch(url, content=patch, headers=headers).json()["notes"] == "small"
    broken = api.patch(url, content=b"not gzip", headers=headers)
    assert broken.status_code == 400 and broken.json()["error_code"] == "BAD_REQUEST"


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_are_refused(
    api: httpx.Client, sandbox: SandboxServer, token: str
) -> None:
    properties = '{"t": {"value": ' + token + ', "unit": "mm"}}'
    raw = f'{{"name": "Coin", "project_id": "{sandbox.project_id}", "properties": {properties}}}'
    response = api.post("/cell_specifications", content=raw)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body"] and error["type"] == "finite_number"
    assert api.get("/cell_specifications").json()["total"] == 0


def test_quantity_rules(api: httpx.Client, sandbox: SandboxServer) -> None:
    props = ["body", "properties"]
    bad_cases: list[tuple[dict[str, Any], list[str | int]]] = [
        ({"properties": {"porosity": 0.3}}, [*props, "porosity"]),
        ({"properties": {"coating": {"loading": 12}}}, [*props, "coating", "loading"]),
        ({"properties": {"layers": ["a", 2]}}, [*props, "layers", 1]),
        ({"properties": {"t": {"value": "thick", "unit": "mm"}}}, [*props, "t", "value"]),
        ({"properties": {"t": {"value": 1}}}, [*props, "t", "unit"]),
        ({"ratings": {**RATINGS, "energy": 9}}, ["body", "ratings", "energy"]),
        (
            {"ratings": {**RATINGS, "capacity": {"value": True, "unit": "A*h"}}},
            ["body", "ratings", "capacity", "value"],
        ),
        (
            {"ratings": {**RATINGS, "power": {"value": 1, "unit": "W"}}},
            ["body", "ratings", "power"],
        ),
        ({"anode": {"properties": {"diameter": 15}}}, ["body", "anode", "properties", "diameter"]),
        (
            {"anode": {"material": {"name": "G", "definition": {"d50": 15}}}},
            ["body", "anode", "material", "definition", "d50"],
        ),
    ]
    for fields, loc in bad_cases:
        response = post_spec(api, sandbox.project_id, **fields)
        assert response.status_code == 422, fields
        errors = response.json()["detail"]
        assert [error["loc"] for error in errors] == [loc], fields
        assert {"loc", "msg", "type"} <= errors[0].keys()
    fine = {
        "properties": {
            "binder": "PVDF",
            "calendered": True,
            "solvents": ["EC", "EMC"],
            "coating": {"loading": {"value": 12, "unit": "mg/cm**2"}},
            "note": None,
        },
        "ratings": RATINGS,
    }
    created = post_spec(api, sandbox.project_id, **fine)
    assert created.status_code == 201, created.text
    assert created.json()["properties"] == fine["properties"]
    patch = api.patch(
        f"/cell_specifications/{created.json()['id']}", json={"properties": {"porosity": 30}}
    )
    assert patch.status_code == 422
    assert patch.json()["detail"][0]["loc"] == ["body", "properties", "porosity"]


def test_the_key_never_reaches_the_journal(api: httpx.Client, sandbox: SandboxServer) -> None:
    post_spec(api, sandbox.project_id)
    api.get("/cell_specifications", headers={"X-API-Key": "wrong"})
    journal = api.get("/_sandbox/requests")
    assert [item["status"] for item in journal.json()["items"]] == [201, 401]
    assert sandbox.api_key not in journal.text
    assert sandbox.api_key not in repr(sandbox) + repr(sandbox.settings)
