"""The click layer: commands parse, call the engine, render, and return an exit code.

``app`` holds the command group, its global options and the one error -> exit code mapping;
``commands`` the commands; ``terminal`` what talks to a terminal or CI log (escaping, progress,
prompts, GitHub annotations).
"""

from __future__ import annotations

from reconciler.cli.app import cli, main

__all__ = ["cli", "main"]
