"""The Ionworks calls ionworks-apply makes: paged lists, spec CRUD, and what a delete would take."""

from __future__ import annotations

import asyncio
import functools
import itertools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from reconciler.api.paging import LIST_ATTEMPTS, ORDER, Page, raise_first_failure, read_list
from reconciler.api.session import ApiSession, Params, Sleep, describe
from reconciler.api.settings import ApiSettings
from reconciler.errors import ApiError, RateLimitedError, UnexpectedResponseError

T = TypeVar("T")


@dataclass(frozen=True)
class CascadeCount:
    """How many rows deleting a spec would take with it, as the API counts them."""

    instances: int
    batches: int
    measurements: int


#: Turns each listed record into what the caller keeps, page by page (see ``paginate``).
View = Callable[[dict[str, Any]], dict[str, Any]]

SPECS = "/cell_specifications"


def _segment(identifier: str) -> str:
    """An id as one path segment, so an odd id can never address another route."""
    return quote(identifier, safe="")


def _unusable_row(item: Any) -> str | None:
    """What a listed record lacks that every caller relies on, or None."""
    if not isinstance(item, dict):
        return "is not an object"
    if not isinstance(item.get("id"), str) or not item["id"]:
        return "has no string 'id'"
    if not isinstance(item.get("name"), str):
        return "has no string 'name'"
    return None


async def _gather(calls: Sequence[Callable[[], Awaitable[T]]], window: int) -> list[T]:
    """Results of ``calls`` in order, at most ``window`` running at once (a spec may have
    thousands of instances to count); the first failure cancels the rest and is raised."""
    results: dict[int, T] = {}
    pending: dict[asyncio.Future[T], int] = {}
    queue = iter(enumerate(calls))
    try:
        while True:
            for index, call in itertools.islice(queue, window - len(pending)):
                pending[asyncio.ensure_future(call())] = index
            if not pending:
                return [results[index] for index in range(len(calls))]
            done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            finished = {task: pending.pop(task) for task in done}
            raise_first_failure(finished)
            for task, index in finished.items():
                results[index] = task.result()
    finally:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


class IonworksClient:
    """Async client for the Ionworks REST API (and the local sandbox that follows its contract)."""

    def __init__(
        self,
        settings: ApiSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        self.settings = settings
        self._session = ApiSession(settings, transport=transport, sleep=sleep)

    def __repr__(self) -> str:
        return (
            f"IonworksClient(base_url={self.settings.base_url!r}, "
            f"project_id={self.settings.project_id!r}, credentials={self.settings.credentials!r})"
        )

    async def __aenter__(self) -> IonworksClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._session.aclose()

    async def pause(self, attempt: int, error: ApiError) -> None:
        """Wait before retrying a write after ``error``, by the session's one retry policy."""
        asked = error.retry_after if isinstance(error, RateLimitedError) else None
        await self._session.pause(attempt, asked)

    # -- lists ---------------------------------------------------------------------------------

    async def _page(
        self,
        path: str,
        query: Params,
        offset: int,
        doing: str | None,
        view: View | None,
    ) -> Page:
        """One page, checked: ``{items, total}`` (or a legacy bare array) of records that each
        have a string ``id`` and ``name``, and a plausible ``total``."""
        subject = describe("GET", path, doing)
        response, data = await self._session.call(
            "GET", path, params={**query, "offset": str(offset)}, doing=doing
        )
        items: Any = data
        total: int | None = None
        if isinstance(data, dict) and type(data.get("total")) is int:
            items, total = data.get("items"), data["total"]
        if not isinstance(items, list):
            raise self._session.wrong_shape(
                response, subject, "a page of records {items, count, total}"
            )
        limit, rows = self.settings.max_list_rows, len(items) if total is None else total
        if rows not in range(limit + 1):
            raise self._session.unexpected(
                response,
                subject,
                f"the Ionworks API says the list holds {rows} rows; ionworks-apply reads at "
                f"most {limit} and takes a total outside 0 to {limit} for a broken answer",
            )
        for index, item in enumerate(items):
            problem = _unusable_row(item)
            if problem:
                raise self._session.unexpected(
                    response, subject, f"record {offset + index} of the list {problem}"
                )
        ids = [item["id"] for item in items]
        return Page(offset, items if view is None else [view(item) for item in items], ids, total)

    async def paginate(
        self,
        path: str,
        params: Mapping[str, str | list[str]] | None = None,
        *,
        page_size: int = 100,
        doing: str | None = None,
        view: View | None = None,
        expected: int = 0,
    ) -> list[dict[str, Any]]:
        """Every row of a list endpoint exactly once, in name order, or UnexpectedResponseError.

        See :mod:`reconciler.api.paging` for how a read proves itself complete (and is retried
        when the list moved while it was read). Every row has a string ``id`` and ``name``.
        ``view`` maps each row as its page arrives, so the parts a caller does not need never
        pile up: 10,000 full specs hold well over 100 MB. ``expected``, how many rows the
        caller knows to be there, lets every page up to that count be asked for at once,
        instead of learning the total from the first page first.
        """
        query = {**(params or {}), **ORDER, "limit": str(page_size)}
        subject = describe("GET", path, doing)

        def fetch(offset: int) -> Awaitable[Page]:
            return self._page(path, query, offset, doing, view)

        def fail(reason: str) -> UnexpectedResponseError:
            return UnexpectedResponseError(
                self._session.mask(
                    f"{subject}: no complete, consistent read of the list in {LIST_ATTEMPTS} "
                    f"attempts ({reason}): it changed while it was read, or the Ionworks API "
                    "does not keep its order or tell its true total; nothing was done with a "
                    "partial list, try again"
                )
            )

        return await read_list(
            fetch,
            page_size=page_size,
            expected=expected,
            window=2 * self.settings.concurrency,
            max_rows=self.settings.max_list_rows,
            pause=self._session.pause,
            fail=fail,
        )

    async def _count(self, path: str, doing: str) -> int:
        """How many rows a list holds, from ``total`` on a one-row page (a legacy bare array
        is read whole and counted)."""
        response, data = await self._session.call(
            "GET", path, params={"limit": "1", "offset": "0"}, doing=doing
        )
        if isinstance(data, list):
            return len(await self.paginate(path, doing=doing))
        total = data.get("total") if isinstance(data, dict) else None
        if type(total) is not int or total not in range(self.settings.max_list_rows + 1):
            raise self._session.wrong_shape(
                response,
                describe("GET", path, doing),
                f"a page of records with a total from 0 to {self.settings.max_list_rows}",
            )
        return total

    # -- cell specifications -------------------------------------------------------------------

    async def _record(
        self, method: str, path: str, *, doing: str, body: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        response, data = await self._session.call(method, path, body=body, doing=doing)
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise self._session.wrong_shape(
                response, describe(method, path, doing), "a record with an id"
            )
        return data

    async def list_specs(
        self, project_id: str, *, full: bool = True, view: View | None = None, expected: int = 0
    ) -> list[dict[str, Any]]:
        """Every spec of the project; ``view`` and ``expected`` as in ``paginate``."""
        params: dict[str, str | list[str]] = {"project_id": project_id}
        if full:
            params["full"] = "true"
        return await self.paginate(
            SPECS, params, doing="listing cell specifications", view=view, expected=expected
        )

    async def find_spec(self, project_id: str, name: str) -> dict[str, Any] | None:
        """The spec named exactly ``name`` in the project, or None.

        The server filter is re-checked here: ``eq.``/``ilike.`` handling of ``_``, ``%`` and case
        is not ours to trust, and an older server may ignore ``project_id``.
        """
        rows = await self.paginate(
            SPECS,
            {"name": f"eq.{name}", "project_id": project_id, "full": "true"},
            doing=f"looking up cell specification {name!r}",
        )
        for row in rows:
            if row.get("name") == name and row.get("project_id") in (None, project_id):
                return row
        return None

    async def get_spec(self, spec_id: str) -> dict[str, Any]:
        return await self._record(
            "GET", f"{SPECS}/{_segment(spec_id)}", doing=f"reading cell specification {spec_id}"
        )

    async def create_spec(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST a new spec; the settings' project is filled in when the body has none (3.3)."""
        payload = dict(body)
        if payload.get("project_id") is None and self.settings.project_id:
            payload["project_id"] = self.settings.project_id
        return await self._record(
            "POST",
            SPECS,
            body=payload,
            doing=f"creating cell specification {payload.get('name')!r}",
        )

    async def update_spec(self, spec_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return await self._record(
            "PATCH",
            f"{SPECS}/{_segment(spec_id)}",
            body=body,
            doing=f"updating cell specification {spec_id}",
        )

    async def delete_spec(self, spec_id: str) -> bool:
        """True when deleted now; False when the API says it is already gone (404)."""
        response, _ = await self._session.call(
            "DELETE",
            f"{SPECS}/{_segment(spec_id)}",
            doing=f"deleting cell specification {spec_id}",
            accept=(404,),
        )
        return response.status_code != 404

    async def cascade(self, spec_id: str) -> CascadeCount:
        """Counts of what a delete would remove; measurements are summed per instance (M1)."""
        spec_path = f"{SPECS}/{_segment(spec_id)}"
        instances = await self.paginate(
            f"{spec_path}/cell_instances",
            doing=f"listing cell instances of cell specification {spec_id}",
        )
        counts = [
            functools.partial(
                self._count,
                f"{spec_path}/cell_batches",
                f"counting cell batches of cell specification {spec_id}",
            ),
            *(
                functools.partial(
                    self._count,
                    f"/cell_instances/{_segment(row['id'])}/cell_measurements",
                    f"counting measurements of cell instance {row['id']}",
                )
                for row in instances
            ),
        ]
        batches, *measurements = await _gather(counts, 2 * self.settings.concurrency)
        return CascadeCount(len(instances), batches, sum(measurements))

    async def get_project(self, project_id: str) -> dict[str, Any]:
        return await self._record(
            "GET", f"/projects/{_segment(project_id)}", doing=f"reading project {project_id}"
        )
