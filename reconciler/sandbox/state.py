"""What one running sandbox shares between its gateway and its routes."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from reconciler.sandbox.db import Database
from reconciler.sandbox.faults import FaultInjector, Journal
from reconciler.sandbox.query import Shuffler
from reconciler.sandbox.settings import Behaviour, SandboxSettings


@dataclass
class SandboxState:
    settings: SandboxSettings
    db: Database
    faults: FaultInjector
    behaviour: Behaviour
    """Read once per request; ``PUT /_sandbox/behaviour`` swaps in a new value."""
    shuffler: Shuffler
    journal: Journal = field(default_factory=Journal)
    stopping: threading.Event = field(default_factory=threading.Event)
    """Set when the server shuts down, so stalled requests stop waiting."""

    @classmethod
    def open(cls, settings: SandboxSettings) -> SandboxState:
        faults = FaultInjector(
            fault_rate=settings.fault_rate,
            faults=settings.faults,
            seed=settings.seed,
            latency_ms=settings.latency_ms,
            stall_seconds=settings.stall_seconds,
        )
        return cls(
            settings=settings,
            db=Database(settings.db_path),
            faults=faults,
            behaviour=settings.behaviour(),
            shuffler=Shuffler(settings.seed),
        )
