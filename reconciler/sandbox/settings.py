"""Sandbox settings, kept free of third-party imports so the CLI stays fast to load."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

FAULT_KINDS = ("500", "502", "503", "429", "drop", "drop-after-commit", "stall")
"""Every fault the sandbox can inject, in the spelling used by flags and the admin API."""

PATCH_MODES = ("replace", "merge")


def check_fault_config(fault_rate: float, faults: tuple[str, ...], latency_ms: float) -> None:
    """Raise ValueError for an impossible fault configuration (shared by settings and admin)."""
    if not 0.0 <= fault_rate <= 1.0:
        raise ValueError(f"fault_rate must be between 0 and 1, got {fault_rate}")
    unknown = [kind for kind in faults if kind not in FAULT_KINDS]
    if unknown:
        raise ValueError(f"unknown fault kind(s) {unknown}; choose from {', '.join(FAULT_KINDS)}")
    if latency_ms < 0:
        raise ValueError(f"latency_ms must not be negative, got {latency_ms}")


@dataclass
class SandboxSettings:
    """How one sandbox behaves; every field has a default except where the data lives."""

    db_path: Path
    api_key: str = field(default="sandbox-key", repr=False)
    patch_mode: Literal["replace", "merge"] = "replace"
    latency_ms: float = 0.0
    fault_rate: float = 0.0
    faults: tuple[str, ...] = ()
    seed: int | None = None
    stall_seconds: float = 30.0
    ratings_required: bool = True

    def __post_init__(self) -> None:
        self.db_path = Path(self.db_path)
        self.faults = tuple(str(kind) for kind in self.faults)
        if not self.api_key:
            raise ValueError("api_key must not be empty")
        if self.patch_mode not in PATCH_MODES:
            raise ValueError(f"patch_mode must be one of {PATCH_MODES}, got {self.patch_mode!r}")
        if self.stall_seconds < 0:
            raise ValueError("stall_seconds must not be negative")
        check_fault_config(self.fault_rate, self.faults, self.latency_ms)
