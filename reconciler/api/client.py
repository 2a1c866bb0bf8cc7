"""The Ionworks calls ionworks-apply makes: paged lists, spec CRUD, and what a delete would take."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from reconciler.api.responses import wrong_shape
from reconciler.api.session import ApiSession, Params, Sleep, describe
from reconciler.api.settings import ApiSettings
from reconciler.errors import ApiError, RateLimitedError

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


class _Rows:
    """Collected list items, de-duplicated by ``id`` keeping the first seen."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self._ids: set[str] = set()

    def add(self, items: Iterable[dict[str, Any]]) -> None:
        for item in items:
            key = item.get("id")
            if isinstance(key, str):
                if key in self._ids:
                    continue
                self._ids.add(key)
            self.items.append(item)

    def __len__(self) -> int:
        return len(self.items)


async def _all(awaitables: Iterable[Awaitable[T]]) -> list[T]:
    """Run concurrently; on the first failure cancel the rest and raise that failure."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


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
        params: Params,
        limit: int,
        offset: int,
        doing: str | None,
        view: View | None = None,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """One page as ``(items, total)``; ``total`` is None for a legacy bare array."""
        query = {**params, "limit": str(limit), "offset": str(offset)}
        response, data = await self._session.call("GET", path, params=query, doing=doing)
        items: Any = data
        total: int | None = None
        if isinstance(data, dict) and type(data.get("total")) is int:
            items, total = data.get("items"), data["total"]
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise wrong_shape(
                response, describe("GET", path, doing), "a page of records {items, count, total}"
            )
        return (items if view is None else [view(item) for item in items]), total

    async def _span(
        self,
        path: str,
        params: Params,
        page_size: int,
        start: int,
        end: int,
        doing: str | None,
        view: View | None,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Rows from ``start`` up to ``end``, re-asking after a short page until an empty one,
        and the last ``total`` the server gave (None: a legacy bare array, the whole list)."""
        rows: list[dict[str, Any]] = []
        total: int | None = None
        while start < end:
            items, total = await self._page(path, params, page_size, start, doing, view)
            if total is None:
                return items, None
            if not items:
                break
            rows.extend(items)
            start += len(items)
        return rows, total

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
        """Every row of a list endpoint: first page, the rest concurrently, then any stragglers.

        Offsets follow the rows the server actually returns, so a server that clamps ``limit``,
        sends short pages or grows while we read still yields each row once (contract 2.1).
        ``view`` (which must keep ``id``) maps each row as its page arrives, so the parts a
        caller does not need never pile up: 10,000 full specs hold well over 100 MB.
        ``expected``, how many rows the caller knows to be there, lets every page up to that
        count be asked for at once, instead of learning the total from the first page first.
        """
        base = dict(params or {})
        rows = _Rows()
        if expected > page_size:
            opening = range(0, expected, page_size)
            first = await _all(
                self._span(path, base, page_size, start, start + page_size, doing, view)
                for start in opening
            )
            if any(total is None for _, total in first):  # a legacy bare array: the whole list
                return first[0][0]
            for span, _ in first:
                rows.add(span)
            total = max(total or 0 for _, total in first)
            step, covered = page_size, len(opening) * page_size
        else:
            items, page_total = await self._page(path, base, page_size, 0, doing, view)
            rows.add(items)
            if page_total is None or not items:  # a legacy bare array is the whole list
                return rows.items
            total = page_total
            step = covered = len(items)
        spans = await _all(
            self._span(path, base, page_size, start, min(start + step, total), doing, view)
            for start in range(covered, total, step)
        )
        for span, _ in spans:
            rows.add(span)
        offset = len(rows)
        while len(rows) < total:  # rows added while we read, or pages the server cut short
            before = len(rows)
            items, page_total = await self._page(path, base, page_size, offset, doing, view)
            rows.add(items)
            total = page_total if page_total is not None else total
            offset += len(items)
            if not items or (len(rows) == before and offset >= total):
                break
        return rows.items

    async def _count(self, path: str, doing: str) -> int:
        """How many rows a list holds, from ``total`` on a one-row page."""
        response, data = await self._session.call(
            "GET", path, params={"limit": "1", "offset": "0"}, doing=doing
        )
        if isinstance(data, dict) and type(data.get("total")) is int:
            return int(data["total"])
        if isinstance(data, dict | list):
            return len(await self.paginate(path, doing=doing))
        raise wrong_shape(response, describe("GET", path, doing), "a list of records")

    # -- cell specifications -------------------------------------------------------------------

    async def _record(
        self, method: str, path: str, *, doing: str, body: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        response, data = await self._session.call(method, path, body=body, doing=doing)
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise wrong_shape(response, describe(method, path, doing), "a record with an id")
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
        instance_ids = [row["id"] for row in instances if isinstance(row.get("id"), str)]
        batches, *measurements = await _all(
            [
                self._count(
                    f"{spec_path}/cell_batches",
                    f"counting cell batches of cell specification {spec_id}",
                ),
                *(
                    self._count(
                        f"/cell_instances/{_segment(instance_id)}/cell_measurements",
                        f"counting measurements of cell instance {instance_id}",
                    )
                    for instance_id in instance_ids
                ),
            ]
        )
        return CascadeCount(len(instances), batches, sum(measurements))

    async def get_project(self, project_id: str) -> dict[str, Any]:
        return await self._record(
            "GET", f"/projects/{_segment(project_id)}", doing=f"reading project {project_id}"
        )
