"""Requests an API refuses all alike: try one alone, and after the first refusal send no more.

Some refusals are not about one request but about every request of its kind: a credential that
may read but not write (403 FORBIDDEN to every write, contract 1.7 and 8.3), an API that
refuses null inside a nested object (contract 8.2, unknown). Sending a hundred such requests
only collects a hundred refusals. So a ``Trial`` sends its requests one at a time until one
succeeds (then they run concurrently, as usual); the first refused one (``Refused``, with
``sent``) is the only one sent, and every later one is refused without being sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from reconciler.errors import ApiError

T = TypeVar("T")


class Refused(Exception):
    """A request of ``trial`` refused: by the API (``sent``), or before being sent because an
    earlier one was (``refusal`` is that first refusal either way)."""

    def __init__(self, trial: Trial, refusal: ApiError, *, sent: bool) -> None:
        super().__init__(str(refusal))
        self.trial = trial
        self.refusal = refusal
        self.sent = sent


class Trial:
    """Requests of one kind that ``refused`` (an ApiError class) may refuse every time."""

    def __init__(self, refused: type[ApiError]) -> None:
        self.refused = refused
        self.refusal: ApiError | None = None
        self._proven = False
        self._first = asyncio.Lock()

    async def send(self, call: Callable[[], Awaitable[T]]) -> T:
        """``call()`` (one request); Refused if it, or an earlier request of the kind, was."""
        if not self._proven:
            async with self._first:
                if not self._proven:
                    result = await self._send(call)
                    self._proven = True
                    return result
        return await self._send(call)

    async def _send(self, call: Callable[[], Awaitable[T]]) -> T:
        if self.refusal is not None:
            raise Refused(self, self.refusal, sent=False)
        try:
            return await call()
        except self.refused as exc:
            self.refusal = self.refusal or exc
            raise Refused(self, exc, sent=True) from None
