"""JSON: the stable contract CI reads, for plans (the document ``plan --out`` saves), drift
reports and apply reports, each in the one envelope of ``reconciler.plan.envelope``.

``Plan.from_data`` of each entry under ``plans`` gives back the plan rendered.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from reconciler.drift import Drift
from reconciler.plan import Plan
from reconciler.plan_files import envelope, plans_document
from reconciler.results import ApplyResult


def plans(rendered: Sequence[Plan], *, color: bool = False) -> str:
    """``plans_document`` as indented JSON with sorted keys; ``color`` is ignored."""
    return _dumps(plans_document(list(rendered)))


def drift(drifts: Sequence[Drift]) -> str:
    """The drift audit: ``in_sync`` overall, and per project its counts and differences."""
    return _dumps(
        envelope(
            "drift",
            {"in_sync": all(d.in_sync for d in drifts), "projects": [d.data for d in drifts]},
        )
    )


def render_report(results: Sequence[ApplyResult]) -> str:
    """The apply report (``apply --report``): every change, its outcome and spec id."""
    return _dumps(envelope("apply-report", {"results": [r.data for r in results]}))


def _dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, allow_nan=False)
