"""Markdown for GitHub: plans as a pull-request comment, the drift audit as an issue body.

The first line is a hidden marker that workflows use to find and update their sticky comment.
A plan comment reads from what is most dangerous down: deletes in a ``[!CAUTION]`` alert,
each once with what goes with it; blocked changes in a ``[!WARNING]`` with what would allow
them; with ``plan --base``, changes that revert edits made outside ionworks-apply in an
``[!IMPORTANT]`` alert and a section of their own; then field changes several specs share,
each once (``groups``), and a collapsible section per spec (``markdown_changes``). A comment too
long for GitHub is shortened by ``markdown_budget``, which says what was left out.

Every user-provided string (names, paths, values) goes through the one markdown escaping
policy of ``markdown_escape`` (code spans, ``<code>`` in HTML blocks, escaped prose), so a spec
named ``<script>`` or holding ``|`` or backticks cannot inject HTML, mention anyone or break a
table.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.drift import SECTIONS, Drift
from reconciler.plan import Change, MaterialChange, Plan
from reconciler.render.groups import Layout, Section, layout, reverts
from reconciler.render.markdown_budget import Quota, fit, omission_note
from reconciler.render.markdown_changes import (
    Pieces,
    cell,
    material,
    section_block,
    table,
)
from reconciler.render.markdown_escape import code, md, prose
from reconciler.render.values import (
    REACH_NAMES,
    base_text,
    block_reason,
    cascade_text,
    display_url,
    drift_summary,
    kept_note,
    kind_reason,
    outside_text,
    plural,
    short_commit,
    status_notes,
    summary_line,
)

MARKER = "<!-- ionworks-apply-plan -->"
DRIFT_MARKER = "<!-- ionworks-apply-drift -->"
#: Fields named per change in the alert of changes that revert outside edits.
_ALERT_FIELDS = 3


def plans(rendered: Sequence[Plan], *, color: bool = False) -> str:
    """The comment, shortened to fit GitHub's limit when needed; ``color`` is ignored."""
    pieces = Pieces()
    layouts = [layout(plan) for plan in rendered]
    sections = sum(_items(shown) for shown in layouts)
    alerts = sum(_alert_items(plan) for plan in rendered)

    def document(quota: Quota) -> str:
        blocks = [
            _plan(plan, shown, quota, pieces) for plan, shown in zip(rendered, layouts, strict=True)
        ] or ["No projects to plan."]
        head = [f"{MARKER}\n## ionworks-apply plan"]
        if quota.omitted:
            head.append(omission_note(quota.omitted))
        return "\n\n".join(head + blocks)

    return fit(document, sections=sections, alerts=alerts)


def _items(shown: Layout) -> int:
    """Sections a plan may show: shared field changes and changes other than deletes."""
    return sum(
        len(part.shared) + sum(1 for c in part.changes if c.kind != "delete")
        for part in (shown.mine, shown.outside)
    )


def _alert_items(plan: Plan) -> int:
    reverting = sum(1 for c in plan.writing_changes if reverts(c))
    reverting += sum(1 for m in plan.materials if reverts(m))
    return len(plan.of_kind("delete")) + len(plan.blocked) + len(plan.of_kind("orphan")) + reverting


def _plan(plan: Plan, shown: Layout, quota: Quota, pieces: Pieces) -> str:
    blocks = [
        f"### Project {_project(plan)}",
        f"Owner {code(plan.owner)} · manifests {code(plan.manifests_dir)} · "
        f"API {code(display_url(plan.api_url))}",
        _base(plan),
        f"**{summary_line(plan)}**",
        _caution(plan, quota),
        _warning(plan, quota),
        _reverting(plan, quota),
        _shared(plan),
        _orphans(plan, quota),
    ]
    if _listed(shown.outside) and _listed(shown.mine):
        blocks.append("#### From this change")
    blocks.append(section_block(shown.mine, quota, pieces, tagged=False))
    blocks += [material(m) for m in shown.mine.materials]
    if _listed(shown.outside):
        blocks += [
            "#### Changed outside ionworks-apply: apply reverts it",
            prose(outside_text(plan, "`")),
            section_block(shown.outside, quota, pieces, tagged=True),
            *(material(m) for m in shown.outside.materials),
        ]
    blocks += [status_notes(plan), md(kept_note(plan))]
    return "\n\n".join(b for b in blocks if b)


def _listed(section: Section) -> bool:
    """Whether a section shows anything below the alerts (deletes are shown only there)."""
    return bool(section.materials) or any(c.kind != "delete" for c in section.changes)


def _base(plan: Plan) -> str:
    return f"Base: {prose(base_text(plan, '`'))}." if plan.base is not None else ""


def _shared(plan: Plan) -> str:
    """The loud block: material changes that reach specs this directory does not manage."""
    beyond = [m for m in plan.materials if m.beyond_here]
    if not beyond:
        return ""
    lines = [
        "> [!WARNING]",
        f"> **{plural(len(beyond), 'shared material')} would also change specs this directory "
        "does not manage.** A material is shared by every spec that uses it.",
        ">",
    ]
    for found in beyond:
        outside = ", ".join(code(r.name) for r in found.beyond_here[:REACH_NAMES])
        more = len(found.beyond_here) - REACH_NAMES
        lines.append(
            f"> - {code(found.name)}: {outside}" + (f" and {more} more" if more > 0 else "")
        )
        lines.extend(f">   - {prose(b.reason)}. **Allow:** {prose(b.allow)}" for b in found.blocks)
    return "\n".join(lines)


def _project(plan: Plan) -> str:
    """The project's name and id as code, or the id alone when the API gave no name."""
    if plan.project_name is None:
        return code(plan.project_id)
    return f"{code(plan.project_name)} ({code(plan.project_id)})"


def _alert(kind: str, headline: str, items: list[str], quota: Quota) -> str:
    lines = [f"> [!{kind}]", f"> {headline}", ">"]
    shown = [item for item in items if quota.take("alerts")]
    lines += [f"> - {item}" for item in shown]
    if len(shown) < len(items):
        lines.append(f"> - … and {len(items) - len(shown)} more in the full plan")
    return "\n".join(lines)


def _caution(plan: Plan, quota: Quota) -> str:
    """Every delete, once: what goes with it, its id, and whether it is blocked."""
    deletes = plan.of_kind("delete")
    if not deletes:
        return ""
    total = plan.total_cascade()
    went = "" if total.empty else f" (with {total.describe()})"
    headline = (
        f"**This plan deletes {plural(len(deletes), 'cell specification')}{went}.** "
        "Deleting a spec also deletes its cell instances, batches and measurements; "
        "this cannot be undone."
    )
    return _alert("CAUTION", headline, [_delete_item(c) for c in deletes], quota)


def _delete_item(change: Change) -> str:
    facts = [code(change.name), md(cascade_text(change.cascade))]
    if change.spec_id:
        facts.append(f"id {code(change.spec_id)}")
    if change.blocks:
        facts.append("**blocked** (below)")
    if kind_reason(change):
        facts.append(md(kind_reason(change)))
    return " · ".join(facts)


def _warning(plan: Plan, quota: Quota) -> str:
    blocked = plan.blocked
    if not blocked:
        return ""
    it = "it" if len(blocked) == 1 else "them"
    headline = f"**{plural(len(blocked), 'delete')} blocked**: apply refuses {it} until allowed."
    items = [
        code(c.name)
        + "".join(
            f"\n>   - {b.guard}: {prose(block_reason(b))}. **Allow:** {prose(b.allow)}"
            for b in c.blocks
        )
        for c in blocked
    ]
    return _alert("WARNING", headline, items, quota)


def _reverting(plan: Plan, quota: Quota) -> str:
    """With ``--base``: the changes that set back an edit made outside ionworks-apply."""
    found: list[Change | MaterialChange] = [c for c in plan.writing_changes if reverts(c)]
    found += [m for m in plan.materials if reverts(m)]
    if not found:
        return ""
    verb = "reverts" if len(found) == 1 else "revert"
    headline = (
        f"**{plural(len(found), 'change')} {verb} edits made outside ionworks-apply.** "
        f"The manifests at {code(short_commit(plan.base or ''))} already say what "
        f"{'it sets' if len(found) == 1 else 'they set'}: approving this plan sets Ionworks "
        "back (details below). To keep an edit, put it in the manifests instead."
    )
    return _alert("IMPORTANT", headline, [_reverting_item(c) for c in found], quota)


def _reverting_item(change: Change | MaterialChange) -> str:
    """The spec (or material) and the fields it sets back (saying where this change sets one
    too)."""
    fields = [d for d in change.details if d.reason in ("outside", "both")]
    if isinstance(change, MaterialChange):
        return f"material {code(change.name)}: " + ", ".join(code(d.path) for d in fields)
    if not fields:
        return f"{code(change.name)} ({change.kind})"
    shown = ", ".join(
        code(d.path) + (" (this change sets it too)" if d.reason == "both" else "")
        for d in fields[:_ALERT_FIELDS]
    )
    more = f" and {len(fields) - _ALERT_FIELDS} more" if len(fields) > _ALERT_FIELDS else ""
    return f"{code(change.name)}: {shown}{more}"


def _orphans(plan: Plan, quota: Quota) -> str:
    orphans = plan.of_kind("orphan")
    if not orphans:
        return ""
    verb = "is" if len(orphans) == 1 else "are"
    headline = f"**{plural(len(orphans), 'spec')} {verb} orphaned, not deleted**"
    if not plan.prune:
        headline += ": prune is off (use `--prune` or `prune: true`)."
    return _alert("NOTE", headline, [code(c.name) for c in orphans], quota)


def drift(drifts: Sequence[Drift]) -> str:
    """The drift issue's body: a summary per project, a table of changed fields, lists of the
    rest, and the unmanaged specs folded away. User text is code, as in plans."""
    lines = [DRIFT_MARKER, "## Ionworks drift audit", ""]
    for report in drifts:
        plan = report.plan
        lines += [f"### Project {_project(plan)} · {code(plan.manifests_dir)}", ""]
        lines += [f"**{md(drift_summary(report))}**", ""]
        for kind, title in SECTIONS:
            changes = report.section(kind)
            if not changes:
                continue
            lines += [f"#### {md(title[0].upper() + title[1:])}", ""]
            if kind != "update":
                lines += [f"- {code(c.name)}" for c in changes] + [""]
                continue
            rows = [
                [
                    code(c.name, in_table=True),
                    code(d.path, in_table=True),
                    cell(d.before),
                    cell(d.after),
                ]
                for c in changes
                for d in c.details
            ]
            lines += [table(["Spec", "Field", "Live", "Manifest"], rows), ""]
        if plan.materials:
            lines += ["#### Shared materials differing", ""]
            lines += [material(m) for m in plan.materials] + [""]
        if plan.other_owners:
            lines += _folded(
                f"{plural(len(plan.other_owners), 'spec')} managed by other owners (left alone)",
                [f"{code(name)} (managed by {code(o)})" for name, o in plan.other_owners.items()],
            )
        if plan.unmanaged:
            lines += _folded(
                plural(len(plan.unmanaged), "unmanaged spec")
                + " (no ownership marker, left alone)",
                [code(name) for name in plan.unmanaged],
            )
    return "\n".join(lines).rstrip("\n")


def _folded(summary: str, items: list[str]) -> list[str]:
    """A collapsed list (``summary`` is tool text; items are already escaped)."""
    return [
        f"<details><summary>{summary}</summary>",
        "",
        *(f"- {i}" for i in items),
        "",
        "</details>",
        "",
    ]
