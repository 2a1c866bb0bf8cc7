"""Exact lists: every row of a list endpoint exactly once, or an error; never a partial list.

LIMIT/OFFSET paging addresses rows reliably only in a total order over a list that holds still
(contract 2.1: without ``order_by`` a Postgres-backed API may order each request differently).
So every list is read in ``name`` order (names are unique per project and per spec), and a read
is trusted only when it proves itself:

- consecutive requests overlap by one row, and both answers must agree on it: a row inserted or
  deleted before that point, between the two requests, shifts it (a shift in one place and the
  opposite shift in another keep the count right, only the overlap sees them);
- every answer reports the same ``total``, and the rows are exactly ``total`` distinct ids;
- the page at offset ``total`` is empty, so a ``total`` smaller than the list is caught.

A read that fails a check is started over, at most ``LIST_ATTEMPTS`` times in all, then the
caller's error is raised. Pages are requested concurrently but never more than ``window`` at a
time, whatever ``total`` says: a huge ``total`` over a short list costs one window of empty pages.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

#: The one order every list is read in: a total order, as names are unique within a list.
ORDER = {"order_by": "name", "order": "asc"}
#: Reads of one list, in all, before its inconsistency is an error.
LIST_ATTEMPTS = 3


def raise_first_failure(done: Iterable[asyncio.Future[Any]]) -> None:
    """Raise the first failure among finished tasks, having looked at every one (so asyncio
    does not report the others as never retrieved)."""
    failures = [task.exception() for task in done if not task.cancelled()]
    for failure in failures:
        if failure is not None:
            raise failure


@dataclass(frozen=True)
class Page:
    """One answer: the rows at ``offset`` (``ids[i]`` is row ``i``'s id) and the list's total.

    ``total`` is None for a legacy bare array, which has no paging metadata.
    """

    offset: int
    rows: list[dict[str, Any]]
    ids: list[str]
    total: int | None


#: Requests the page at an offset.
Fetch = Callable[[int], Awaitable[Page]]


class Inconsistent(Exception):
    """This read of the list cannot be trusted; reading it again may give a consistent one."""


class _Reading:
    """One attempt at a paged list: spans of pages, each overlapping the next by one row."""

    def __init__(self, fetch: Fetch, page_size: int, expected: int, window: int) -> None:
        self.fetch = fetch
        self.page_size = page_size
        self.step = max(page_size - 1, 1)
        self.expected = expected
        self.window = window
        self.total: int | None = None
        self.legacy = False
        self.legacy_start: Page | None = None
        self.slots: dict[int, tuple[str, dict[str, Any]]] = {}
        self.empty_at: set[int] = set()

    def take(self, page: Page) -> None:
        """Place a page's rows at their offsets, checking them against everything seen so far."""
        if page.total is None:
            self.legacy = True
            if page.offset == 0:
                self.legacy_start = page
            return
        if self.total is None:
            self.total = page.total
        elif page.total != self.total:
            raise Inconsistent(f"its total changed from {self.total} to {page.total}")
        if not page.rows:
            if page.offset < self.total:
                raise Inconsistent(f"it ends at row {page.offset} but its total says {self.total}")
            self.empty_at.add(page.offset)
            return
        if page.offset + len(page.rows) > self.total:
            raise Inconsistent(f"it holds more rows than its total of {self.total}")
        for index, (row_id, row) in enumerate(zip(page.ids, page.rows, strict=True)):
            seen = self.slots.setdefault(page.offset + index, (row_id, row))
            if seen[0] != row_id:
                raise Inconsistent("two answers disagree on which row comes where")

    async def span(self, start: int) -> None:
        """Rows from ``start`` through the next span's first row, following short pages."""
        offset, stop = start, start + self.step
        while True:
            page = await self.fetch(offset)
            self.take(page)
            if self.legacy or not page.rows or self.total is None:
                return
            last = offset + len(page.rows) - 1
            if last >= min(stop, self.total - 1):
                return
            offset = last if len(page.rows) > 1 else last + 1

    async def probe(self, offset: int) -> None:
        self.take(await self.fetch(offset))

    def _horizon(self) -> int:
        """Where spans may start: up to the total once known, else the caller's expectation."""
        if self.total is not None:
            return self.total
        return self.expected if self.expected > self.page_size else 1

    async def run(self) -> list[dict[str, Any]] | None:
        """Every row in order, or None for a legacy bare array; Inconsistent if unproven."""
        tasks: set[asyncio.Future[None]] = set()
        next_start, probed = 0, False
        try:
            while not self.legacy:
                while next_start < self._horizon() and len(tasks) < self.window:
                    tasks.add(asyncio.ensure_future(self.span(next_start)))
                    next_start += self.step
                total = self.total
                if total is not None and not probed and len(tasks) < self.window:
                    probed = True
                    if total not in self.empty_at:
                        tasks.add(asyncio.ensure_future(self.probe(total)))
                if not tasks:
                    break
                done, tasks = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                raise_first_failure(done)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if self.legacy:
            return None
        total = self.total or 0
        if len(self.slots) != total:
            raise Inconsistent(f"{len(self.slots)} rows were read but its total says {total}")
        if len({row_id for row_id, _ in self.slots.values()}) != total:
            raise Inconsistent("a row appeared twice")
        return [row for _, (_, row) in sorted(self.slots.items())]


async def _read_legacy(fetch: Fetch, max_rows: int, start: Page | None) -> list[dict[str, Any]]:
    """A list answered with bare arrays: one array is the whole list if the server ignores
    ``offset``; if it pages, follow it to an empty page. Ids must not repeat either way."""
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    first: list[str] | None = None
    while True:
        page, start = start or await fetch(len(rows)), None
        if page.total is not None:
            raise Inconsistent("it mixes paged answers and bare arrays")
        if not page.rows or page.ids == first:
            return rows
        first = page.ids if first is None else first
        for row_id, row in zip(page.ids, page.rows, strict=True):
            if row_id in seen:
                raise Inconsistent("a row appeared twice")
            seen.add(row_id)
            rows.append(row)
        if len(rows) > max_rows:
            raise Inconsistent(f"it goes on past {max_rows} rows")


async def read_list(
    fetch: Fetch,
    *,
    page_size: int,
    expected: int,
    window: int,
    max_rows: int,
    pause: Callable[[int], Awaitable[None]],
    fail: Callable[[str], Exception],
) -> list[dict[str, Any]]:
    """Every row of the list in name order, or ``fail(reason)`` after ``LIST_ATTEMPTS`` reads.

    ``expected`` rows (a caller's estimate) are asked for at once, without waiting for the
    first page to tell the total; ``pause(n)`` waits before read ``n + 1``.
    """
    reason = ""
    for attempt in range(1, LIST_ATTEMPTS + 1):
        if attempt > 1:
            await pause(attempt - 1)
        reading = _Reading(fetch, page_size, min(expected, max_rows), window)
        try:
            rows = await reading.run()
            if rows is None:
                rows = await _read_legacy(fetch, max_rows, reading.legacy_start)
            return rows
        except Inconsistent as exc:
            reason = str(exc)
    raise fail(reason)
