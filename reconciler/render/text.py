"""Terminal and log text: Terraform-like plans (one block per change, a summary line per plan)
and the drift audit.

Colour only when asked (``color=True``): green creates, yellow renames/adopts/updates, red
deletes. Without it the output is plain ASCII-safe text fit for logs and golden files. Every
user-provided string goes through ``values.clean`` (or ``values.quote``).
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from reconciler.drift import SECTIONS, Drift
from reconciler.plan import Change, MaterialChange, Plan
from reconciler.render.values import (
    REACH_NAMES,
    RELEASE_TEXT,
    blocked_note,
    cascade_text,
    clean,
    created_fields,
    display_url,
    drift_summary,
    format_value,
    kept_note,
    orphan_reason,
    plural,
    quote,
    reach_groups,
    reach_summary,
    route_text,
    status_notes,
    summary_line,
)

_SYMBOL = {
    "create": "+",
    "rename": "->",
    "adopt": "~",
    "update": "~",
    "release": "=",
    "delete": "-",
    "orphan": "!",
}
_COLOUR = {
    "create": "green",
    "rename": "yellow",
    "adopt": "yellow",
    "update": "yellow",
    "release": "cyan",
    "delete": "red",
}
_HEAD_INDENT = "  "
_BODY_INDENT = "       "


def plans(rendered: Sequence[Plan], *, color: bool = False) -> str:
    """The plans as terminal text, without a trailing newline."""
    if not rendered:
        return "No projects to plan."
    return "\n\n".join(_plan(plan, color) for plan in rendered)


def project_title(plan: Plan) -> str:
    """``"Cells R&D" (<id>, owner o)``, or ``<id> (owner o)`` when the API gave no name."""
    if plan.project_name is None:
        return f"{clean(plan.project_id)} (owner {clean(plan.owner)})"
    return f"{quote(plan.project_name)} ({clean(plan.project_id)}, owner {clean(plan.owner)})"


def _plan(plan: Plan, color: bool) -> str:
    lines = [
        f"Project {project_title(plan)}",
        f"  manifests: {clean(plan.manifests_dir)}",
        f"  api:       {display_url(plan.api_url)}",
    ]
    if plan.changes or plan.materials:
        lines.append("")
        for change in plan.changes:
            lines.extend(_change(change, plan, color))
        for material in plan.materials:
            lines.extend(_material(material, color))
    lines.append("")
    lines.append(summary_line(plan))
    notes = (blocked_note(plan), status_notes(plan), kept_note(plan))
    lines.extend(note for note in notes if note)
    return "\n".join(lines)


def _material(material: MaterialChange, color: bool) -> list[str]:
    """A shared material change: what changes, whom it reaches, how apply writes it."""
    head = f"~  material {clean(material.name)}"
    if material.source:
        head += f" ({clean(material.source)})"
    if color:
        head = click.style(head, fg="yellow")
    if material.blocks:
        head += " " + (click.style("[BLOCKED]", fg="red", bold=True) if color else "[BLOCKED]")
    body = [
        f"{clean(d.path)}: {format_value(d.before)} -> {format_value(d.after)}"
        for d in material.details
    ]
    body.append(reach_summary(material) + ":")
    for label, reached in reach_groups(material):
        names = [
            quote(r.name) + (f" ({plural(r.instances, 'cell')})" if r.instances else "")
            for r in reached
        ]
        more = f", and {len(names) - REACH_NAMES} more" if len(names) > REACH_NAMES else ""
        body.append(f"  {label}: {', '.join(names[:REACH_NAMES])}{more}")
    body.append(route_text(material))
    for block in material.blocks:
        body.append(f"blocked by {block.guard}: {clean(block.reason)}")
        body.append(f"  allow: {clean(block.allow)}")
    return [_HEAD_INDENT + head, *(_BODY_INDENT + line for line in body)]


def _change(change: Change, plan: Plan, color: bool) -> list[str]:
    head = f"{_SYMBOL[change.kind]:<2} {change.kind} "
    if change.kind == "rename" and change.previous_name is not None:
        head += f"{quote(change.previous_name)} -> {quote(change.name)}"
    else:
        head += quote(change.name)
    where = change.source or (f"id {change.spec_id}" if change.spec_id else "")
    if where:
        head += f" ({clean(where)})"
    colour = _COLOUR.get(change.kind)
    if color and colour:
        head = click.style(head, fg=colour)
    if change.blocks:
        head += " " + (click.style("[BLOCKED]", fg="red", bold=True) if color else "[BLOCKED]")
    return [_HEAD_INDENT + head, *(_BODY_INDENT + line for line in _body(change, plan))]


def _body(change: Change, plan: Plan) -> list[str]:
    """The indented lines under a change's head line."""
    if change.kind == "create":
        fields = [(clean(f) + ":", value) for f, value in created_fields(change)]
        width = max((len(label) for label, _ in fields), default=0)
        return [f"{label:<{width}} {format_value(value)}" for label, value in fields]
    if change.kind == "delete":
        lines = [cascade_text(change.cascade)]
        for block in change.blocks:
            lines.append(f"blocked by {block.guard}: {clean(block.reason)}")
            lines.append(f"  allow: {clean(block.allow)}")
        return lines
    if change.kind == "orphan":
        return [orphan_reason(plan)]
    if change.kind == "release":
        return [RELEASE_TEXT]
    lines = ["adopt: add ownership marker"] if change.kind == "adopt" else []
    lines.extend(
        f"{clean(d.path)}: {format_value(d.before)} -> {format_value(d.after)}"
        for d in change.details
    )
    if change.kind == "update" and not change.details:
        lines.append("fields: " + ", ".join(clean(f) for f in change.fields))
    return lines


def drift(drifts: Sequence[Drift]) -> str:
    """The drift audit: per project, each section of drift and the unmanaged specs."""
    return "\n\n".join(_drift(d) for d in drifts)


def _drift(drift: Drift) -> str:
    plan = drift.plan
    lines = [
        f"Drift audit of project {project_title(plan)}",
        f"  manifests: {clean(plan.manifests_dir)}",
    ]
    for kind, title in SECTIONS:
        changes = drift.section(kind)
        if not changes:
            continue
        lines.append(f"  {title}:")
        for change in changes:
            where = f"  ({clean(change.source)})" if change.source else ""
            lines.append(f"    {clean(change.name)}{where}")
            if change.previous_name:
                lines.append(f"      still named {clean(change.previous_name)}")
            for detail in change.details:
                lines.append(
                    f"      {clean(detail.path)}: live {format_value(detail.before)}, "
                    f"manifest {format_value(detail.after)}"
                )
    if plan.materials:
        lines.append("  shared materials differing (each reaches every spec using it):")
    for material in plan.materials:
        lines.append(f"    material {clean(material.name)}: {reach_summary(material)}")
        lines.extend(
            f"      {clean(d.path)}: live {format_value(d.before)}, "
            f"manifest {format_value(d.after)}"
            for d in material.details
        )
    if plan.other_owners:
        lines.append(f"  managed by other owners (left alone): {len(plan.other_owners)}")
        lines.extend(
            f"    {clean(name)}  (managed by {clean(owner)})"
            for name, owner in plan.other_owners.items()
        )
    if plan.unmanaged:
        lines.append(f"  unmanaged (no ownership marker, left alone): {len(plan.unmanaged)}")
        lines.extend(f"    {clean(name)}" for name in plan.unmanaged)
    lines.append(drift_summary(drift))
    return "\n".join(lines)
