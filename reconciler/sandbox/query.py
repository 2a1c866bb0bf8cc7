"""List endpoints: PostgREST-style filters, ordering and paging turned into SQL.

Filters are read from the raw query string (repeated keys are ANDed). Text filters take an
operator prefix (`eq.`, `neq.`, `like.`, `ilike.`, `gt.`, ...) or a bare value for equality;
`*_gt` / `*_lt` take an ISO 8601 instant or date and compare strictly.

Without ``order_by`` the real API promises no order (contract 2.1): Postgres LIMIT/OFFSET without
ORDER BY may cut each page from a different row order. ``list_order="unstable"`` models that by
cutting every such page from a fresh permutation (``Shuffler``); with ``order_by`` the order is
exact, with ``id`` as the final tie-breaker, in every mode.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.sandbox.db import Tx, format_instant
from reconciler.sandbox.errors import field_error, raise_invalid
from reconciler.sandbox.validation import parse_moment

COMPARE = {"eq": "=", "neq": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
LIKE = {"like": 0, "ilike": 1}

Params = Mapping[str, Sequence[str]]
"""Query parameters as lists of raw values per key."""


def ids_param(ids: Iterable[str]) -> str:
    """A JSON array bound as one parameter and expanded with json_each (no variable limit)."""
    return json.dumps(list(ids))


@dataclass
class Where:
    """SQL conditions and their parameters, always ANDed."""

    clauses: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, clause: str, *params: Any) -> None:
        self.clauses.append(clause)
        self.params.extend(params)

    def sql(self) -> str:
        return " AND ".join(self.clauses) if self.clauses else "1"


def text_condition(column: str, raw: str) -> tuple[str, list[Any]]:
    """One PostgREST text filter on ``column``; a bare value means equality."""
    operator, dot, operand = raw.partition(".")
    if dot and operator in COMPARE:
        return f"{column} {COMPARE[operator]} ?", [operand]
    if dot and operator in LIKE:
        return f"pglike({column}, ?, {LIKE[operator]})", [operand]
    return f"{column} = ?", [raw]


def add_text_filters(where: Where, params: Params, columns: Mapping[str, str]) -> None:
    """Apply every repeated value of each text parameter (query key -> SQL column)."""
    for key, column in columns.items():
        for raw in params.get(key, ()):
            clause, values = text_condition(column, raw)
            where.add(clause, *values)


def add_time_filters(where: Where, params: Params, columns: Mapping[str, str]) -> None:
    """``<field>_gt`` and ``<field>_lt`` for each timestamp field (query field -> SQL column)."""
    errors = []
    for name, column in columns.items():
        for suffix, operator in (("_gt", ">"), ("_lt", "<")):
            key = name + suffix
            for raw in params.get(key, ()):
                try:
                    moment = parse_moment(raw.replace(" ", "+"))
                except ValueError:
                    errors.append(
                        field_error(
                            ("query", key),
                            "Input should be an ISO 8601 date or date-time",
                            "datetime_parsing",
                            raw,
                        )
                    )
                    continue
                where.add(f"{column} {operator} ?", format_instant(moment))
    raise_invalid(errors)


class Shuffler:
    """Permutations for unordered pages, reproducible from a seed across a run."""

    def __init__(self, seed: int | None) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(seed)

    def reseed(self, seed: int) -> None:
        with self._lock:
            self._random = random.Random(seed)

    def shuffle(self, items: list[Any]) -> None:
        with self._lock:
            self._random.shuffle(items)


@dataclass(frozen=True)
class Page:
    """Which slice of an ordered list to return."""

    limit: int
    offset: int
    order_by: str
    descending: bool
    shuffle: Callable[[list[Any]], None] | None = None
    """Set when the list is unordered: each request cuts its page from a fresh permutation."""

    def order_sql(self, alias: str) -> str:
        direction = "DESC" if self.descending else "ASC"
        return f"{alias}.{self.order_by} {direction}, {alias}.id {direction}"


def fetch_page(tx: Tx, select: str, table: str, where: Where, page: Page) -> tuple[list[Any], int]:
    """Rows of one page and the number of rows matching in all.

    ``select`` is the SELECT list over the table aliased as ``t`` (it may hold subqueries).
    """
    if page.shuffle is not None:
        return _shuffled_page(tx, select, table, where, page, page.shuffle)
    total_row = tx.one(f"SELECT count(*) FROM {table} t WHERE {where.sql()}", where.params)
    total = int(total_row[0]) if total_row else 0
    rows = tx.all(
        f"SELECT {select} FROM {table} t WHERE {where.sql()} "
        f"ORDER BY {page.order_sql('t')} LIMIT ? OFFSET ?",
        [*where.params, page.limit, page.offset],
    )
    return rows, total


def _shuffled_page(
    tx: Tx,
    select: str,
    table: str,
    where: Where,
    page: Page,
    shuffle: Callable[[list[Any]], None],
) -> tuple[list[Any], int]:
    ids = [
        row[0]
        for row in tx.all(
            f"SELECT t.id FROM {table} t WHERE {where.sql()} ORDER BY t.created_at, t.id",
            where.params,
        )
    ]
    shuffle(ids)
    chosen = ids[page.offset : page.offset + page.limit]
    position = {ident: index for index, ident in enumerate(chosen)}
    rows = tx.all(
        f"SELECT {select} FROM {table} t WHERE t.id IN (SELECT value FROM json_each(?))",
        [ids_param(chosen)],
    )
    return sorted(rows, key=lambda row: position[row["id"]]), len(ids)


def paginated(items: list[dict[str, Any]], total: int) -> dict[str, Any]:
    return {"items": items, "count": len(items), "total": total}
