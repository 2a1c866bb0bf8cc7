"""Sandbox conformance for cell specifications (contract sections 2-4 and 8), over real HTTP."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from typing import Any

import httpx
import pytest

from reconciler.sandbox.server import SandboxServer

INSTANT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")
SERVER_FIELDS = {
    "id",
    "project_id",
    "organization_id",
    "instance_ids",
    "created_by",
    "created_by_email",
    "created_at",
    "updated_at",
}
SLOTS = ("anode", "cathode", "electrolyte", "separator", "case")


def q(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit}


RATINGS = {"capacity": q(2.5, "A*h"), "voltage_min": q(2.5, "V"), "voltage_max": q(4.2, "V")}
GRAPHITE = {"name": "Graphite", "manufacturer": "Customcells", "definition": {"type": "graphite"}}


def spec_body(name: str, project_id: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "project_id": project_id,
        "form_factor": "R2032",
        "ratings": dict(RATINGS),
        "anode": {"properties": {"diameter": q(15, "mm"), "binder": "PVDF"}, "material": GRAPHITE},
        "cathode": {"properties": {"diameter": q(14, "mm")}, "material": {"name": "NMC811"}},
        "separator": {"properties": {"thickness": q(25, "um")}},
    }
    body.update(extra)
    return body


def make_client(server: SandboxServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"X-API-Key": server.api_key}, timeout=10)


@pytest.fixture
def api(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with make_client(sandbox) as client:
        yield client


def create(api: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post("/cell_specifications", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def names(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["items"]]


def test_create_returns_the_full_shape(api: httpx.Client, sandbox: SandboxServer) -> None:
    spec = create(api, spec_body("Coin A", sandbox.project_id))
    assert spec.keys() >= SERVER_FIELDS
    assert spec["project_id"] == sandbox.project_id
    assert spec["instance_ids"] == []
    assert INSTANT.match(spec["created_at"]) and spec["created_at"] == spec["updated_at"]
    assert spec["ratings"] == RATINGS
    anode = spec["anode"]
    assert spec["anode_id"] == anode["id"]
    assert set(anode) == {
        "id",
        "component_type",
        "material_id",
        "organization_id",
        "created_at",
        "updated_at",
        "properties",
        "material",
    }
    assert anode["component_type"] == "anode"
    assert anode["properties"] == {"diameter": q(15, "mm"), "binder": "PVDF"}
    assert set(anode["material"]) == {
        "id",
        "name",
        "manufacturer",
        "product_id",
        "definition",
        "organization_id",
        "created_at",
        "updated_at",
    }
    assert anode["material"]["id"] == anode["material_id"]
    assert anode["material"]["definition"] == {"type": "graphite"}
    assert spec["separator"]["material"] is None and spec["separator"]["material_id"] is None
    assert spec["electrolyte_id"] is None and spec["electrolyte"] is None
    assert api.get(f"/cell_specifications/{spec['id']}").json() == spec


def test_list_pages_and_clamps_limit(api: httpx.Client, sandbox: SandboxServer) -> None:
    for number in range(105):
        create(api, {"name": f"spec-{number:03d}", "project_id": sandbox.project_id})
    default = api.get("/cell_specifications").json()
    assert (default["count"], default["total"], len(default["items"])) == (100, 105, 100)
    clamped = api.get("/cell_specifications", params={"limit": 500}).json()
    assert (clamped["count"], clamped["total"]) == (100, 105)
    tail = api.get("/cell_specifications", params={"limit": 100, "offset": 100}).json()
    assert (tail["count"], tail["total"]) == (5, 105)
    seen = {item["id"] for item in clamped["items"]} | {item["id"] for item in tail["items"]}
    assert len(seen) == 105
    beyond = api.get("/cell_specifications", params={"offset": 200}).json()
    assert (beyond["items"], beyond["total"]) == ([], 105)
    for bad in ({"limit": 0}, {"offset": -1}, {"limit": "x"}, {"order_by": "id"}):
        response = api.get("/cell_specifications", params=bad)
        assert response.status_code == 422, bad
        assert isinstance(response.json()["detail"], list)


def test_default_order_is_newest_first_and_order_by_works(
    api: httpx.Client, sandbox: SandboxServer
) -> None:
    for name in ("b", "c", "a"):
        create(api, {"name": name, "project_id": sandbox.project_id})
    assert names(api.get("/cell_specifications")) == ["a", "c", "b"]
    assert names(api.get("/cell_specifications", params={"order": "asc"})) == ["b", "c", "a"]
    by_name = {"order_by": "name", "order": "asc"}
    assert names(api.get("/cell_specifications", params=by_name)) == ["a", "b", "c"]
    api.patch(
        "/cell_specifications/" + api.get("/cell_specifications").json()["items"][2]["id"],
        json={"notes": "touched"},
    )
    by_update = {"order_by": "updated_at", "order": "desc"}
    assert names(api.get("/cell_specifications", params=by_update))[0] == "b"


NAME_FILTERS = [
    ("eq.a_b", ["a_b"]),
    ("a_b", ["a_b"]),
    ("eq.A_B", []),
    ("ilike.%a_b%", ["a_b", "axb", "xA-B"]),
    ("ilike.*A_b*", ["a_b", "axb", "xA-B"]),
    ("like.%a_b%", ["a_b", "axb"]),
    ("ilike.a%", ["a_b", "axb", "ab", "a%c"]),
    ("neq.ab", ["a_b", "axb", "xA-B", "a%c"]),
    ("ilike.a\\%c", ["a%c"]),
    ("ilike.a\\_b", ["a_b"]),
]


def test_name_filters_follow_postgrest(api: httpx.Client, sandbox: SandboxServer) -> None:
    for name in ("a_b", "axb", "xA-B", "ab", "a%c"):
        create(api, {"name": name, "project_id": sandbox.project_id})
    for name_filter, expected in NAME_FILTERS:
        params = {"name": name_filter, "order_by": "created_at", "order": "asc"}
        assert names(api.get("/cell_specifications", params=params)) == expected, name_filter
    repeated = httpx.QueryParams([("name", "ilike.a%"), ("name", "ilike.%b"), ("order", "asc")])
    assert names(api.get("/cell_specifications", params=repeated)) == ["a_b", "axb", "ab"]


def test_other_filters(api: httpx.Client, sandbox: SandboxServer) -> None:
    other = api.post("/_sandbox/projects", json={"name": "second"}).json()["id"]
    first = create(api, {"name": "one", "project_id": sandbox.project_id, "form_factor": "R2032"})
    create(api, {"name": "two", "project_id": sandbox.project_id, "form_factor": "pouch"})
    third = create(api, {"name": "one", "project_id": other, "form_factor": "R2032"})
    listed = api.get("/cell_specifications", params={"form_factor": "eq.R2032"}).json()
    assert {item["id"] for item in listed["items"]} == {first["id"], third["id"]}
    assert names(api.get("/cell_specifications", params={"project_id": other})) == ["one"]
    identity = {"name": "eq.one", "project_id": sandbox.project_id}
    assert [i["id"] for i in api.get("/cell_specifications", params=identity).json()["items"]] == [
        first["id"]
    ]
    after_first = {"created_at_gt": first["created_at"], "order": "asc"}
    assert names(api.get("/cell_specifications", params=after_first)) == ["two", "one"]
    assert (
        names(api.get("/cell_specifications", params={"created_at_lt": first["created_at"]})) == []
    )
    before_third = [("created_at_lt", third["created_at"]), ("created_at_gt", "2000-01-01")]
    assert names(api.get("/cell_specifications", params=before_third)) == ["two", "one"]
    api.patch(f"/cell_specifications/{first['id']}", json={"notes": "x"})
    recent = {"updated_at_gt": third["updated_at"]}
    assert [i["id"] for i in api.get("/cell_specifications", params=recent).json()["items"]] == [
        first["id"]
    ]
    bad = api.get("/cell_specifications", params={"updated_at_lt": "yesterday"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "updated_at_lt"]


def test_full_versus_metadata_only(api: httpx.Client, sandbox: SandboxServer) -> None:
    spec = create(api, spec_body("Coin", sandbox.project_id))
    (bare,) = api.get("/cell_specifications").json()["items"]
    (full,) = api.get("/cell_specifications", params={"full": "true"}).json()["items"]
    assert full == spec
    assert not any(slot in bare for slot in SLOTS)
    assert bare["anode_id"] == spec["anode_id"] and bare.keys() >= SERVER_FIELDS
    assert bare == {key: value for key, value in spec.items() if key not in SLOTS}


def test_material_filters_for_related_specs(api: httpx.Client, sandbox: SandboxServer) -> None:
    first = create(api, spec_body("one", sandbox.project_id))
    second = create(api, spec_body("two", sandbox.project_id))
    create(api, {"name": "bare", "project_id": sandbox.project_id})
    graphite = first["anode"]["material_id"]
    assert second["anode"]["material_id"] == graphite
    params = {"material_ids": graphite, "exclude_cell_spec_id": first["id"]}
    assert names(api.get("/cell_specifications", params=params)) == ["two"]
    assert names(api.get("/cell_specifications", params={"cathode_material_id": graphite})) == []
    assert len(names(api.get("/cell_specifications", params={"material_id": graphite}))) == 2


def test_duplicate_name_conflict_body(api: httpx.Client, sandbox: SandboxServer) -> None:
    spec = create(api, spec_body("Coin", sandbox.project_id))
    response = api.post("/cell_specifications", json=spec_body("Coin", sandbox.project_id))
    assert response.status_code == 409
    assert response.json() == {
        "error_code": "CONFLICT",
        "message": "Cell specification 'Coin' already exists in this project",
        "detail": {"existing_id": spec["id"]},
    }
    other = create(api, {"name": "Other", "project_id": sandbox.project_id})
    rename = api.patch(f"/cell_specifications/{other['id']}", json={"name": "Coin"})
    assert rename.status_code == 409 and rename.json()["detail"] == {"existing_id": spec["id"]}
    same = api.patch(f"/cell_specifications/{spec['id']}", json={"name": "Coin"})
    assert same.status_code == 200


def test_create_needs_a_known_project(api: httpx.Client, sandbox: SandboxServer) -> None:
    missing = api.post("/cell_specifications", json={"name": "x"})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "project_id"]
    unknown = api.post("/cell_specifications", json={"name": "x", "project_id": "nope"})
    assert unknown.status_code == 404 and unknown.json()["error_code"] == "NOT_FOUND"
    extra = api.post(
        "/cell_specifications", json={"name": "x", "project_id": sandbox.project_id, "colour": 1}
    )
    assert extra.status_code == 422 and extra.json()["detail"][0]["loc"] == ["body", "colour"]


def test_ratings_core_keys_required_on_create(
    sandbox_factory: Callable[..., SandboxServer],
) -> None:
    partial = {"capacity": q(1, "A.h")}
    strict = sandbox_factory()
    with make_client(strict) as api:
        response = api.post(
            "/cell_specifications",
            json={"name": "x", "project_id": strict.project_id, "ratings": partial},
        )
        assert response.status_code == 422
        locs = [error["loc"] for error in response.json()["detail"]]
        assert locs == [["body", "ratings", "voltage_min"], ["body", "ratings", "voltage_max"]]
    lenient = sandbox_factory(ratings_required=False)
    with make_client(lenient) as api:
        body = {"name": "x", "project_id": lenient.project_id, "ratings": partial}
        assert api.post("/cell_specifications", json=body).status_code == 201


@pytest.mark.parametrize("mode", ["replace", "merge"])
def test_patch_nested_ratings_by_mode(
    sandbox_factory: Callable[..., SandboxServer], mode: str
) -> None:
    server = sandbox_factory(patch_mode=mode)
    with make_client(server) as api:
        ratings = {**RATINGS, "energy": q(9, "W.h")}
        spec = create(api, spec_body("Coin", server.project_id, ratings=ratings))
        patch = {
            "ratings": {
                "capacity": q(3, "A*h"),
                "voltage_min": q(2.7, "V"),
                "voltage_max": q(4.2, "V"),
            }
        }
        patched = api.patch(f"/cell_specifications/{spec['id']}", json=patch).json()
        if mode == "replace":
            assert patched["ratings"] == patch["ratings"]
        else:
            assert patched["ratings"] == {**ratings, **patch["ratings"]}
            removed = api.patch(
                f"/cell_specifications/{spec['id']}", json={"ratings": {"energy": None}}
            ).json()
            assert "energy" not in removed["ratings"]
            assert removed["ratings"]["capacity"] == q(3, "A*h")
        assert patched["form_factor"] == "R2032" and patched["anode_id"] == spec["anode_id"]


def test_merge_mode_deep_merges_component_properties(
    sandbox_factory: Callable[..., SandboxServer],
) -> None:
    server = sandbox_factory(patch_mode="merge")
    with make_client(server) as api:
        spec = create(api, spec_body("Coin", server.project_id))
        patch = {"anode": {"properties": {"diameter": q(16, "mm")}}}
        patched = api.patch(f"/cell_specifications/{spec['id']}", json=patch).json()
        assert patched["anode"]["properties"] == {"diameter": q(16, "mm"), "binder": "PVDF"}
        assert patched["anode"]["material_id"] == spec["anode"]["material_id"]


def test_patch_only_touches_given_fields_and_null_clears(
    api: httpx.Client, sandbox: SandboxServer
) -> None:
    spec = create(api, spec_body("Coin", sandbox.project_id, notes="n", manufacturer="M"))
    url = f"/cell_specifications/{spec['id']}"
    patched = api.patch(url, json={"notes": None, "anode": None, "properties": None}).json()
    assert patched["notes"] is None and patched["properties"] is None
    assert patched["anode_id"] is None and patched["anode"] is None
    assert patched["manufacturer"] == "M" and patched["cathode"] == spec["cathode"]
    assert patched["ratings"] == spec["ratings"]
    for body in ({"name": None}, {"project_id": sandbox.project_id}, {"colour": "red"}):
        response = api.patch(url, json=body)
        assert response.status_code == 422, body
        assert response.json()["detail"][0]["loc"] == ["body", next(iter(body))]


def test_updated_at_strictly_increases(api: httpx.Client, sandbox: SandboxServer) -> None:
    spec = create(api, {"name": "Coin", "project_id": sandbox.project_id})
    stamps = [spec["updated_at"]]
    for _ in range(20):
        stamps.append(api.patch(f"/cell_specifications/{spec['id']}", json={}).json()["updated_at"])
    assert all(INSTANT.match(stamp) for stamp in stamps)
    assert stamps == sorted(set(stamps))
    assert api.get(f"/cell_specifications/{spec['id']}").json()["created_at"] == spec["created_at"]


def test_components_are_shared_and_never_edited_in_place(
    api: httpx.Client, sandbox: SandboxServer
) -> None:
    first = create(api, spec_body("one", sandbox.project_id))
    second = create(api, spec_body("two", sandbox.project_id))
    for slot in ("anode", "cathode", "separator"):
        assert first[f"{slot}_id"] == second[f"{slot}_id"]
    new_anode = {"properties": {"diameter": q(16, "mm")}, "material": GRAPHITE}
    patched = api.patch(f"/cell_specifications/{first['id']}", json={"anode": new_anode}).json()
    assert patched["anode_id"] != first["anode_id"]
    assert patched["anode"]["properties"] == {"diameter": q(16, "mm")}
    assert patched["anode"]["material_id"] == first["anode"]["material_id"]
    untouched = api.get(f"/cell_specifications/{second['id']}").json()
    assert untouched["anode"] == second["anode"]
    back = api.patch(
        f"/cell_specifications/{first['id']}", json={"anode": spec_body("", "")["anode"]}
    )
    assert back.json()["anode_id"] == second["anode_id"]


def test_delete_cascades_to_cells_but_keeps_components(
    api: httpx.Client, sandbox: SandboxServer
) -> None:
    doomed = create(api, spec_body("doomed", sandbox.project_id))
    kept = create(api, spec_body("kept", sandbox.project_id))
    seeded = api.post(
        "/_sandbox/seed",
        json={"spec_id": doomed["id"], "instances": 3, "measurements": 2, "batches": 2},
    ).json()
    assert (seeded["instances"], seeded["measurements"], seeded["batches"]) == (3, 6, 2)
    instances = api.get(f"/cell_specifications/{doomed['id']}/cell_instances").json()["items"]
    batches = api.get(f"/cell_specifications/{doomed['id']}/cell_batches").json()["items"]
    measurement_ids = [m for item in instances for m in item["measurement_ids"]]
    assert (len(instances), len(batches), len(measurement_ids)) == (3, 2, 6)
    assert api.delete(f"/cell_specifications/{doomed['id']}").status_code == 204
    assert api.get(f"/cell_specifications/{doomed['id']}").status_code == 404
    gone = (
        [f"/cell_instances/{item['id']}" for item in instances]
        + [f"/cell_batches/{item['id']}" for item in batches]
        + [f"/cell_measurements/{ident}" for ident in measurement_ids]
    )
    assert {api.get(url).status_code for url in gone} == {404}
    assert api.get(f"/cell_specifications/{kept['id']}").json()["anode"] == kept["anode"]
    assert api.delete(f"/cell_specifications/{doomed['id']}").status_code == 404


def test_unknown_and_foreign_ids_are_404(api: httpx.Client, sandbox: SandboxServer) -> None:
    spec = create(api, {"name": "hidden", "project_id": sandbox.project_id})
    missing = api.get("/cell_specifications/no-such-id")
    assert missing.status_code == 404
    assert missing.json() == {
        "error_code": "NOT_FOUND",
        "message": "Cell specification 'no-such-id' does not exist or is not visible to you",
        "detail": None,
    }
    with closing(sqlite3.connect(sandbox.settings.db_path)) as conn, conn:
        conn.execute("UPDATE cell_specifications SET organization_id = 'another-org'")
    url = f"/cell_specifications/{spec['id']}"
    assert [api.get(url).status_code, api.patch(url, json={}).status_code] == [404, 404]
    assert api.delete(url).status_code == 404
    assert api.get("/cell_specifications").json()["total"] == 0


def test_projects_and_users(api: httpx.Client, sandbox: SandboxServer) -> None:
    projects = api.get("/projects").json()
    assert [p["id"] for p in projects["items"]] == [sandbox.project_id]
    assert projects["total"] == 1
    project = api.get(f"/projects/{sandbox.project_id}").json()
    assert {"id", "name", "organization_id"} <= project.keys()
    me = api.get("/users/me").json()
    assert me["authorized_organization"]["id"] == project["organization_id"]
    assert api.get("/projects/nope").status_code == 404


def test_concurrent_writes_and_reads_stay_consistent(sandbox: SandboxServer) -> None:
    def work(worker: int) -> list[int]:
        statuses = []
        with make_client(sandbox) as api:
            for number in range(10):
                body = spec_body(f"w{worker}-{number}", sandbox.project_id)
                statuses.append(api.post("/cell_specifications", json=body).status_code)
                statuses.append(
                    api.get("/cell_specifications", params={"full": "true"}).status_code
                )
        return statuses

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = [status for result in pool.map(work, range(8)) for status in result]
    assert set(statuses) == {200, 201}
    with make_client(sandbox) as api:
        listed = api.get("/cell_specifications", params={"full": "true", "limit": 100}).json()
    assert listed["total"] == 80
    assert len({item["anode_id"] for item in listed["items"]}) == 1
