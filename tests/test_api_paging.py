"""API client paging: exact lists or an error, against scripted list servers (MockTransport)."""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from test_api_support import call, json_response, run

from reconciler.api import CascadeCount
from reconciler.api.paging import LIST_ATTEMPTS
from reconciler.errors import ServerError, UnexpectedResponseError

Rows = list[dict[str, Any]]


def rows(n: int, prefix: str = "r") -> Rows:
    """``n`` records whose names sort in creation order (zero-padded)."""
    return [{"id": f"{prefix}{i:04}", "name": f"{prefix}{i:04}"} for i in range(n)]


class ListServer:
    """A list endpoint that sorts by ``order_by=name`` like the API, with scripted misbehaviour.

    ``clamp`` caps ``limit``; ``shorten(offset, limit)`` cuts pages short; ``before(n, data)``
    runs before answering request ``n`` (1-based) and may change the data; ``shuffle`` ignores
    the order asked for and orders each answer anew; ``lie(total)`` is the total it reports.
    """

    def __init__(
        self,
        data: Rows,
        *,
        clamp: int = 100,
        shorten: Callable[[int, int], int] | None = None,
        before: Callable[[int, Rows], None] | None = None,
        shuffle: bool = False,
        lie: Callable[[int], int] | None = None,
    ) -> None:
        self.data = list(data)
        self.clamp = clamp
        self.shorten = shorten
        self.before = before
        self.shuffle = random.Random(5) if shuffle else None
        self.lie = lie
        self.queries: list[dict[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        query = dict(request.url.params)
        self.queries.append(query)
        if self.before:
            self.before(len(self.queries), self.data)
        ordered = sorted(self.data, key=lambda row: str(row["name"]))
        if query.get("order_by") != "name" or query.get("order") != "asc":
            ordered = list(self.data)  # the server's own order: whatever it stores
        if self.shuffle:
            self.shuffle.shuffle(ordered)
        limit = min(int(query["limit"]), self.clamp)
        offset = int(query["offset"])
        if self.shorten:
            limit = self.shorten(offset, limit)
        page = ordered[offset : offset + limit]
        total = self.lie(len(self.data)) if self.lie else len(self.data)
        return json_response(200, {"items": page, "count": len(page), "total": total})

    def offsets(self) -> list[int]:
        return sorted(int(q["offset"]) for q in self.queries)


def collect(server: Any, **kwargs: Any) -> Rows:
    got, _ = run(call(server, lambda api: api.paginate("/things", **kwargs)))
    return got


def collect_error(server: Any, **kwargs: Any) -> UnexpectedResponseError:
    with pytest.raises(UnexpectedResponseError) as caught:
        collect(server, **kwargs)
    return caught.value


def test_pages_overlap_by_one_row_in_name_order_and_keep_filters() -> None:
    server = ListServer(rows(250))
    assert collect(server, params={"project_id": "p", "tag": ["a", "b"]}) == rows(250)
    # 0-99, 99-198, 198-249 (each first row re-read), then the empty page at the total
    assert server.offsets() == [0, 99, 198, 250]
    assert {(q["limit"], q["order_by"], q["order"]) for q in server.queries} == {
        ("100", "name", "asc")
    }
    assert all(q["project_id"] == "p" for q in server.queries)


def test_rows_come_back_in_name_order_whatever_the_storage_order() -> None:
    stored = rows(230)
    random.Random(3).shuffle(stored)
    assert collect(ListServer(stored)) == rows(230)


def test_a_clamped_limit_is_followed_not_trusted() -> None:
    server = ListServer(rows(250), clamp=100)
    assert collect(server, page_size=200) == rows(250)


@pytest.mark.parametrize(
    "shorten",
    [lambda offset, limit: 7, lambda offset, limit: 40 if offset == 99 else limit],
    ids=["every page short", "one short page in the middle"],
)
def test_short_pages_are_completed(shorten: Callable[[int, int], int]) -> None:
    assert collect(ListServer(rows(300), shorten=shorten)) == rows(300)


def test_empty_list_is_one_request() -> None:
    server = ListServer([])
    assert collect(server) == []
    assert server.offsets() == [0]


def test_a_short_list_proves_its_end_with_one_more_request() -> None:
    server = ListServer(rows(3))
    assert collect(server) == rows(3)
    assert server.offsets() == [0, 3]


# -- lists that move while they are read -------------------------------------------------------


def insert_and_delete_on(request_number: int, *, insert: Rows, delete: set[str]) -> Any:
    def before(n: int, data: Rows) -> None:
        if n == request_number:
            data[:] = [row for row in data if row["id"] not in delete] + insert

    return before


@pytest.mark.parametrize(
    ("insert", "delete"),
    [
        ([{"id": "new", "name": "r0050x"}], set()),  # an insert behind the read position
        ([], {"r0010"}),  # a delete behind it
        # one of each: the total stays the same and no id repeats; only the overlap sees it
        ([{"id": "new", "name": "r0200x"}], {"r0005"}),
    ],
    ids=["insert", "delete", "delete behind and insert ahead"],
)
def test_a_list_that_moved_while_read_is_read_again_and_exact(
    insert: Rows, delete: set[str]
) -> None:
    server = ListServer(rows(250), before=insert_and_delete_on(2, insert=insert, delete=delete))
    got, sleeps = run(call(server, lambda api: api.paginate("/things")))
    assert got == sorted(server.data, key=lambda row: str(row["name"]))
    assert len({row["id"] for row in got}) == len(got) == len(server.data)
    assert len(sleeps.delays) == 1, "one pause before the second read"
    assert server.offsets().count(0) == 2, "the whole list was read twice"


def test_an_order_that_changes_with_every_request_is_an_error_after_three_reads() -> None:
    server = ListServer(rows(250), shuffle=True)
    error = collect_error(server)
    text = str(error)
    assert f"no complete, consistent read of the list in {LIST_ATTEMPTS} attempts" in text
    assert "nothing was done with a partial list" in text
    assert text.startswith("GET /things: ")
    assert server.offsets().count(0) == LIST_ATTEMPTS


def test_a_list_that_keeps_moving_is_an_error_not_a_partial_list() -> None:
    def grow(n: int, data: Rows) -> None:
        if n % 2 == 0:  # a row that sorts first, on every other request
            data.append({"id": f"new{n}", "name": f"a{n:04}"})

    error = collect_error(ListServer(rows(250), before=grow))
    assert "no complete, consistent read" in str(error)


# -- totals that lie ---------------------------------------------------------------------------


def test_a_total_smaller_than_the_list_is_an_error() -> None:
    server = ListServer(rows(297), lie=lambda actual: 200)
    error = collect_error(server)
    assert "it holds more rows than its total of 200" in str(error)


def test_a_total_larger_than_the_list_is_an_error() -> None:
    server = ListServer(rows(150), lie=lambda actual: 400)
    error = collect_error(server)
    assert re.search(r"it ends at row \d+ but its total says 400", str(error))


def test_an_implausible_total_is_refused_at_once() -> None:
    server = ListServer(rows(100), lie=lambda actual: 1_000_000_000)
    error = collect_error(server)
    assert "says the list holds 1000000000 rows; ionworks-apply reads at most 100000" in str(error)
    assert len(server.queries) == 1


def test_a_large_lying_total_costs_a_bounded_number_of_requests() -> None:
    server = ListServer(rows(100), lie=lambda actual: 99_999)
    collect_error(server)
    # per read: the first page, then at most a window (2 x concurrency 8) of pages at a time;
    # the first empty page stops it
    assert len(server.queries) <= LIST_ATTEMPTS * (1 + 2 * 16)


def test_a_negative_total_is_refused() -> None:
    error = collect_error(ListServer(rows(3), lie=lambda actual: -1))
    assert "says the list holds -1 rows" in str(error)


# -- legacy bare arrays ------------------------------------------------------------------------


def test_a_bare_array_that_ignores_paging_is_the_whole_list() -> None:
    seen: list[str] = []

    def legacy(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.params["offset"])
        return json_response(200, rows(3))

    assert collect(legacy) == rows(3)
    assert seen == ["0", "3"], "the second answer repeats the first: the server ignores offset"


def test_bare_arrays_that_page_are_followed_to_the_end() -> None:
    data = rows(230)

    def legacy(request: httpx.Request) -> httpx.Response:
        offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
        return json_response(200, data[offset : offset + limit])

    assert collect(legacy) == data


def test_an_expectation_on_a_bare_array_takes_the_whole_list_once() -> None:
    legacy = rows(3)
    assert collect(lambda _: json_response(200, legacy), expected=500) == legacy


def test_a_bare_array_longer_than_any_list_is_refused() -> None:
    legacy = json_response(200, rows(6))
    with pytest.raises(UnexpectedResponseError) as caught:
        run(call(lambda _: legacy, lambda api: api.paginate("/things"), max_list_rows=5))
    assert "says the list holds 6 rows; ionworks-apply reads at most 5" in str(caught.value)


def test_a_bare_array_repeating_a_row_is_an_error() -> None:
    error = collect_error(lambda _: json_response(200, [*rows(3), rows(1)[0]]))
    assert "a row appeared twice" in str(error)


# -- records every caller relies on ------------------------------------------------------------


@pytest.mark.parametrize(
    "body", [{"items": "nope", "total": 1}, {"rows": []}, "text", {"items": None, "total": 0}]
)
def test_a_page_of_the_wrong_shape_is_unexpected(body: Any) -> None:
    assert "a page of records" in str(collect_error(lambda _: json_response(200, body)))


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        (1, "record 2 of the list is not an object"),
        ({"name": "no id"}, "record 2 of the list has no string 'id'"),
        ({"id": 7, "name": "x"}, "record 2 of the list has no string 'id'"),
        ({"id": "", "name": "x"}, "record 2 of the list has no string 'id'"),
        ({"id": "x"}, "record 2 of the list has no string 'name'"),
        ({"id": "x", "name": None}, "record 2 of the list has no string 'name'"),
    ],
)
def test_a_record_without_a_string_id_and_name_is_unexpected(record: Any, problem: str) -> None:
    page = [*rows(2), record]
    error = collect_error(lambda _: json_response(200, {"items": page, "total": 3}))
    assert problem in str(error)


# -- concurrency -------------------------------------------------------------------------------


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
        if asked >= {0, 99, 198, 297}:
            all_asked.set()
        if offset == 0:  # answers only once every expected page was asked for
            await asyncio.wait_for(all_asked.wait(), timeout=5)
        page = data[offset : offset + 100]
        return json_response(200, {"items": page, "count": len(page), "total": len(data)})

    got, _ = run(call(handler, lambda api: api.paginate("/things", expected=300)))
    assert got == data
    assert asked == {0, 99, 198, 297, 300}


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
        assert len(server.queries) <= -(-expected // 99) + -(-actual // clamp) + 1


def test_one_failing_page_fails_the_list() -> None:
    data = rows(300)

    def handler(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        if offset == 198:
            return json_response(500, {"detail": "boom"})
        page = data[offset : offset + 100]
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
        "order_by": "name",
        "order": "asc",
        "limit": "100",
        "offset": "0",
    }
    run(call(server, lambda api: api.list_specs("proj-9", full=False)))
    assert "full" not in server.queries[-1]


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
    measurements = {"i0000": 4, "i0001": 0, "i0002": 7}
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        path, params = request.url.path, request.url.params
        seen.append(f"{path}?limit={params['limit']}")
        if path == "/cell_specifications/s1/cell_instances":
            items = rows(3, "i") if params["offset"] == "0" else []
            return json_response(200, {"items": items, "count": len(items), "total": 3})
        if path == "/cell_specifications/s1/cell_batches":
            return json_response(200, {"items": rows(1, "b"), "count": 1, "total": 2})
        instance = path.split("/")[2]
        return json_response(200, {"items": [], "count": 0, "total": measurements[instance]})

    got, _ = run(call(handler, lambda api: api.cascade("s1")))
    assert got == CascadeCount(instances=3, batches=2, measurements=11)
    assert "/cell_instances/i0002/cell_measurements?limit=1" in seen
    assert "/cell_specifications/s1/cell_batches?limit=1" in seen


@pytest.mark.parametrize("total", [-1, 10**9, "7", None])
def test_a_count_outside_what_is_plausible_is_unexpected(total: Any) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/cell_instances"):
            return json_response(200, {"items": [], "count": 0, "total": 0})
        return json_response(200, {"items": [], "count": 0, "total": total})

    with pytest.raises(UnexpectedResponseError, match="a total from 0 to 100000"):
        run(call(handler, lambda api: api.cascade("s1")))


def test_measurements_of_many_instances_are_counted_a_window_at_a_time() -> None:
    instances = rows(300, "i")
    most_tasks = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal most_tasks
        path, offset = request.url.path, int(request.url.params["offset"])
        most_tasks = max(most_tasks, len(asyncio.all_tasks()))
        if path.endswith("/cell_instances"):
            page = instances[offset : offset + 100]
            return json_response(200, {"items": page, "count": len(page), "total": 300})
        await asyncio.sleep(0)
        return json_response(200, {"items": [], "count": 0, "total": 1})

    got, _ = run(call(handler, lambda api: api.cascade("s1"), concurrency=4))
    assert got == CascadeCount(instances=300, batches=1, measurements=300)
    assert most_tasks <= 2 * 4 + 1, "a window of count tasks (2 x concurrency) and the main one"
