"""Renderers of the drift audit: text for logs, markdown for the drift issue, JSON for tools."""

from __future__ import annotations

import json
from collections.abc import Sequence

from reconciler.drift import SECTIONS, Drift, drift_document
from reconciler.render.values import clean, format_value, plural

MARKDOWN_MARKER = "<!-- ionworks-apply-drift -->"


def render(drifts: Sequence[Drift], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(drift_document(list(drifts)), indent=2, sort_keys=True)
    if fmt == "markdown":
        return _markdown(drifts)
    return "\n\n".join(_text(d) for d in drifts)


def summary(drift: Drift) -> str:
    if drift.in_sync:
        return f"In sync: {plural(len(drift.plan.unchanged), 'spec')} match the manifests."
    counts = drift.counts()
    parts = [
        f"{n} {title.split(' (')[0]}"
        for (kind, title), n in zip(SECTIONS, (counts[k] for k, _ in SECTIONS), strict=True)
        if n
    ]
    return "Drift: " + ", ".join(parts) + "."


def _text(drift: Drift) -> str:
    plan = drift.plan
    lines = [
        f"Drift audit of project {clean(plan.project_id)} (owner {clean(plan.owner)})",
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
    if plan.unmanaged:
        lines.append(f"  unmanaged (no ownership marker, left alone): {len(plan.unmanaged)}")
        lines.extend(f"    {clean(name)}" for name in plan.unmanaged)
    lines.append(summary(drift))
    return "\n".join(lines)


def _cell(text: str) -> str:
    escaped = clean(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.replace("|", "\\|").replace("`", "&#96;").replace("*", "\\*")


def _markdown(drifts: Sequence[Drift]) -> str:
    lines = [MARKDOWN_MARKER, "## Ionworks drift audit", ""]
    for drift in drifts:
        plan = drift.plan
        lines += [f"### Project {_cell(plan.project_id)} ({_cell(plan.manifests_dir)})", ""]
        lines += [f"**{_cell(summary(drift))}**", ""]
        for kind, title in SECTIONS:
            changes = drift.section(kind)
            if not changes:
                continue
            lines += [f"#### {title[0].upper()}{title[1:]}", ""]
            if kind != "update":
                lines += [f"- {_cell(c.name)}" for c in changes] + [""]
                continue
            lines += ["| spec | field | live | manifest |", "| --- | --- | --- | --- |"]
            for change in changes:
                for detail in change.details:
                    lines.append(
                        f"| {_cell(change.name)} | {_cell(detail.path)} | "
                        f"{_cell(format_value(detail.before))} | "
                        f"{_cell(format_value(detail.after))} |"
                    )
            lines.append("")
        if plan.unmanaged:
            lines += [
                f"<details><summary>{len(plan.unmanaged)} unmanaged specs (no ownership "
                "marker, left alone)</summary>",
                "",
                *(f"- {_cell(name)}" for name in plan.unmanaged),
                "",
                "</details>",
                "",
            ]
    return "\n".join(lines).rstrip("\n")
