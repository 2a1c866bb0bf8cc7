"""The fast paths of compare, the engine and the client give what the plain ones give."""

from __future__ import annotations

import asyncio
import gc
import json
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler import compare, normalise
from reconciler.api import ApiSettings, Credentials, IonworksClient
from reconciler.paths import without_paths
from reconciler.runtime import fewer_collections

KEYS = st.sampled_from(["a", "b", "value", "unit", "properties", "managed_by"])
LEAF = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False), st.text(max_size=3)
)
QUANTITY = st.fixed_dictionaries(
    {"value": st.floats(-1e3, 1e3), "unit": st.sampled_from(["A*h", "mA.h", "V", "no unit"])}
)
TREE = st.recursive(
    st.one_of(LEAF, QUANTITY),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=20,
)
PATHS = st.lists(st.lists(KEYS, min_size=1, max_size=3).map(tuple), max_size=3)


@given(st.dictionaries(KEYS, TREE, max_size=5), PATHS)
def test_comparable_without_equals_comparable_of_without_paths(
    body: dict[str, Any], drop: list[tuple[str, ...]]
) -> None:
    expected = compare.comparable(without_paths(body, drop)) or {}
    assert compare.comparable_without(body, drop) == expected
    canonical = compare.comparable(body)
    assert compare.comparable_without(body, drop, canonical=canonical) == expected
    assert compare.comparable(body) == canonical, "the canonical tree is not modified"


def test_a_path_into_a_quantity_is_removed_like_without_paths() -> None:
    body = {"ratings": {"capacity": {"value": 5, "unit": "A*h"}}}
    drop = [("ratings", "capacity", "unit")]
    assert compare.comparable_without(body, drop) == {"ratings": {"capacity": {"value": "#5"}}}


@given(st.lists(st.dictionaries(KEYS, TREE, max_size=4), max_size=5))
def test_list_digest_is_the_digest_of_the_list(items: list[dict[str, Any]]) -> None:
    streamed = compare.ListDigest()
    for item in items:
        streamed.add(compare.comparable(item))
    assert streamed.hexdigest() == compare.digest(items)


def test_fewer_collections_restores_the_threshold_when_nested_and_on_errors() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), fewer_collections():
        with fewer_collections():
            assert gc.get_threshold()[0] >= 100_000
        assert gc.get_threshold()[0] >= 100_000, "the outer user still has it"
        raise RuntimeError
    assert gc.get_threshold() == before


def test_list_specs_view_maps_every_page() -> None:
    rows = [{"id": f"s{i}", "name": f"n{i}", "secret_server_field": i} for i in range(250)]

    def handler(request: httpx.Request) -> httpx.Response:
        offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
        page = rows[offset : offset + limit]
        body = {"items": page, "count": len(page), "total": len(rows)}
        return httpx.Response(
            200, content=json.dumps(body).encode(), headers={"content-type": "application/json"}
        )

    async def listed() -> list[dict[str, Any]]:
        settings = ApiSettings(base_url="http://api.test", credentials=Credentials(api_key="k"))
        async with IonworksClient(settings, transport=httpx.MockTransport(handler)) as client:
            return await client.list_specs("p", view=normalise.live_view)

    got = asyncio.run(listed())
    assert [r["id"] for r in got] == [r["id"] for r in rows]
    assert all("secret_server_field" not in r for r in got)
