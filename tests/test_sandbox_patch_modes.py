"""PATCH of nested objects (contract 8.2): complete deep merge, nulls inside nested objects, and
ratings that must keep their core keys (issue 15)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import closing
from typing import Any

import httpx
import pytest
from helpers import Api

from reconciler.sandbox.server import SandboxServer

Factory = Callable[..., SandboxServer]


def q(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit}


RATINGS = {"capacity": q(2, "A*h"), "voltage_min": q(2.5, "V"), "voltage_max": q(4.2, "V")}
BODY: dict[str, Any] = {
    "ratings": {**RATINGS, "energy": q(9, "W.h")},
    "properties": {"coating": {"loading": q(12, "mg/cm**2"), "method": "slot-die"}, "k": "v"},
    "source": {"citation": "paper", "creator": {"name": "Ada", "orcid": "0000"}},
    "anode": {
        "properties": {"t": q(15, "um"), "binder": {"name": "PVDF", "share": q(5, "percent")}},
        "material": {
            "name": "Graphite",
            "manufacturer": "Customcells",
            "product_id": "G-1",
            "definition": {"type": "graphite", "psd": {"d50": q(15, "um"), "d90": q(30, "um")}},
        },
    },
}


@pytest.fixture
def start() -> Iterator[Callable[..., tuple[httpx.Client, dict[str, Any]]]]:
    """Start a sandbox with settings, create the BODY spec: the client and the created spec."""
    opened: list[Api] = []

    def started(factory: Factory, **settings: Any) -> tuple[httpx.Client, dict[str, Any]]:
        server = factory(**settings)
        api = Api(server)
        opened.append(api)
        created = api.http.post(
            "/cell_specifications", json={"name": "Coin", "project_id": server.project_id, **BODY}
        )
        assert created.status_code == 201, created.text
        spec: dict[str, Any] = created.json()
        return api.http, spec

    yield started
    for api in opened:
        api.close()


def patch(api: httpx.Client, spec: dict[str, Any], body: dict[str, Any]) -> httpx.Response:
    return api.patch(f"/cell_specifications/{spec['id']}", json=body)


def patched(api: httpx.Client, spec: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    response = patch(api, spec, body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_merge_mode_deep_merges_every_nested_object(
    sandbox_factory: Factory, start: Callable[..., tuple[httpx.Client, dict[str, Any]]]
) -> None:
    api, spec = start(sandbox_factory, patch_mode="merge")
    after = patched(
        api,
        spec,
        {
            "ratings": {"capacity": q(3, "A*h")},
            "properties": {"coating": {"loading": q(13, "mg/cm**2")}},
            "source": {"creator": {"orcid": "1111"}},
            "anode": {
                "properties": {"binder": {"share": q(6, "percent")}},
                "material": {
                    "name": "Graphite",
                    "manufacturer": "Customcells",
                    "definition": {"psd": {"d50": q(16, "um")}},
                },
            },
        },
    )
    assert after["ratings"] == {**BODY["ratings"], "capacity": q(3, "A*h")}
    assert after["properties"] == {
        "coating": {"loading": q(13, "mg/cm**2"), "method": "slot-die"},
        "k": "v",
    }
    assert after["source"] == {"citation": "paper", "creator": {"name": "Ada", "orcid": "1111"}}
    assert after["anode"]["properties"] == {
        "t": q(15, "um"),
        "binder": {"name": "PVDF", "share": q(6, "percent")},
    }
    material = after["anode"]["material"]
    assert material["definition"] == {
        "type": "graphite",
        "psd": {"d50": q(16, "um"), "d90": q(30, "um")},
    }
    assert material["product_id"] == "G-1" and material["id"] == spec["anode"]["material_id"]


def test_merge_mode_nulls_remove_keys_at_any_depth_and_are_never_stored(
    sandbox_factory: Factory, start: Callable[..., tuple[httpx.Client, dict[str, Any]]]
) -> None:
    api, spec = start(sandbox_factory, patch_mode="merge")
    after = patched(
        api,
        spec,
        {
            "ratings": {"energy": None},
            "properties": {"coating": {"method": None}, "new": {"a": None, "b": "kept"}},
            "source": {"creator": {"orcid": None}, "doi": None},
            "anode": {
                "properties": {"binder": {"share": None}},
                "material": {
                    "name": "Graphite",
                    "manufacturer": "Customcells",
                    "definition": {"psd": {"d90": None}, "extra": {"x": None}},
                },
            },
        },
    )
    assert after["ratings"] == RATINGS
    assert after["properties"] == {
        "coating": {"loading": q(12, "mg/cm**2")},
        "k": "v",
        "new": {"b": "kept"},
    }
    assert after["source"] == {"citation": "paper", "creator": {"name": "Ada"}}
    assert after["anode"]["properties"] == {"t": q(15, "um"), "binder": {"name": "PVDF"}}
    definition = after["anode"]["material"]["definition"]
    assert definition == {"type": "graphite", "psd": {"d50": q(15, "um")}, "extra": {}}
    assert api.get(f"/cell_specifications/{spec['id']}").json() == after


def test_replace_mode_stores_nested_objects_as_sent(
    sandbox_factory: Factory, start: Callable[..., tuple[httpx.Client, dict[str, Any]]]
) -> None:
    api, spec = start(sandbox_factory)
    after = patched(api, spec, {"properties": {"k": None}, "source": {"doi": "10.1/x"}})
    assert after["properties"] == {"k": None}  # today's behaviour: null kept as sent
    assert after["source"] == {"doi": "10.1/x"} and after["ratings"] == BODY["ratings"]


NULL_INSIDE = [
    ({"ratings": {**RATINGS, "energy": None}}, ["body", "ratings", "energy"]),
    ({"properties": {"coating": {"method": None}}}, ["body", "properties", "coating", "method"]),
    ({"source": {"list": ["a", None]}}, ["body", "source", "list", 1]),
    (
        {"anode": {"properties": {"binder": None}}},
        ["body", "anode", "properties", "binder"],
    ),
    (
        {"anode": {"material": {"name": "Graphite", "definition": {"type": None}}}},
        ["body", "anode", "material", "definition", "type"],
    ),
]


@pytest.mark.parametrize("mode", ["replace", "merge"])
@pytest.mark.parametrize(("body", "loc"), NULL_INSIDE)
def test_nested_null_reject_refuses_a_null_anywhere_inside(
    sandbox_factory: Factory,
    start: Callable[..., tuple[httpx.Client, dict[str, Any]]],
    mode: str,
    body: dict[str, Any],
    loc: list[Any],
) -> None:
    api, spec = start(sandbox_factory, patch_mode=mode, nested_null="reject")
    response = patch(api, spec, body)
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert (error["loc"], error["type"]) == (loc, "nested_null")
    assert api.get(f"/cell_specifications/{spec['id']}").json() == spec
    created = api.post(
        "/cell_specifications", json={"name": "New", "project_id": spec["project_id"], **body}
    )
    assert created.status_code == 422 and created.json()["detail"][0]["loc"] == loc


def test_nested_null_reject_still_lets_a_top_level_null_clear(
    sandbox_factory: Factory, start: Callable[..., tuple[httpx.Client, dict[str, Any]]]
) -> None:
    api, spec = start(sandbox_factory, nested_null="reject")
    after = patched(api, spec, {"properties": None, "source": None, "notes": None, "anode": None})
    assert (after["properties"], after["source"], after["anode"]) == (None, None, None)


@pytest.mark.parametrize("mode", ["replace", "merge"])
def test_ratings_must_keep_their_core_keys(
    sandbox_factory: Factory,
    start: Callable[..., tuple[httpx.Client, dict[str, Any]]],
    mode: str,
) -> None:
    api, spec = start(sandbox_factory, patch_mode=mode)
    cleared = patch(api, spec, {"ratings": None})
    assert cleared.status_code == 422
    assert cleared.json()["detail"][0]["loc"] == ["body", "ratings"]
    drop_capacity = {"capacity": None} if mode == "merge" else {"voltage_min": q(2.5, "V")}
    partial = patch(api, spec, {"ratings": drop_capacity})
    assert partial.status_code == 422
    locs = [error["loc"][-1] for error in partial.json()["detail"]]
    assert "capacity" in locs
    assert api.get(f"/cell_specifications/{spec['id']}").json() == spec


def test_optional_ratings_may_be_cleared_or_partial(
    sandbox_factory: Factory, start: Callable[..., tuple[httpx.Client, dict[str, Any]]]
) -> None:
    api, spec = start(sandbox_factory, ratings_required=False)
    assert patched(api, spec, {"ratings": {"energy": q(1, "W.h")}})["ratings"] == {
        "energy": q(1, "W.h")
    }
    assert patched(api, spec, {"ratings": None})["ratings"] is None


def test_cells_follow_the_same_nested_rules(sandbox_factory: Factory) -> None:
    server = sandbox_factory(patch_mode="merge")
    with closing(Api(server)) as client:
        api = client.http
        spec_id = api.post(
            "/cell_specifications", json={"name": "Coin", "project_id": server.project_id}
        ).json()["id"]
        cell = {
            "name": "C1",
            "measured_properties": {"cell": {"mass": q(45, "g"), "ocv": q(3, "V")}},
        }
        instance = api.post(f"/cell_specifications/{spec_id}/cell_instances", json=cell).json()
        url = f"/cell_instances/{instance['id']}"
        merged = api.patch(
            url, json={"measured_properties": {"cell": {"ocv": None, "x": {"y": None}}}}
        )
        assert merged.json()["measured_properties"] == {"cell": {"mass": q(45, "g"), "x": {}}}
        api.put("/_sandbox/behaviour", json={"nested_null": "reject"})
        refused = api.patch(url, json={"measured_properties": {"cell": {"mass": None}}})
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["loc"] == ["body", "measured_properties", "cell", "mass"]
        batch = api.post(
            f"/cell_specifications/{spec_id}/cell_batches",
            json={"name": "LOT-1", "properties": {"a": None}},
        )
        assert batch.status_code == 422
        measurement = api.post(
            f"{url}/cell_measurements/create", json={"name": "m", "properties": {"t": None}}
        )
        assert measurement.status_code == 422
        assert api.get(url).json()["measured_properties"] == merged.json()["measured_properties"]
