"""Plan renderers, one module per format, each ``render(plans, *, color=False) -> str``.

The Plan knows nothing about output; these turn it into text for a terminal, markdown for a
pull-request comment, or the JSON contract. Modules are imported only when their format is used.
Outputs carry no trailing newline: the caller prints them.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.errors import UsageError
from reconciler.plan import Plan

FORMATS = ("text", "markdown", "json")


def render(plans: Sequence[Plan], fmt: str, *, color: bool = False) -> str:
    """The plans in format ``fmt`` (one of ``FORMATS``); ``color`` only affects ``text``."""
    if fmt == "text":
        from reconciler.render import text

        return text.render(plans, color=color)
    if fmt == "markdown":
        from reconciler.render import markdown

        return markdown.render(plans)
    if fmt == "json":
        from reconciler.render import json

        return json.render(plans)
    raise UsageError(f"unknown output format {fmt!r}; choose one of {', '.join(FORMATS)}")
