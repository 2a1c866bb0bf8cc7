"""The project config, ``ionworks-apply.yaml`` at the root of a manifests directory.

It says which project the manifests describe, who owns the specs they create (the marker
written into ``properties.managed_by``), and how careful deletes must be. The file is optional;
every key has a safe default (no pruning). Errors are reported like manifest errors, with
``file:line:col``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from reconciler.errors import Location, Problem
from reconciler.ownership import marker_for
from reconciler.schema import TOP_LEVEL_FIELDS, validation_issues
from reconciler.schema_checks import ignore_field_problem
from reconciler.yaml_source import parse_documents
from reconciler.yaml_text import display_path, read_text

CONFIG_FILENAME = "ionworks-apply.yaml"
_OWNER = re.compile(r"[A-Za-z0-9._-]{1,64}")


def _non_empty_glob(glob: str) -> str:
    if not glob.strip():
        raise ValueError("a protect glob must not be empty")
    return glob


def _non_empty_release_glob(glob: str) -> str:
    if not glob.strip():
        raise ValueError("a release glob must not be empty")
    return glob


def _ignorable_field(field: str) -> str:
    problem = ignore_field_problem(field, TOP_LEVEL_FIELDS)
    if problem:
        raise ValueError(problem)
    return field


Glob = Annotated[str, AfterValidator(_non_empty_glob)]
ReleaseGlob = Annotated[str, AfterValidator(_non_empty_release_glob)]
IgnoredField = Annotated[str, AfterValidator(_ignorable_field)]


class ProjectConfig(BaseModel):
    """Settings for one manifests directory; every key is optional."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    project_id: str | None = Field(
        default=None, description="The Ionworks project the specs belong to."
    )
    owner: str = Field(
        default="default",
        description="Who owns the specs created from these manifests: they carry "
        "properties.managed_by = ionworks-apply/<owner>, and only such specs are ever pruned.",
    )
    prune: bool = Field(
        default=False, description="Delete owned specs that no manifest declares any more."
    )
    protect: list[Glob] = Field(
        default_factory=list, description="Globs of spec names that are never deleted."
    )
    max_deletes: int = Field(
        default=10, ge=0, description="Refuse a plan that deletes more specs than this."
    )
    max_delete_percent: float = Field(
        default=25.0,
        ge=0,
        le=100,
        allow_inf_nan=False,
        description="Refuse a plan that deletes more than this percent of the owned specs "
        "(checked from 10 owned specs up).",
    )
    allow_cascade: bool = Field(
        default=False,
        description="Allow deleting specs that have cell instances (their measurements go too).",
    )
    allow_shared_material_changes: bool = Field(
        default=False,
        description="Allow a material change that reaches specs this directory does not manage "
        "(another owner's, or unmanaged ones): materials are shared by every spec using them.",
    )
    release: list[ReleaseGlob] = Field(
        default_factory=list,
        description="Globs of spec names to stop managing without deleting them: apply removes "
        "the ownership marker and keeps the spec, its cell instances and measurements; it is "
        "unmanaged from then on (never pruned, not drift). No manifest may declare such a spec.",
    )
    ignore_fields: list[IgnoredField] = Field(
        default_factory=list,
        description="Dotted paths never diffed for any spec, e.g. properties.last_calibrated.",
    )

    @field_validator("owner")
    @classmethod
    def _owner_is_a_marker_word(cls, owner: str) -> str:
        if not _OWNER.fullmatch(owner):
            raise ValueError(
                f"{owner!r} must be 1-64 letters, digits, '.', '_' or '-' "
                "(it becomes part of the ownership marker)"
            )
        return owner

    @property
    def marker(self) -> str:
        """The ``properties.managed_by`` value of specs this directory owns."""
        return marker_for(self.owner)


def read_config(root: Path) -> tuple[ProjectConfig | None, list[Problem]]:
    """The config (defaults when there is no file) and every problem or warning in it."""
    path = root / CONFIG_FILENAME
    if not path.exists() and not path.is_symlink():
        return ProjectConfig(), []
    display = display_path(path)
    if path.is_symlink() and not _inside(path, root):
        return None, [Problem(Location(display), "symlink points outside the manifests directory")]
    text, problems = read_text(path, display)
    if text is None:
        return None, problems
    parsed = parse_documents(text, display, full_positions=True)
    if parsed.problems:
        return None, parsed.problems
    documents = [doc for doc in parsed.documents if doc.value is not None]
    if not documents:
        warning = Problem(Location(display, 1, 1), "config is empty; using defaults", "warning")
        return ProjectConfig(), [warning]
    if len(documents) > 1:
        where = documents[1].location()
        return None, [Problem(where, "the config is a single YAML document; remove the '---'")]
    document = documents[0]
    if not isinstance(document.value, dict):
        got = "a list" if isinstance(document.value, list) else "a single value"
        return None, [Problem(document.location(), f"the config must be a mapping, got {got}")]
    data: dict[str, Any] = document.value
    try:
        return ProjectConfig.model_validate(data), []
    except ValidationError as exc:
        issues = validation_issues(exc, ProjectConfig)
    return None, [
        Problem(document.location(issue.path, key=issue.at_key), issue.message) for issue in issues
    ]


def _inside(path: Path, root: Path) -> bool:
    real_root = os.path.realpath(root)
    return os.path.commonpath([os.path.realpath(path), real_root]) == real_root
