"""Fault injection and the request journal, both changeable while the server runs."""

from __future__ import annotations

import random
import threading
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

from reconciler.sandbox.settings import check_fault_config

JOURNAL_SIZE = 100_000
"""Older entries are forgotten past this many; ``seq`` keeps counting."""


class FaultInjector:
    """Draws, per API request, either no fault or one of the configured kinds.

    The draws come from one ``random.Random(seed)``, so a seeded run injects the same faults into
    the same sequence of requests.
    """

    def __init__(
        self,
        *,
        fault_rate: float,
        faults: tuple[str, ...],
        seed: int | None,
        latency_ms: float,
        stall_seconds: float,
    ) -> None:
        self._lock = threading.Lock()
        self.fault_rate = 0.0
        self.faults: tuple[str, ...] = ()
        self.latency_ms = 0.0
        self.stall_seconds = stall_seconds
        self._seed = seed
        self._random = random.Random(seed)
        self.configure(fault_rate=fault_rate, faults=faults, latency_ms=latency_ms)

    def configure(
        self,
        *,
        fault_rate: float | None = None,
        faults: tuple[str, ...] | None = None,
        seed: int | None = None,
        latency_ms: float | None = None,
        stall_seconds: float | None = None,
    ) -> None:
        """Change the given settings; a new ``seed`` restarts the random sequence."""
        with self._lock:
            new_rate = self.fault_rate if fault_rate is None else fault_rate
            new_faults = self.faults if faults is None else faults
            new_latency = self.latency_ms if latency_ms is None else latency_ms
            check_fault_config(new_rate, new_faults, new_latency)
            self.fault_rate, self.faults, self.latency_ms = new_rate, new_faults, new_latency
            if stall_seconds is not None:
                self.stall_seconds = stall_seconds
            if seed is not None:
                self._seed = seed
                self._random = random.Random(seed)

    def draw(self) -> str | None:
        """The fault for the next request, if any."""
        with self._lock:
            if not self.faults or self.fault_rate <= 0.0:
                return None
            if self._random.random() >= self.fault_rate:
                return None
            return self._random.choice(self.faults)

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {
                "fault_rate": self.fault_rate,
                "faults": list(self.faults),
                "seed": self._seed,
                "latency_ms": self.latency_ms,
                "stall_seconds": self.stall_seconds,
            }


@dataclass
class JournalEntry:
    """One API request as the sandbox saw it; ``status`` is an int or ``"dropped"``."""

    seq: int
    method: str
    path: str
    query: str
    status: int | str | None = None
    fault: str | None = None


class Journal:
    """Every API request in arrival order (admin routes are not journaled)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: deque[JournalEntry] = deque(maxlen=JOURNAL_SIZE)
        self._seq = 0

    def record(self, method: str, path: str, query: str) -> JournalEntry:
        with self._lock:
            self._seq += 1
            entry = JournalEntry(self._seq, method, path, query)
            self._entries.append(entry)
            return entry

    def items(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(entry) for entry in self._entries]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
