"""Behaviour switches for what the contract leaves open: list order, write answers, the viewer
key, strict text, and changing switches at runtime (issues 14 and 15)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from typing import Any

import httpx
import pytest
from helpers import Api

from reconciler.sandbox.server import SandboxServer

Factory = Callable[..., SandboxServer]
SLOTS = ("anode", "cathode", "electrolyte", "separator", "case")
Q = {"value": 1, "unit": "mm"}
SPEC = {
    "ratings": {
        "capacity": {"value": 2, "unit": "A*h"},
        "voltage_min": {"value": 2.5, "unit": "V"},
        "voltage_max": {"value": 4.2, "unit": "V"},
    },
    "anode": {"properties": {"t": Q}, "material": {"name": "Graphite"}},
}


@pytest.fixture
def client_for() -> Iterator[Callable[..., httpx.Client]]:
    """httpx clients on sandboxes, closed at the end (``key`` defaults to the API key)."""
    opened: list[Api] = []

    def open_client(server: SandboxServer, key: str | None = None) -> httpx.Client:
        api = Api(server)
        if key is not None:
            api.http.headers["X-API-Key"] = key
        opened.append(api)
        return api.http

    yield open_client
    for api in opened:
        api.close()


def create(api: httpx.Client, server: SandboxServer, name: str, **fields: Any) -> dict[str, Any]:
    response = api.post(
        "/cell_specifications", json={"name": name, "project_id": server.project_id, **fields}
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def names(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["items"]]


# -- list order ---------------------------------------------------------------------------------


def test_stable_order_repeats_and_pages_partition(
    sandbox_factory: Factory, client_for: Callable[..., httpx.Client]
) -> None:
    server = sandbox_factory()
    api = client_for(server)
    made = [create(api, server, f"s{number:02d}")["id"] for number in range(30)]
    pages = [
        ids(api.get("/cell_specifications", params={"limit": 10, "offset": offset}))
        for offset in (0, 10, 20)
    ]
    assert [ident for page in pages for ident in page] == made[::-1]
    assert ids(api.get("/cell_specifications", params={"limit": 10})) == pages[0]


def test_unstable_order_cuts_each_page_from_a_fresh_shuffle(
    sandbox_factory: Factory, client_for: Callable[..., httpx.Client]
) -> None:
    server = sandbox_factory(list_order="unstable", seed=7)
    api = client_for(server)
    made = {create(api, server, f"s{number:02d}")["id"] for number in range(30)}
    first = [ids(api.get("/cell_specifications", params={"limit": 10})) for _ in range(5)]
    assert len({tuple(page) for page in first}) == 5  # each request reshuffles
    walk = [
        api.get("/cell_specifications", params={"limit": 10, "offset": offset}).json()
        for offset in (0, 10, 20)
    ]
    assert [page["total"] for page in walk] == [30, 30, 30]
    seen = [item["id"] for page in walk for item in page["items"]]
    assert len(seen) == 30 and set(seen) <= made
    assert len(set(seen)) < 30  # an offset walk skips and repeats rows, as LIMIT/OFFSET may
    by_name = {"order_by": "name", "order": "asc", "limit": 10}
    ordered = [names(api.get("/cell_specifications", params=by_name)) for _ in range(3)]
    assert ordered == [[f"s{number:02d}" for number in range(10)]] * 3


def test_unstable_order_is_reproducible_from_the_seed(
    sandbox_factory: Factory, client_for: Callable[..., httpx.Client]
) -> None:
    runs = []
    for _ in range(2):
        server = sandbox_factory(list_order="unstable", seed=11)
        api = client_for(server)
        for number in range(12):
            create(api, server, f"s{number:02d}")
        runs.append([names(api.get("/cell_specifications", params={"limit": 5})) for _ in range(4)])
    assert runs[0] == runs[1]


def test_unstable_order_reaches_every_list_endpoint(
    sandbox_factory: Factory, client_for: Callable[..., httpx.Client]
) -> None:
    server = sandbox_factory(list_order="unstable", seed=3)
    api = client_for(server)
    spec = create(api, server, "Coin", **SPEC)
    for number in range(2, 21):
        create(api, server, f"other-{number}", anode={"material": {"name": f"M{number}"}})
    assert api.post(
        "/_sandbox/seed",
        json={"spec_id": spec["id"], "instances": 20, "measurements": 0, "batches": 20},
    ).is_success
    instance = api.get(f"/cell_specifications/{spec['id']}/cell_instances").json()["items"][0]
    for number in range(20):
        measurement = {"name": f"m{number:02d}", "properties": {"t": Q}}
        url = f"/cell_instances/{instance['id']}/cell_measurements/create"
        assert api.post(url, json=measurement).status_code == 201
    for url in (
        "/cell_specifications",
        "/materials",
        f"/cell_specifications/{spec['id']}/cell_instances",
        f"/cell_specifications/{spec['id']}/cell_batches",
        f"/cell_instances/{instance['id']}/cell_measurements",
    ):
        orders = {tuple(ids(api.get(url))) for _ in range(3)}
        assert len(orders) == 3, url
        assert {len(order) for order in orders} == {20}, url
        by_created = [ids(api.get(url, params={"order_by": "created_at"})) for _ in range(2)]
        assert by_created[0] == by_created[1], url


def test_list_order_switches_at_runtime(
    sandbox: SandboxServer, client_for: Callable[..., httpx.Client]
) -> None:
    api = client_for(sandbox)
    for number in range(15):
        create(api, sandbox, f"s{number:02d}")
    stable = [ids(api.get("/cell_specifications")) for _ in range(2)]
    assert stable[0] == stable[1]
    changed = api.put("/_sandbox/behaviour", json={"list_order": "unstable", "seed": 5})
    assert changed.json()["list_order"] == "unstable"
    assert len({tuple(ids(api.get("/cell_specifications"))) for _ in range(3)}) == 3


# -- write answers ------------------------------------------------------------------------------


def test_metadata_write_answers(
    sandbox_factory: Factory, client_for: Callable[..., httpx.Client]
) -> None:
    server = sandbox_factory(write_response="metadata")
    api = client_for(server)
    created = create(api, server, "Coin", **SPEC)
    assert not any(slot in created for slot in SLOTS)
    assert created["anode_id"] is not None and created["ratings"] == SPEC["ratings"]
    url = f"/cell_specifications/{created['id']}"
    patched = api.patch(url, json={"notes": "n"}).json()
    assert not any(slot in patched for slot in SLOTS) and patched["notes"] == "n"
    full = api.get(url).json()
    assert full["anode"]["properties"] == {"t": Q}
    assert {k: v for k, v in full.items() if k not in SLOTS} == patched
    listed = api.get("/cell_specifications").json()["items"]
    assert listed == [patched]
    api.put("/_sandbox/behaviour", json={"write_response": "full"})
    assert api.patch(url, json={"notes": "m"}).json()["anode"] == full["anode"]


# -- the viewer key -----------------------------------------------------------------------------


def test_the_viewer_key_reads_but_never_writes(
    sandbox_factory: Factory, client_for: Callable[..., httpx.Client]
) -> None:
    server = sandbox_factory(viewer_key="viewer-123")
    owner, viewer = client_for(server), client_for(server, key="viewer-123")
    spec = create(owner, server, "Coin", **SPEC)
    url = f"/cell_specifications/{spec['id']}"
    assert viewer.get(url).json() == owner.get(url).json()
    for read in ("/cell_specifications", "/projects", "/materials", "/users/me"):
        assert viewer.get(read).status_code == 200, read
    forbidden = {
        "error_code": "FORBIDDEN",
        "message": "Your role in this project (viewer) may read but not write",
        "detail": None,
    }
    attempts = [
        viewer.post("/cell_specifications", json={"name": "x", "project_id": server.project_id}),
        viewer.patch(url, json={"notes": "mine"}),
        viewer.delete(url),
        viewer.post(f"{url}/cell_instances", json={"name": "C1"}),
        viewer.get("/_sandbox/requests"),
        viewer.put("/_sandbox/behaviour", json={"patch_mode": "merge"}),
    ]
    for response in attempts:
        assert response.status_code == 403, response.request.url
        assert response.json() == forbidden
    assert owner.get(url).json() == spec
    assert owner.get("/_sandbox/behaviour").json()["patch_mode"] == "replace"
    wrong = client_for(server, key="viewer-1234")
    assert wrong.get("/cell_specifications").status_code == 401
    journal = owner.get("/_sandbox/requests").json()["items"]
    assert [entry["status"] for entry in journal if entry["method"] != "GET"] == [
        201,
        403,
        403,
        403,
        403,
    ]


# -- strict text --------------------------------------------------------------------------------


def nul_cases(project_id: str) -> list[dict[str, Any]]:
    return [
        {"name": "a\u0000b", "project_id": project_id},
        {"name": "ok", "project_id": project_id, "notes": "\u0000"},
        {"name": "ok", "project_id": project_id, "properties": {"k\u0000": "v"}},
        {"name": "ok", "project_id": project_id, "source": {"citation": ["x", "y\u0000"]}},
    ]


def test_strict_text_refuses_nul_as_the_database_would(
    sandbox_factory: Factory,
    client_for: Callable[..., httpx.Client],
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = sandbox_factory(strict_text=True)
    api = client_for(server)
    for body in nul_cases(server.project_id):
        response = api.post("/cell_specifications", json=body)
        assert response.status_code == 500, body
        error = response.json()
        assert error["error_code"] == "INTERNAL_ERROR" and error["detail"] is None
        assert error["message"].startswith("Database error: ") and "NUL" in error["message"]
    assert api.get("/cell_specifications").json()["total"] == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_without_strict_text_nul_is_stored(
    sandbox: SandboxServer, client_for: Callable[..., httpx.Client]
) -> None:
    api = client_for(sandbox)
    created = api.post("/cell_specifications", json=nul_cases(sandbox.project_id)[0])
    assert created.status_code == 201 and created.json()["name"] == "a\u0000b"


@pytest.mark.parametrize(
    ("fields", "loc", "limit"),
    [
        ({"name": "n" * 256}, ["body", "name"], 255),
        ({"notes": "n" * 10_001}, ["body", "notes"], 10_000),
        ({"properties": {"k" * 10_001: "v"}}, ["body", "properties", "k" * 10_001], 10_000),
        (
            {"anode": {"material": {"name": "m" * 256}}},
            ["body", "anode", "material", "name"],
            255,
        ),
    ],
)
def test_strict_text_refuses_long_strings(
    sandbox_factory: Factory,
    client_for: Callable[..., httpx.Client],
    fields: dict[str, Any],
    loc: list[str],
    limit: int,
) -> None:
    server = sandbox_factory(strict_text=True)
    api = client_for(server)
    response = api.post(
        "/cell_specifications", json={"name": "ok", "project_id": server.project_id, **fields}
    )
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert (error["loc"], error["type"]) == (loc, "string_too_long")
    assert error["msg"] == f"String should have at most {limit} characters"
    at_limit = create(api, server, "n" * 255, notes="n" * 10_000, properties={"k" * 10_000: "v"})
    assert at_limit["name"] == "n" * 255


# -- behaviour route and projects ---------------------------------------------------------------


def test_the_behaviour_route(
    sandbox: SandboxServer, client_for: Callable[..., httpx.Client]
) -> None:
    api = client_for(sandbox)
    defaults = {
        "patch_mode": "replace",
        "list_order": "stable",
        "write_response": "full",
        "nested_null": "clear",
        "material_upsert": "update",
        "strict_text": False,
        "ratings_required": True,
    }
    assert api.get("/_sandbox/behaviour").json() == defaults
    changed = api.put("/_sandbox/behaviour", json={"strict_text": True, "nested_null": "reject"})
    assert changed.json() == {**defaults, "strict_text": True, "nested_null": "reject"}
    for bad in ({"patch_mode": "deep"}, {"colour": "red"}, {"strict_text": "maybe"}):
        assert api.put("/_sandbox/behaviour", json=bad).status_code == 422, bad
    assert api.get("/_sandbox/behaviour").json() == changed.json()
    refused = api.post("/cell_specifications", json=nul_cases(sandbox.project_id)[0])
    assert refused.status_code == 500


def test_unknown_and_foreign_projects_are_404(
    sandbox: SandboxServer, client_for: Callable[..., httpx.Client]
) -> None:
    api = client_for(sandbox)
    other = api.post("/_sandbox/projects", json={"name": "theirs"}).json()["id"]
    assert api.get(f"/projects/{other}").status_code == 200
    with closing(sqlite3.connect(sandbox.settings.db_path)) as conn, conn:
        conn.execute("UPDATE projects SET organization_id = 'another-org' WHERE id = ?", (other,))
    for project_id in ("no-such-project", other):
        response = api.get(f"/projects/{project_id}")
        assert response.status_code == 404
        assert response.json() == {
            "error_code": "NOT_FOUND",
            "message": f"Project '{project_id}' does not exist or is not visible to you",
            "detail": None,
        }
    assert [p["id"] for p in api.get("/projects").json()["items"]] == [sandbox.project_id]
