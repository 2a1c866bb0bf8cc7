"""Markdown for GitHub: plans as a pull-request comment, the drift audit as an issue body.

The first line is a hidden marker that workflows use to find and update their sticky comment.
Deletes are shouted in a ``[!CAUTION]`` alert with what goes with them, blocked deletes get a
``[!WARNING]`` with what would allow them, and each change has a collapsible section.

Every user-provided string (names, paths, values) goes through the one markdown escaping
policy of ``markdown_escape`` (code spans, ``<code>`` in HTML blocks, escaped prose), so a spec
named ``<script>`` or holding ``|`` or backticks cannot inject HTML, mention anyone or break a
table.

GitHub refuses comments over 65,536 characters. When the full comment is too long, field details
are dropped first (changes become one line each), then changes beyond what fits, then alert list
items; the comment says what was omitted and that the full plan is in the workflow artifact.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from reconciler.drift import SECTIONS, Drift
from reconciler.plan import Change, MaterialChange, Plan
from reconciler.render.markdown_escape import code, html_code, html_text, md, prose
from reconciler.render.values import (
    REACH_NAMES,
    RELEASE_TEXT,
    cascade_text,
    created_fields,
    display_url,
    drift_summary,
    format_value,
    kept_note,
    plural,
    reach_groups,
    reach_summary,
    route_text,
    status_notes,
    summary_line,
)

MARKER = "<!-- ionworks-apply-plan -->"
DRIFT_MARKER = "<!-- ionworks-apply-drift -->"
MAX_COMMENT_CHARS = 65_536
#: Our share, in UTF-8 bytes (never fewer than characters): room is left for a footer the plan
#: workflow appends, under the 60,000-byte cut its sticky-comment script makes as a last resort.
BUDGET = 59_000
#: Rows of one change's field table; the rest are counted, not shown.
MAX_ROWS = 100
CELL_LIMIT = 160
#: Fewest bytes one change section, change line or alert item takes (its fixed markup).
_SMALLEST = {
    "details": len("<details><summary></summary>\n\n\n\n</details>"),
    "lines": len("- ** *** ``"),
    "alerts": len("> - ``"),
}

_SYMBOL = {"create": "+", "rename": "→", "adopt": "~", "update": "~", "release": "=", "delete": "-"}


class _Quota:
    """How many change sections, change lines and alert items may still be shown."""

    def __init__(self, details: int | None, lines: int | None, alerts: int | None) -> None:
        self.left = {"details": details, "lines": lines, "alerts": alerts}
        self.omitted: Counter[str] = Counter()

    def take(self, what: str) -> bool:
        left = self.left[what]
        if left is None:
            return True
        if left > 0:
            self.left[what] = left - 1
            return True
        self.omitted[what] += 1
        return False


class _Pieces:
    """Each change's section and one-line form, made once however often the comment is laid out."""

    def __init__(self) -> None:
        self._sections: dict[int, str] = {}
        self._lines: dict[int, str] = {}

    def section(self, change: Change) -> str:
        if id(change) not in self._sections:
            self._sections[id(change)] = _section(change)
        return self._sections[id(change)]

    def line(self, change: Change) -> str:
        if id(change) not in self._lines:
            self._lines[id(change)] = "- " + _headline(change, in_html=False)
        return self._lines[id(change)]


def plans(rendered: Sequence[Plan], *, color: bool = False) -> str:
    """The comment, shortened to fit GitHub's limit when needed; ``color`` is ignored.

    A section, line or alert item takes at least ``_SMALLEST`` bytes, so no more of them than
    ``BUDGET // _SMALLEST`` can fit: the search never formats what could not be shown.
    """
    pieces = _Pieces()
    changes = sum(len(p.writing_changes) for p in rendered)
    alerts = sum(_alert_items(p) for p in rendered)
    if changes * _SMALLEST["details"] <= BUDGET:
        full = _document(rendered, _Quota(None, None, None), pieces)
        if _fits(full):
            return full
    stages: list[tuple[Callable[[int], _Quota], int]] = [
        (lambda k: _Quota(k, None, None), min(changes, BUDGET // _SMALLEST["details"])),
        (lambda k: _Quota(0, k, None), min(changes, BUDGET // _SMALLEST["lines"])),
        (lambda k: _Quota(0, 0, k), min(alerts, BUDGET // _SMALLEST["alerts"])),
    ]
    for make, most in stages:
        found = _largest_fitting(rendered, make, most, pieces)
        if found is not None:
            return found
    return _hard_cut(_document(rendered, _Quota(0, 0, 0), pieces))


def _fits(text: str) -> bool:
    return len(text.encode("utf-8")) <= BUDGET


def _largest_fitting(
    plans: Sequence[Plan], make: Callable[[int], _Quota], most: int, pieces: _Pieces
) -> str | None:
    """The document with the largest quota in ``0..most`` that fits, by bisection."""
    best: str | None = None
    low, high = 0, most
    while low <= high:
        middle = (low + high) // 2
        text = _document(plans, make(middle), pieces)
        if _fits(text):
            best, low = text, middle + 1
        else:
            high = middle - 1
    return best


def _hard_cut(text: str) -> str:
    """Last resort for a document whose headers alone are too long: cut at a line end."""
    note = "\n\n**Truncated.** The full plan is in the workflow artifact."
    limit = BUDGET - len(note.encode("utf-8"))
    cut = text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")
    return cut[: cut.rfind("\n")] + note


def _document(plans: Sequence[Plan], quota: _Quota, pieces: _Pieces) -> str:
    sections = [_plan(plan, quota, pieces) for plan in plans] or ["No projects to plan."]
    head = [f"{MARKER}\n## ionworks-apply plan"]
    if quota.omitted:
        head.append(_omission_note(quota.omitted))
    return "\n\n".join(head + sections)


def _omission_note(omitted: Counter[str]) -> str:
    parts = []
    if omitted["details"]:
        parts.append(f"field details of {plural(omitted['details'], 'change')} are omitted")
    if omitted["lines"]:
        n = omitted["lines"]
        parts.append(f"{plural(n, 'change')} {'is' if n == 1 else 'are'} not listed")
    if omitted["alerts"]:
        n = omitted["alerts"]
        parts.append(f"{plural(n, 'alert list item')} {'is' if n == 1 else 'are'} cut")
    return (
        "> [!NOTE]\n"
        f"> This comment is shortened to fit GitHub's {MAX_COMMENT_CHARS:,}-character limit: "
        f"{'; '.join(parts)}. The full plan is in the workflow artifact "
        "(the JSON plan from `ionworks-apply plan --out`)."
    )


def _alert_items(plan: Plan) -> int:
    return len(plan.of_kind("delete")) + len(plan.blocked) + len(plan.of_kind("orphan"))


def _plan(plan: Plan, quota: _Quota, pieces: _Pieces) -> str:
    blocks = [
        f"### Project {_project(plan)}",
        f"Owner {code(plan.owner)} · manifests {code(plan.manifests_dir)} · "
        f"API {code(display_url(plan.api_url))}",
        f"**{summary_line(plan)}**",
        _caution(plan, quota),
        _warning(plan, quota),
        _shared(plan),
        _orphans(plan, quota),
        _changes(plan, quota, pieces),
        *(_material(m) for m in plan.materials),
        status_notes(plan),
        md(kept_note(plan)),
    ]
    return "\n\n".join(b for b in blocks if b)


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
    for material in beyond:
        outside = ", ".join(code(r.name) for r in material.beyond_here[:REACH_NAMES])
        more = len(material.beyond_here) - REACH_NAMES
        lines.append(
            f"> - {code(material.name)}: {outside}" + (f" and {more} more" if more > 0 else "")
        )
        lines.extend(
            f">   - {prose(b.reason)}. **Allow:** {prose(b.allow)}" for b in material.blocks
        )
    return "\n".join(lines)


def _material(material: MaterialChange) -> str:
    """One material change: its field table, its reach by group, and how it is written."""
    blocked = " · <b>blocked</b>" if material.blocks else ""
    reach = html_text(reach_summary(material))
    summary = f"<b>~ material</b> {html_code(material.name)} · {reach}{blocked}"
    rows = [
        [code(d.path, in_table=True), _cell(d.before), _cell(d.after)] for d in material.details
    ]
    parts = [_table(["Field", "Before", "After"], rows)] if rows else []
    for label, reached in reach_groups(material):
        names = [
            code(r.name) + (f" ({plural(r.instances, 'cell')})" if r.instances else "")
            for r in reached[:REACH_NAMES]
        ]
        more = f" and {len(reached) - REACH_NAMES} more" if len(reached) > REACH_NAMES else ""
        parts.append(f"- {md(label)}: {', '.join(names)}{more}")
    parts.append(md(route_text(material)))
    if material.source:
        parts.append(f"Defined at {code(material.source)}.")
    body = "\n\n".join(parts)
    return f"<details><summary>{summary}</summary>\n\n{body}\n\n</details>"


def _project(plan: Plan) -> str:
    """The project's name and id as code, or the id alone when the API gave no name."""
    if plan.project_name is None:
        return code(plan.project_id)
    return f"{code(plan.project_name)} ({code(plan.project_id)})"


def _alert(kind: str, headline: str, items: list[str], quota: _Quota) -> str:
    lines = [f"> [!{kind}]", f"> {headline}", ">"]
    shown = [item for item in items if quota.take("alerts")]
    lines += [f"> - {item}" for item in shown]
    if len(shown) < len(items):
        lines.append(f"> - … and {len(items) - len(shown)} more in the full plan")
    return "\n".join(lines)


def _caution(plan: Plan, quota: _Quota) -> str:
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
    items = [
        f"{code(c.name)}{' (blocked)' if c.blocks else ''}: {cascade_text(c.cascade)}"
        for c in deletes
    ]
    return _alert("CAUTION", headline, items, quota)


def _warning(plan: Plan, quota: _Quota) -> str:
    blocked = plan.blocked
    if not blocked:
        return ""
    it = "it" if len(blocked) == 1 else "them"
    headline = f"**{plural(len(blocked), 'delete')} blocked**: apply refuses {it} until allowed."
    items = [
        code(c.name)
        + "".join(f"\n>   - {prose(b.reason)}. **Allow:** {prose(b.allow)}" for b in c.blocks)
        for c in blocked
    ]
    return _alert("WARNING", headline, items, quota)


def _orphans(plan: Plan, quota: _Quota) -> str:
    orphans = plan.of_kind("orphan")
    if not orphans:
        return ""
    verb = "is" if len(orphans) == 1 else "are"
    headline = f"**{plural(len(orphans), 'spec')} {verb} orphaned, not deleted**"
    if not plan.prune:
        headline += ": prune is off (use `--prune` or `prune: true`)."
    return _alert("NOTE", headline, [code(c.name) for c in orphans], quota)


def _changes(plan: Plan, quota: _Quota, pieces: _Pieces) -> str:
    full: list[str] = []
    short: list[str] = []
    omitted = 0
    for change in plan.writing_changes:
        if not quota.take("lines"):
            omitted += 1
        elif quota.take("details"):
            full.append(pieces.section(change))
        else:
            short.append(pieces.line(change))
    parts = full
    if short:
        parts.append(
            f"Field details of {plural(len(short), 'change')} omitted here "
            "(see the full plan):\n\n" + "\n".join(short)
        )
    if omitted and parts:
        parts.append(f"… and {plural(omitted, 'more change')} in the full plan.")
    elif omitted:
        parts.append(f"{plural(omitted, 'change')} not listed here (see the full plan).")
    return "\n\n".join(parts)


def _headline(change: Change, *, in_html: bool) -> str:
    """One line for a change: in the ``<summary>`` HTML block, or as markdown."""
    name_of = html_code if in_html else code
    strong = "<b>{}</b>" if in_html else "**{}**"
    verb = strong.format(f"{_SYMBOL[change.kind]} {change.kind}")
    if change.kind == "rename" and change.previous_name is not None:
        name = f"{name_of(change.previous_name)} → {name_of(change.name)}"
    else:
        name = name_of(change.name)
    facts = []
    if change.kind == "adopt":
        facts.append("adds the ownership marker")
    if change.kind == "release":
        facts.append("stops managing it; keeps the spec and its data")
    if change.details:
        facts.append(plural(len(change.details), "field"))
    if change.kind == "delete":
        facts.append(cascade_text(change.cascade))
        if change.blocks:
            facts.append(strong.format("blocked"))
    where = change.source or change.spec_id
    if where:
        facts.append(name_of(where))
    return " · ".join([f"{verb} {name}", *facts])


def _section(change: Change) -> str:
    summary = _headline(change, in_html=True)
    return f"<details><summary>{summary}</summary>\n\n{_section_body(change)}\n\n</details>"


def _section_body(change: Change) -> str:
    if change.kind == "create":
        fields = created_fields(change)
        if not fields:
            return "Creates the spec with its name only."
        return _table(
            ["Field", "Value"], [[code(f, in_table=True), _cell(value)] for f, value in fields]
        )
    if change.kind == "delete":
        lines = [f"Spec id {code(change.spec_id or '(unknown)')}: {cascade_text(change.cascade)}."]
        lines += [""] if change.blocks else []
        lines += [
            f"- Blocked by {b.guard}: {prose(b.reason)}. **Allow:** {prose(b.allow)}"
            for b in change.blocks
        ]
        return "\n".join(lines)
    if change.kind == "release":
        return f"Spec id {code(change.spec_id or '(unknown)')}: {md(RELEASE_TEXT)}."
    intro = {
        "adopt": "Adds the ownership marker to this existing spec.",
        "rename": f"Renames {code(change.previous_name or '')} to {code(change.name)}.",
        "update": "",
    }[change.kind]
    if not change.details:
        return intro or "Sends fields " + ", ".join(code(f) for f in change.fields) + "."
    rows = [[code(d.path, in_table=True), _cell(d.before), _cell(d.after)] for d in change.details]
    table = _table(["Field", "Before", "After"], rows)
    return f"{intro}\n\n{table}" if intro else table


def _cell(value: Any) -> str:
    return code(format_value(value, CELL_LIMIT), in_table=True)


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows[:MAX_ROWS]]
    if len(rows) > MAX_ROWS:
        lines.append(f"\n… and {len(rows) - MAX_ROWS} more fields in the full plan.")
    return "\n".join(lines)


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
                    _cell(d.before),
                    _cell(d.after),
                ]
                for c in changes
                for d in c.details
            ]
            lines += [_table(["Spec", "Field", "Live", "Manifest"], rows), ""]
        if plan.materials:
            lines += ["#### Shared materials differing", ""]
            lines += [_material(m) for m in plan.materials] + [""]
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
