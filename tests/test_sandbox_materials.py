"""Materials: how spec writes upsert them (material_upsert), the read-only routes (contract 4.3),
and raw specs stored as another client might have written them."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from typing import Any

import httpx
import pytest
from helpers import Api

from reconciler.sandbox.db import Database
from reconciler.sandbox.server import SandboxServer

Factory = Callable[..., SandboxServer]
Q = {"value": 15, "unit": "um"}
GRAPHITE = {
    "name": "Graphite",
    "manufacturer": "Customcells",
    "product_id": "G-1",
    "definition": {"type": "graphite", "d50": Q},
}


@pytest.fixture
def client_for() -> Iterator[Callable[[SandboxServer], httpx.Client]]:
    opened: list[Api] = []

    def open_client(server: SandboxServer) -> httpx.Client:
        opened.append(Api(server))
        return opened[-1].http

    yield open_client
    for api in opened:
        api.close()


def with_material(name: str, project_id: str, material: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "project_id": project_id, "anode": {"material": material}}


def create(api: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post("/cell_specifications", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def material_of(api: httpx.Client, spec: dict[str, Any]) -> dict[str, Any]:
    fetched = api.get(f"/cell_specifications/{spec['id']}").json()
    material: dict[str, Any] = fetched["anode"]["material"]
    return material


CHANGED = {
    **GRAPHITE,
    "product_id": "G-2",
    "definition": {"type": "graphite", "d50": {**Q, "value": 20}},
}


@pytest.mark.parametrize(
    ("mode", "first_sees", "shared"),
    [("update", CHANGED, True), ("keep-first", GRAPHITE, True), ("per-spec", GRAPHITE, False)],
)
def test_material_upsert_modes(
    sandbox_factory: Factory,
    client_for: Callable[[SandboxServer], httpx.Client],
    mode: str,
    first_sees: dict[str, Any],
    shared: bool,
) -> None:
    server = sandbox_factory(material_upsert=mode)
    api = client_for(server)
    first = create(api, with_material("one", server.project_id, GRAPHITE))
    second = create(api, with_material("two", server.project_id, CHANGED))
    one, two = material_of(api, first), material_of(api, second)
    assert (one["id"] == two["id"]) is shared
    assert {k: one[k] for k in ("product_id", "definition")} == {
        "product_id": first_sees["product_id"],
        "definition": first_sees["definition"],
    }
    second_sees = GRAPHITE if mode == "keep-first" else CHANGED
    assert (two["product_id"], two["definition"]) == (
        second_sees["product_id"],
        second_sees["definition"],
    )
    listed = api.get("/materials").json()
    assert listed["total"] == (1 if shared else 2)
    patched = api.patch(
        f"/cell_specifications/{second['id']}",
        json={"anode": {"material": {**GRAPHITE, "product_id": "G-3"}}},
    )
    assert patched.status_code == 200
    assert (material_of(api, first)["product_id"] == "G-3") is (mode == "update")


@pytest.mark.parametrize("mode", ["update", "keep-first", "per-spec"])
@pytest.mark.parametrize("left_out", [{}, {"definition": None, "product_id": None}])
def test_a_material_without_definition_never_wipes_it(
    sandbox_factory: Factory,
    client_for: Callable[[SandboxServer], httpx.Client],
    mode: str,
    left_out: dict[str, Any],
) -> None:
    server = sandbox_factory(material_upsert=mode)
    api = client_for(server)
    spec = create(api, with_material("one", server.project_id, GRAPHITE))
    bare = {"name": "Graphite", "manufacturer": "Customcells", **left_out}
    url = f"/cell_specifications/{spec['id']}"
    assert api.patch(url, json={"anode": {"material": bare}}).status_code == 200
    other = create(api, with_material("two", server.project_id, bare))
    for holder in (spec, other) if mode != "per-spec" else (spec,):
        kept = material_of(api, holder)
        assert (kept["product_id"], kept["definition"]) == ("G-1", GRAPHITE["definition"])


def test_material_routes(
    sandbox_factory: Factory, client_for: Callable[[SandboxServer], httpx.Client]
) -> None:
    server = sandbox_factory()
    api = client_for(server)
    other_project = api.post("/_sandbox/projects", json={"name": "second"}).json()["id"]
    spec = create(api, with_material("one", server.project_id, GRAPHITE))
    create(api, with_material("two", other_project, {"name": "NMC811"}))
    material = material_of(api, spec)
    fetched = api.get(f"/materials/{material['id']}").json()
    assert fetched == {**material, "project_id": server.project_id}
    listed = api.get("/materials", params={"project_id": server.project_id}).json()
    assert listed["total"] == 2 and listed["count"] == 2  # project_id does not filter
    assert [m["name"] for m in listed["items"]] == ["NMC811", "Graphite"]
    by_name = api.get("/materials", params={"order_by": "name", "order": "asc", "limit": 1})
    assert [m["name"] for m in by_name.json()["items"]] == ["Graphite"]
    assert api.get("/materials", params={"offset": 1}).json()["count"] == 1
    with closing(sqlite3.connect(server.settings.db_path)) as conn, conn:
        conn.execute("UPDATE materials SET organization_id = 'other' WHERE name = 'NMC811'")
    hidden = listed["items"][0]["id"]  # NMC811, the newest
    for missing in (hidden, "no-such-material"):
        response = api.get(f"/materials/{missing}")
        assert response.status_code == 404
        assert response.json() == {
            "error_code": "NOT_FOUND",
            "message": f"Material '{missing}' does not exist or is not visible to you",
            "detail": None,
        }
    assert api.get("/materials").json()["total"] == 1
    for write in (api.post, api.patch, api.delete):
        assert write(f"/materials/{material['id']}").status_code == 405


def test_an_older_database_gains_per_spec_materials(tmp_path: Any) -> None:
    path = tmp_path / "old.db"
    Database(path).close()
    with closing(sqlite3.connect(path)) as conn, conn:  # the schema before material scopes
        conn.execute("DROP INDEX materials_scoped_identity")
        conn.execute("ALTER TABLE materials DROP COLUMN scope")
        conn.execute(
            "CREATE UNIQUE INDEX materials_identity "
            "ON materials(project_id, name, ifnull(manufacturer, ''))"
        )
    Database(path).close()
    with closing(sqlite3.connect(path)) as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(materials)")]
        indexes = {row[1] for row in conn.execute("PRAGMA index_list(materials)")}
    assert columns[-1] == "scope"
    assert "materials_identity" not in indexes and "materials_scoped_identity" in indexes


def test_raw_specs_are_stored_as_sent(
    sandbox_factory: Factory, client_for: Callable[[SandboxServer], httpx.Client]
) -> None:
    server = sandbox_factory()
    api = client_for(server)
    odd: list[dict[str, Any]] = [
        {"name": "empty", "ratings": {}, "source": {}},
        {
            "name": "inverted",
            "ratings": {
                "capacity": {"value": -2, "unit": "A*h"},
                "voltage_min": {"value": 4.2, "unit": "V"},
                "voltage_max": {"value": 2.5, "unit": "V"},
            },
        },
        {"name": "odd units", "ratings": {"capacity": {"value": 5, "unit": "bananas"}}},
        {"name": "bare", "properties": {"porosity": 0.3}, "source": {"my_key": 1}},
        {"name": "no ratings"},
        {"name": "odd component", "anode": {"properties": {"d": 15}, "material": {"name": "G"}}},
    ]
    stored = []
    for body in odd:
        response = api.post("/_sandbox/raw_specs", json=body)
        assert response.status_code == 201, response.text
        stored.append(response.json())
        assert stored[-1]["project_id"] == server.project_id
    assert stored[4]["ratings"] is None and stored[4]["source"] is None
    for body, spec in zip(odd, stored, strict=True):
        fetched = api.get(f"/cell_specifications/{spec['id']}").json()
        assert fetched == spec
        for key in ("ratings", "properties", "source"):
            if key in body:
                assert fetched[key] == body[key]
    assert stored[5]["anode"]["properties"] == {"d": 15}
    listed = api.get("/cell_specifications", params={"full": "true"}).json()
    assert listed["total"] == len(odd)
    duplicate = api.post("/_sandbox/raw_specs", json={"name": "empty"})
    assert duplicate.status_code == 409
    assert api.post("/_sandbox/raw_specs", json={"name": "x", "colour": 1}).status_code == 422
    checked = {**odd[3], "name": "checked", "project_id": server.project_id}
    assert api.post("/cell_specifications", json=checked).status_code == 422
