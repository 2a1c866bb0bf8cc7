"""``python -m reconciler.sandbox serve`` works even where the main CLI is not installed."""

from __future__ import annotations

from reconciler.sandbox.cli import sandbox

sandbox(prog_name="python -m reconciler.sandbox")
