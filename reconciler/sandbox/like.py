"""PostgREST ``like`` / ``ilike`` matching in linear-ish time, whatever the pattern.

A pattern compiled to one regex (``%`` as ``.*``) backtracks catastrophically: ``%a%a%a%a%a%b``
against a long name takes hours, holding the database lock. Instead the pattern is cut at its
``%`` into fixed-width segments (literal characters and ``_``): the first must match at the
start, the last at the end, and each middle one at its leftmost place after the previous one,
which is correct for star-only patterns and costs O(len(value) * len(pattern)) at worst.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class _Segment:
    regex: re.Pattern[str]
    width: int


@functools.lru_cache(maxsize=256)
def _segments(pattern: str, insensitive: bool) -> tuple[_Segment, ...]:
    """The pattern between its wildcards ``%`` / ``*``; ``\\`` escapes the next character."""
    flags = re.DOTALL | (re.IGNORECASE if insensitive else 0)
    segments: list[_Segment] = []
    parts: list[str] = []
    escaped = False

    def close() -> None:
        segments.append(_Segment(re.compile("".join(parts), flags), len(parts)))
        parts.clear()

    for char in pattern:
        if escaped or char not in "%*_\\":
            parts.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "_":
            parts.append(".")
        else:
            close()
    close()
    return tuple(segments)


def like_match(value: str, pattern: str, insensitive: bool) -> bool:
    """Whether the whole of ``value`` matches the LIKE ``pattern`` (`%`/`*` any run, `_` one)."""
    segments = _segments(pattern, insensitive)
    if len(segments) == 1:
        return segments[0].regex.fullmatch(value) is not None
    first, *middle, last = segments
    if first.regex.match(value) is None:
        return False
    position = first.width
    for segment in middle:
        found = segment.regex.search(value, position)
        if found is None:
            return False
        position = found.end()
    end = len(value) - last.width
    return end >= position and last.regex.fullmatch(value, end) is not None


def pg_like(value: str | None, pattern: str, insensitive: int) -> int:
    """SQLite function ``pglike(value, pattern, insensitive)``: 1 on a match, NULL never matches."""
    if value is None:
        return 0
    return 1 if like_match(value, pattern, bool(insensitive)) else 0
