"""``python -m reconciler`` runs the CLI, like the ``ionworks-apply`` script."""

from __future__ import annotations

from reconciler.cli import main

main()
