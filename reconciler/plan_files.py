"""Plan files and the JSON envelope: what ``plan --out`` saves and ``apply``/``show`` read.

Every JSON document ionworks-apply writes (plan, drift report, apply report) has the one envelope
of ``envelope``. A plan file is untrusted input: ``load_plans`` validates every field strictly
(pydantic, derived from the plan dataclasses themselves), and apply still never executes it as
written (``reconciler.reviewed``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic_core
from pydantic import ValidationError

from reconciler import __version__
from reconciler.errors import PlanFileError
from reconciler.plan import FORMAT_VERSION, Plan, validator


@dataclass(frozen=True)
class _PlanFile:
    """What a plan file must hold once its envelope was checked."""

    plans: tuple[Plan, ...]


def envelope(document: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The one JSON envelope of every document ionworks-apply writes (plan, drift report, apply
    report): what it is, from which tool and version, in which format version."""
    return {
        "format_version": FORMAT_VERSION,
        "tool": "ionworks-apply",
        "tool_version": __version__,
        "document": document,
        **payload,
    }


def plans_document(plans: list[Plan]) -> dict[str, Any]:
    """The JSON document for one or more plans: the format of ``--format json`` and plan files."""
    return envelope("plan", {"plans": [p.data for p in plans]})


def save_plans(plans: list[Plan], path: Path, *, mask: Callable[[str], str] = str) -> None:
    """Write a plan file for ``apply``: ids, digests and bodies, through ``mask`` (the CLI's
    secret mask: a server could echo a credential inside a live value)."""
    text = json.dumps(plans_document(plans), indent=2, sort_keys=True, allow_nan=False)
    try:
        path.write_text(mask(text) + "\n", encoding="utf-8")
    except OSError as exc:
        raise PlanFileError(f"cannot write plan file {path}: {exc.strerror}") from exc


#: A plan file larger than this is not one we wrote (10,000 changes take about 30 MB).
MAX_PLAN_FILE_BYTES = 256 * 1024 * 1024


def load_plans(path: Path) -> list[Plan]:
    """Read a plan file written by ``plan --out``, validating every field strictly.

    The file is untrusted input: anything unreadable, from another format or version, or
    malformed (a null, a wrong type, a missing field, absurd nesting) is one PlanFileError.
    Well-formed is not trusted either: apply checks each change against a fresh plan.
    """
    try:
        if path.stat().st_size > MAX_PLAN_FILE_BYTES:
            raise PlanFileError(f"{path} is larger than any plan file ionworks-apply writes")
        text = path.read_bytes()
    except OSError as exc:
        raise PlanFileError(f"cannot read plan file {path}: {exc.strerror}") from exc
    try:
        document = pydantic_core.from_json(text)
    except ValueError as exc:
        raise PlanFileError(f"{path} is not a plan file written by `plan --out` ({exc})") from None
    if (
        not isinstance(document, dict)
        or document.get("tool") != "ionworks-apply"
        or document.get("document", "plan") != "plan"
    ):
        raise PlanFileError(f"{path} is not a plan file written by `ionworks-apply plan --out`")
    if document.get("format_version") != FORMAT_VERSION:
        raise PlanFileError(
            f"{path} has plan format {document.get('format_version')!r}; this ionworks-apply "
            f"reads format {FORMAT_VERSION}. Make a new plan with this version."
        )
    if document.get("tool_version") != __version__:
        raise PlanFileError(
            f"{path} was made by ionworks-apply {document.get('tool_version')}; this is "
            f"{__version__}. Make a new plan with this version so it is applied as reviewed."
        )
    try:
        saved: _PlanFile = validator(_PlanFile).validate_json(text, strict=True)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "(document)"
        more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
        raise PlanFileError(
            f"{path} is damaged or was edited: {where}: {first['msg']}{more}"
        ) from None
    if not saved.plans:
        raise PlanFileError(f"{path} holds no plans: make a new plan with `plan --out`")
    return list(saved.plans)
