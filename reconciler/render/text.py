"""Terminal and log text: Terraform-like plans (one block per change, a summary line per plan)
and the drift audit.

Colour only when asked (``color=True``): green creates, yellow renames/adopts/updates, red
deletes. Without it the output is plain ASCII-safe text fit for logs and golden files. Every
user-provided string goes through ``values.clean`` (or ``values.quote``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from textwrap import wrap
from typing import Any

import click

from reconciler.drift import SECTIONS, Drift
from reconciler.plan import Change, FieldChange, MaterialChange, Plan
from reconciler.render.groups import Section, layout
from reconciler.render.values import (
    REACH_NAMES,
    REASON_TAGS,
    RELEASE_TEXT,
    base_text,
    block_reason,
    blocked_note,
    cascade_text,
    clean,
    display_url,
    drift_summary,
    format_value,
    kept_note,
    kind_reason,
    orphan_reason,
    outside_text,
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
#: Characters of quoted spec names per line under a shared field change.
_NAMES_WIDTH = 92


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
    if plan.base is not None:
        lines.append(f"  base:      {base_text(plan)}")
    if plan.changes or plan.materials:
        shown = layout(plan, plan.changes)
        reverting = shown.outside.changes or shown.outside.materials
        lines.append("")
        if reverting and (shown.mine.changes or shown.mine.materials):
            lines.append(_HEAD_INDENT + "From this change:")
        lines.extend(_section(shown.mine, plan, color, tagged=False))
        if reverting:
            lines += ["", _HEAD_INDENT + "Changed outside ionworks-apply (apply reverts it):"]
            lines += [_BODY_INDENT + line for line in wrap(outside_text(plan), _NAMES_WIDTH)]
            lines.extend(_section(shown.outside, plan, color, tagged=True))
    lines.append("")
    lines.append(summary_line(plan))
    notes = (blocked_note(plan), status_notes(plan), kept_note(plan))
    lines.extend(note for note in notes if note)
    return "\n".join(lines)


def _section(section: Section, plan: Plan, color: bool, *, tagged: bool) -> list[str]:
    """A section's shared field changes (each once, with its specs), then every change."""
    lines = (
        [_HEAD_INDENT + "Same change in several specs (each shown once):"] if section.shared else []
    )
    for shared in section.shared:
        head = f"~  {_field_line(shared.path, shared.before, shared.after)}"
        head += f", in {len(shared.changes)} specs:"
        if tagged and shared.reason:
            head += f"  [{REASON_TAGS[shared.reason]}]"
        lines.append(_HEAD_INDENT + (click.style(head, fg="yellow") if color else head))
        lines.extend(_BODY_INDENT + line for line in _wrapped(c.name for c in shared.changes))
    for change in section.changes:
        lines.extend(_change(change, section, plan, color, tagged=tagged))
    for material in section.materials:
        lines.extend(_material(material, color))
    return lines


def _wrapped(names: Iterable[str]) -> list[str]:
    """Quoted names, comma-separated, in lines of about ``_NAMES_WIDTH`` characters."""
    lines: list[str] = []
    line = ""
    for name in names:
        piece = quote(name) + ","
        if line and len(line) + 1 + len(piece) > _NAMES_WIDTH:
            lines.append(line)
            line = piece
        else:
            line = f"{line} {piece}" if line else piece
    lines.append(line.removesuffix(","))
    return lines


def _field_line(path: str, before: Any, after: Any) -> str:
    return f"{clean(path)}: {format_value(before)} -> {format_value(after)}"


def _material(material: MaterialChange, color: bool) -> list[str]:
    """A shared material change: what changes, whom it reaches, how apply writes it."""
    head = f"~  material {clean(material.name)}"
    if material.source:
        head += f" ({clean(material.source)})"
    if color:
        head = click.style(head, fg="yellow")
    if material.blocks:
        head += " " + (click.style("[BLOCKED]", fg="red", bold=True) if color else "[BLOCKED]")
    tagged = material.reason in ("outside", "both")
    body = [_detail_line(d, tagged=tagged) for d in material.details]
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


def _detail_line(detail: FieldChange, *, tagged: bool) -> str:
    line = _field_line(detail.path, detail.before, detail.after)
    if tagged and detail.reason:
        line += f"  [{REASON_TAGS[detail.reason]}]"
    return line


def _change(
    change: Change, section: Section, plan: Plan, color: bool, *, tagged: bool
) -> list[str]:
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
    body = _body(change, section, plan, tagged=tagged)
    return [_HEAD_INDENT + head, *(_BODY_INDENT + line for line in body)]


def _body(change: Change, section: Section, plan: Plan, *, tagged: bool) -> list[str]:
    """The indented lines under a change's head line."""
    why = [kind_reason(change)] if tagged and kind_reason(change) else []
    if change.kind == "delete":
        lines = [cascade_text(change.cascade), *why]
        for block in change.blocks:
            lines.append(f"blocked by {block.guard}: {clean(block_reason(block))}")
            lines.append(f"  allow: {clean(block.allow)}")
        return lines
    if change.kind == "orphan":
        return [orphan_reason(plan)]
    if change.kind == "release":
        return [RELEASE_TEXT, *why]
    rest = section.rest_of(change)
    shared = section.shared_count(change)
    lines = ["adopt: add ownership marker"] if change.kind == "adopt" else []
    lines += why
    if change.kind == "create":
        labels = [(clean(d.path) + ":", d.after) for d in rest]
        width = max((len(label) for label, _ in labels), default=0)
        lines += [f"{label:<{width}} {format_value(value)}" for label, value in labels]
    else:
        lines += [_detail_line(d, tagged=tagged) for d in rest]
    if shared:
        also = "and " if rest else ""
        lines.append(f"{also}{plural(shared, 'shared change')} above")
    elif change.kind == "update" and not change.details:
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
