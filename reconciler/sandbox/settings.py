"""Sandbox settings, kept free of third-party imports so the CLI stays fast to load.

``Behaviour`` holds the switches for what the API contract leaves *inferred* or *unknown*; each
is a ``sandbox serve`` flag of the same name and can be changed while serving
(``PUT /_sandbox/behaviour``). ``SandboxSettings`` adds what is fixed for a server's lifetime.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

FAULT_KINDS = ("500", "502", "503", "429", "drop", "drop-after-commit", "stall")
"""Every fault the sandbox can inject, in the spelling used by flags and the admin API."""

PatchMode = Literal["replace", "merge"]
ListOrder = Literal["stable", "unstable"]
WriteResponse = Literal["full", "metadata"]
NestedNull = Literal["clear", "reject"]
MaterialUpsert = Literal["update", "keep-first", "per-spec"]

CHOICES: dict[str, tuple[str, ...]] = {
    "patch_mode": get_args(PatchMode),
    "list_order": get_args(ListOrder),
    "write_response": get_args(WriteResponse),
    "nested_null": get_args(NestedNull),
    "material_upsert": get_args(MaterialUpsert),
}
"""The allowed values of every choice-valued behaviour switch; the first is the default."""

MAX_BODY_BYTES = 16 * 1024 * 1024
"""Default request body cap, on the wire and again after gzip: a spec body is a few KiB."""


def check_fault_config(fault_rate: float, faults: tuple[str, ...], latency_ms: float) -> None:
    """Raise ValueError for an impossible fault configuration (shared by settings and admin)."""
    if not 0.0 <= fault_rate <= 1.0:
        raise ValueError(f"fault_rate must be between 0 and 1, got {fault_rate}")
    unknown = [kind for kind in faults if kind not in FAULT_KINDS]
    if unknown:
        raise ValueError(f"unknown fault kind(s) {unknown}; choose from {', '.join(FAULT_KINDS)}")
    if latency_ms < 0:
        raise ValueError(f"latency_ms must not be negative, got {latency_ms}")


def key_problem(key: str) -> str | None:
    """Why ``key`` cannot be a credential (None if it can): it must survive an HTTP header."""
    if not key:
        return "must not be empty"
    if not all("!" <= char <= "~" for char in key):
        return "must be printable ASCII without spaces"
    return None


@dataclass(kw_only=True)
class Behaviour:
    """How the sandbox answers where the real API's behaviour is not known.

    Treated as a value: a running sandbox swaps the whole object (``changed``), never a field.
    """

    patch_mode: PatchMode = "replace"
    list_order: ListOrder = "stable"
    write_response: WriteResponse = "full"
    nested_null: NestedNull = "clear"
    material_upsert: MaterialUpsert = "update"
    strict_text: bool = False
    ratings_required: bool = True

    def __post_init__(self) -> None:
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}"
                )
        for name in ("strict_text", "ratings_required"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false")

    def changed(self, **changes: Any) -> Behaviour:
        """A validated copy with ``changes`` applied (unknown names raise TypeError)."""
        current = {f.name: getattr(self, f.name) for f in dataclasses.fields(Behaviour)}
        return Behaviour(**{**current, **changes})

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(Behaviour)}


@dataclass(kw_only=True)
class SandboxSettings(Behaviour):
    """How one sandbox behaves; every field has a default except where the data lives."""

    db_path: Path
    api_key: str = field(default="sandbox-key", repr=False)
    viewer_key: str | None = field(default=None, repr=False)
    """A second credential with read-only rights: writes answer 403 FORBIDDEN."""
    latency_ms: float = 0.0
    fault_rate: float = 0.0
    faults: tuple[str, ...] = ()
    seed: int | None = None
    """Seeds the fault draws and the shuffles of ``list_order="unstable"``."""
    stall_seconds: float = 30.0
    max_body_bytes: int = MAX_BODY_BYTES

    def __post_init__(self) -> None:
        super().__post_init__()
        self.db_path = Path(self.db_path)
        self.faults = tuple(str(kind) for kind in self.faults)
        for name, key in (("api_key", self.api_key), ("viewer_key", self.viewer_key)):
            problem = None if key is None else key_problem(key)
            if problem:
                raise ValueError(f"{name} {problem}")
        if self.viewer_key is not None and self.viewer_key == self.api_key:
            raise ValueError("viewer_key must differ from api_key")
        if self.stall_seconds < 0:
            raise ValueError("stall_seconds must not be negative")
        if self.max_body_bytes < 1024:
            raise ValueError("max_body_bytes must be at least 1024")
        check_fault_config(self.fault_rate, self.faults, self.latency_ms)

    def behaviour(self) -> Behaviour:
        """The switches a server starts with."""
        return Behaviour(**Behaviour.as_dict(self))
