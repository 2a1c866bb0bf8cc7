"""The JSON plan: the stable contract CI reads, the same document ``plan --out`` saves.

``Plan.from_data`` of each entry under ``plans`` gives back the plan rendered.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from reconciler.plan import Plan, plans_document


def render(plans: Sequence[Plan], *, color: bool = False) -> str:
    """``plans_document`` as indented JSON with sorted keys; ``color`` is ignored."""
    return json.dumps(plans_document(list(plans)), indent=2, sort_keys=True, allow_nan=False)
