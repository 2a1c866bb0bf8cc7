"""API client paging and the spec calls built on it, against scripted list servers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from test_api_support import call, json_response, run

from reconciler.api import CascadeCount
from reconciler.errors import ServerError, UnexpectedResponseError


def rows(n: int, prefix: str = "r") -> list[dict[str, Any]]:
    return [{"id": f"{prefix}{i}", "name": f"{prefix}{i}"} for i in range(n)]


class ListServer:
    """Serves ``{items, count, total}`` pages with optional clamping, short pages and growth."""

    def __init__(
        self,
        data: list[dict[str, Any]],
        *,
        clamp: int = 100,
        shorten: Callable[[int, int], int] | None = None,
        grow_after_first: list[dict[str, Any]] | None = None,
    ) -> None:
        self.data = list(data)
        self.clamp = clamp
        self.shorten = shorten
        self.grow = grow_after_first
        self.queries: list[dict[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        query = dict(request.url.params)
        self.queries.append(query)
        if self.grow and len(self.queries) == 2:
            self.data.extend(self.grow)
        limit = min(int(query["limit"]), self.clamp)
        offset = int(query["offset"])
        if self.shorten:
            limit = self.shorten(offset, limit)
        page = self.data[offset : offset + limit]
        return json_response(200, {"items": page, "count": len(page), "total": len(self.data)})

    def offsets(self) -> list[int]:
        return sorted(int(q["offset"]) for q in self.queries)


def collect(server: Any, **kwargs: Any) -> list[dict[str, Any]]:
    got, _ = run(call(server, lambda api: api.paginate("/things", **kwargs)))
    return got


def test_pages_follow_the_first_page_and_keep_filters() -> None:
    server = ListServer(rows(250))
    assert collect(server, params={"project_id": "p", "tag": ["a", "b"]}) == rows(250)
    assert server.offsets() == [0, 100, 200]
    assert {q["limit"] for q in server.queries} == {"100"}
    assert all(q["project_id"] == "p" for q in server.queries)


def test_a_clamped_limit_is_followed_not_trusted() -> None:
    server = ListServer(rows(250), clamp=100)
    assert collect(server, page_size=200) == rows(250)
    assert server.offsets() == [0, 100, 200]


def test_short_pages_are_completed() -> None:
    server = ListServer(rows(50), shorten=lambda offset, limit: 7)
    assert collect(server) == rows(50)


def test_a_short_page_in_the_middle_leaves_no_gap() -> None:
    server = ListServer(rows(300), shorten=lambda offset, limit: 40 if offset == 100 else limit)
    assert collect(server) == rows(300)
    assert 140 in server.offsets()


def test_rows_added_while_reading_are_collected() -> None:
    server = ListServer(rows(150), grow_after_first=rows(30, "new"))
    got = collect(server)
    assert got == rows(150) + rows(30, "new")


def test_overlapping_pages_are_deduplicated_keeping_the_first() -> None:
    data = [*rows(120), {"id": "r5", "name": "duplicate"}]
    got = collect(ListServer(data))
    assert len(got) == 120
    assert next(r for r in got if r["id"] == "r5")["name"] == "r5"


def test_bare_array_is_the_whole_list() -> None:
    seen: list[httpx.Request] = []

    def legacy(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return json_response(200, rows(3))

    assert collect(legacy) == rows(3)
    assert len(seen) == 1


def test_empty_list_is_one_request() -> None:
    server = ListServer([])
    assert collect(server) == []
    assert server.offsets() == [0]


@pytest.mark.parametrize(
    "body", [{"items": "nope", "total": 1}, {"items": [1, 2], "total": 2}, {"rows": []}, "text"]
)
def test_a_page_of_the_wrong_shape_is_unexpected(body: Any) -> None:
    with pytest.raises(UnexpectedResponseError, match="a page of records"):
        collect(lambda _: json_response(200, body))


def test_remaining_pages_are_fetched_concurrently_within_the_bound() -> None:
    data = rows(500)
    in_flight = 0
    peak = 0
    all_waiting = asyncio.Event()
    waiting = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak, waiting
        offset = int(request.url.params["offset"])
        if offset:
            in_flight += 1
            peak = max(peak, in_flight)
            waiting += 1
            if waiting == 2:
                all_waiting.set()
            await asyncio.wait_for(all_waiting.wait(), timeout=5)
            await asyncio.sleep(0)
            in_flight -= 1
        page = data[offset : offset + 100]
        return json_response(200, {"items": page, "count": len(page), "total": len(data)})

    got, _ = run(call(handler, lambda api: api.paginate("/things"), concurrency=2))
    assert got == data
    assert peak == 2


def test_expected_rows_are_asked_for_at_once_without_waiting_for_the_first_page() -> None:
    data = rows(300)
    asked: set[int] = set()
    all_asked = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        asked.add(offset)
        if asked >= {0, 100, 200}:
            all_asked.set()
        if offset == 0:  # answers only once every expected page was asked for
            await asyncio.wait_for(all_asked.wait(), timeout=5)
        page = data[offset : offset + 100]
        return json_response(200, {"items": page, "count": len(page), "total": len(data)})

    got, _ = run(call(handler, lambda api: api.paginate("/things", expected=300)))
    assert got == data
    assert asked == {0, 100, 200}


@pytest.mark.parametrize(
    ("expected", "actual", "clamp"),
    [(250, 250, 100), (250, 250, 30), (500, 120, 100), (150, 450, 100), (450, 0, 100)],
)
def test_a_wrong_or_clamped_expectation_still_yields_every_row_once(
    expected: int, actual: int, clamp: int
) -> None:
    server = ListServer(rows(actual), clamp=clamp)
    assert collect(server, expected=expected) == rows(actual)
    if expected > actual:  # overestimated: at most one wasted request per expected page
        assert len(server.queries) <= -(-expected // 100) + -(-actual // clamp)


def test_an_expectation_on_a_bare_array_takes_the_whole_list_once() -> None:
    legacy = [*rows(3), {"name": "no id"}]
    assert collect(lambda _: json_response(200, legacy), expected=500) == legacy


def test_one_failing_page_fails_the_list() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params["offset"] == "200":
            return json_response(500, {"detail": "boom"})
        page = rows(300)[int(request.url.params["offset"]) :][:100]
        return json_response(200, {"items": page, "count": len(page), "total": 300})

    with pytest.raises(ServerError, match="boom"):
        run(call(handler, lambda api: api.paginate("/things"), max_retries=1))


# -- spec calls on top of paging ---------------------------------------------------------------


def test_list_specs_is_scoped_to_the_project_with_components() -> None:
    server = ListServer(rows(3))
    run(call(server, lambda api: api.list_specs("proj-9")))
    assert server.queries[0] == {
        "project_id": "proj-9",
        "full": "true",
        "limit": "100",
        "offset": "0",
    }
    run(call(server, lambda api: api.list_specs("proj-9", full=False)))
    assert "full" not in server.queries[1]


def test_find_spec_matches_the_exact_name_in_the_project_only() -> None:
    fuzzy = [
        {"id": "1", "name": "axb", "project_id": "p"},
        {"id": "2", "name": "A_B", "project_id": "p"},
        {"id": "3", "name": "a_b", "project_id": "other"},
        {"id": "4", "name": "a_b", "project_id": "p"},
    ]
    server = ListServer(fuzzy)
    got, _ = run(call(server, lambda api: api.find_spec("p", "a_b")))
    assert got is not None and got["id"] == "4"
    assert server.queries[0]["name"] == "eq.a_b"
    assert server.queries[0]["project_id"] == "p"
    assert server.queries[0]["full"] == "true"
    missing, _ = run(call(ListServer(fuzzy[:3]), lambda api: api.find_spec("p", "a_b")))
    assert missing is None


def test_cascade_counts_instances_batches_and_every_instances_measurements() -> None:
    measurements = {"i0": 4, "i1": 0, "i2": 7}
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        path, params = request.url.path, request.url.params
        seen.append(f"{path}?limit={params['limit']}")
        if path == "/cell_specifications/s1/cell_instances":
            items = rows(3, "i")
            return json_response(200, {"items": items, "count": 3, "total": 3})
        if path == "/cell_specifications/s1/cell_batches":
            return json_response(200, {"items": rows(1, "b"), "count": 1, "total": 2})
        instance = path.split("/")[2]
        return json_response(200, {"items": [], "count": 0, "total": measurements[instance]})

    got, _ = run(call(handler, lambda api: api.cascade("s1")))
    assert got == CascadeCount(instances=3, batches=2, measurements=11)
    assert "/cell_instances/i2/cell_measurements?limit=1" in seen
    assert "/cell_specifications/s1/cell_batches?limit=1" in seen
