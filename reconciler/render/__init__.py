"""Renderers, one module per format (``text``, ``markdown``, ``json``), each rendering plans
(``plans``) and drift reports (``drift``) with one escaping policy of its own.

The Plan knows nothing about output; these turn it into text for a terminal, markdown for a
pull-request comment or drift issue, or the JSON contract. Modules are imported only when their
format is used. Outputs carry no trailing newline: the caller prints them. An unknown format is
an error, never a silent fallback.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING

from reconciler.errors import UsageError

if TYPE_CHECKING:
    from reconciler.drift import Drift
    from reconciler.plan import Plan

FORMATS = ("text", "markdown", "json")


def render(plans: Sequence[Plan], fmt: str, *, color: bool = False) -> str:
    """The plans in format ``fmt`` (one of ``FORMATS``); ``color`` only affects ``text``."""
    text: str = _module(fmt).plans(plans, color=color)
    return text


def render_drift(drifts: Sequence[Drift], fmt: str) -> str:
    """The drift audit in format ``fmt``."""
    text: str = _module(fmt).drift(drifts)
    return text


def _module(fmt: str) -> ModuleType:
    if fmt not in FORMATS:
        raise UsageError(f"unknown output format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return importlib.import_module(f"reconciler.render.{fmt}")
