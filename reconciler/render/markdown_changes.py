"""Markdown of the changes themselves: shared field changes (each once, with its specs), each
spec's collapsible section with the rest of its field changes, and material changes.

Deletes are not here: the plan's caution alert shows each one, with its cascade, once. Every
user-provided string goes through ``markdown_escape``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reconciler.plan import Change, FieldChange, MaterialChange
from reconciler.render.groups import Section, Shared
from reconciler.render.markdown_budget import Quota
from reconciler.render.markdown_escape import code, html_code, html_text, md
from reconciler.render.values import (
    REACH_NAMES,
    REASON_TAGS,
    RELEASE_TEXT,
    format_value,
    kind_reason,
    plural,
    reach_groups,
    reach_summary,
    route_text,
)

#: Rows of one change's field table; the rest are counted, not shown.
MAX_ROWS = 100
CELL_LIMIT = 160
#: Specs named under one shared field change; the rest are counted.
SHARED_NAMES = 200
#: An update with at most this many fields besides shared ones is rows of one table.
ROWS_IN_TABLE = 3

_SYMBOL = {"create": "+", "rename": "→", "adopt": "~", "update": "~", "release": "="}


class Pieces:
    """Each item's section and one-line form, made once however often the comment is laid out
    (the budget's search lays it out a few dozen times)."""

    def __init__(self) -> None:
        self._made: dict[tuple[str, int], str] = {}

    def section(self, change: Change, section: Section, *, tagged: bool) -> str:
        return self._once("section", change, lambda: _section(change, section, tagged=tagged))

    def line(self, change: Change, section: Section) -> str:
        return self._once("line", change, lambda: "- " + _headline(change, section, html=False))

    def shared(self, shared: Shared, *, tagged: bool) -> str:
        return self._once("shared", shared, lambda: _shared_section(shared, tagged=tagged))

    def shared_line(self, shared: Shared, *, tagged: bool) -> str:
        return self._once(
            "shared_line", shared, lambda: "- " + _shared_headline(shared, tagged, html=False)
        )

    def rows(self, change: Change, section: Section, *, tagged: bool) -> str:
        """The rest of an update as rows of its section's table of specs."""
        return self._once(
            "rows",
            change,
            lambda: "\n".join(
                _table_row([code(change.name, in_table=True), *_row(d, tagged)])
                for d in section.rest_of(change)
            ),
        )

    def _once(self, form: str, item: object, make: Callable[[], str]) -> str:
        key = (form, id(item))
        if key not in self._made:
            self._made[key] = make()
        return self._made[key]


def section_block(section: Section, quota: Quota, pieces: Pieces, *, tagged: bool) -> str:
    """A section: its shared field changes, then each change (deletes aside), in sections or
    table rows while the quota allows, then as lines, then counted.

    Where field changes are shared (a design of experiments), an update with only a few
    fields of its own left is a few rows of one table, not a section each: a hundred specs
    varying one value read as one table.
    """
    parts: list[str] = []
    for shared in section.shared:
        if not quota.take("lines", "shared"):
            continue
        if quota.take("details", "shared"):
            parts.append(pieces.shared(shared, tagged=tagged))
        else:
            parts.append(pieces.shared_line(shared, tagged=tagged))
    if parts:
        parts.insert(
            0,
            "**Same change in several specs**, each shown once (the specs below show the rest "
            "of their changes):",
        )
    rows: list[str] = []
    full: list[str] = []
    short: list[str] = []
    omitted = 0
    for change in section.changes:
        if change.kind == "delete":
            continue
        rest = section.rest_of(change)
        if not quota.take("lines"):
            omitted += 1
        elif section.shared_count(change) and not rest:
            short.append(pieces.line(change, section))  # all of it is shared, above
        elif not quota.take("details"):
            short.append(pieces.line(change, section))
        elif section.shared and change.kind == "update" and 0 < len(rest) <= ROWS_IN_TABLE:
            rows.append(pieces.rows(change, section, tagged=tagged))
        else:
            full.append(pieces.section(change, section, tagged=tagged))
    if rows:
        header = ["Spec", "Field", "Before", "After"] + (["Why"] if tagged else [])
        parts.append("**The rest, per spec:**\n\n" + "\n".join([table(header, []), *rows]))
    parts += full
    if short:
        parts.append("\n".join(short))
    if omitted and (rows or full or short):
        parts.append(f"… and {plural(omitted, 'more change')} in the full plan.")
    elif omitted:
        parts.append(f"{plural(omitted, 'change')} not listed here (see the full plan).")
    return "\n\n".join(parts)


def _shared_headline(shared: Shared, tagged: bool, *, html: bool) -> str:
    name_of = html_code if html else code
    strong = "<b>{}</b>" if html else "**{}**"
    facts = [
        strong.format(f"~ {len(shared.changes)} specs"),
        f"{name_of(shared.path)}: {name_of(_value(shared.before))} → "
        f"{name_of(_value(shared.after))}",
    ]
    if tagged and shared.reason:
        facts.append((html_text if html else md)(REASON_TAGS[shared.reason]))
    return " · ".join(facts)


def _shared_section(shared: Shared, *, tagged: bool) -> str:
    names = ", ".join(code(c.name) for c in shared.changes[:SHARED_NAMES])
    more = len(shared.changes) - SHARED_NAMES
    if more > 0:
        names += f" and {more} more in the full plan"
    summary = _shared_headline(shared, tagged, html=True)
    return f"<details><summary>{summary}</summary>\n\n{names}\n\n</details>"


def _headline(change: Change, section: Section, *, html: bool) -> str:
    """One line for a change: in the ``<summary>`` HTML block, or as markdown."""
    name_of = html_code if html else code
    strong = "<b>{}</b>" if html else "**{}**"
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
    rest = len(section.rest_of(change)) if change.kind != "create" else 0
    shared = section.shared_count(change)
    if rest:
        facts.append(plural(rest, "field"))
    if shared:
        facts.append(f"{plural(shared, 'shared change')} above")
    where = change.source or change.spec_id
    if where:
        facts.append(name_of(where))
    return " · ".join([f"{verb} {name}", *facts])


def _section(change: Change, section: Section, *, tagged: bool) -> str:
    summary = _headline(change, section, html=True)
    body = _section_body(change, section, tagged=tagged)
    return f"<details><summary>{summary}</summary>\n\n{body}\n\n</details>"


def _section_body(change: Change, section: Section, *, tagged: bool) -> str:
    reason = kind_reason(change) if tagged else ""
    parts = [md(reason[0].upper() + reason[1:]) + "."] if reason else []
    rest = section.rest_of(change)
    if change.kind == "create":
        rows = [[code(d.path, in_table=True), cell(d.after)] for d in rest]
        if rows:
            parts.append(table(["Field", "Value"], rows))
        elif not section.shared_count(change):
            parts.append("Creates the spec with its name only.")
        return "\n\n".join(parts)
    if change.kind == "release":
        parts.insert(0, f"Spec id {code(change.spec_id or '(unknown)')}: {md(RELEASE_TEXT)}.")
        return "\n\n".join(parts)
    intro = {
        "adopt": "Adds the ownership marker to this existing spec.",
        "rename": f"Renames {code(change.previous_name or '')} to {code(change.name)}.",
        "update": "",
    }[change.kind]
    if intro:
        parts.insert(0, intro)
    if rest:
        parts.append(field_table(rest, tagged=tagged))
    elif not change.details and not intro:
        parts.append("Sends fields " + ", ".join(code(f) for f in change.fields) + ".")
    return "\n\n".join(parts)


def field_table(details: tuple[FieldChange, ...], *, tagged: bool) -> str:
    """Field, before and after of each field change; with ``tagged``, why each one changes."""
    header = ["Field", "Before", "After"] + (["Why"] if tagged else [])
    return table(header, [_row(d, tagged) for d in details])


def _row(detail: FieldChange, tagged: bool) -> list[str]:
    row = [code(detail.path, in_table=True), cell(detail.before), cell(detail.after)]
    if tagged:
        row.append(md(REASON_TAGS[detail.reason]) if detail.reason else "")
    return row


def material(change: MaterialChange) -> str:
    """One material change: its field table, its reach by group, and how it is written."""
    blocked = " · <b>blocked</b>" if change.blocks else ""
    reach = html_text(reach_summary(change))
    summary = f"<b>~ material</b> {html_code(change.name)} · {reach}{blocked}"
    tagged = change.reason in ("outside", "both")
    parts = [field_table(change.details, tagged=tagged)] if change.details else []
    for label, reached in reach_groups(change):
        names = [
            code(r.name) + (f" ({plural(r.instances, 'cell')})" if r.instances else "")
            for r in reached[:REACH_NAMES]
        ]
        more = f" and {len(reached) - REACH_NAMES} more" if len(reached) > REACH_NAMES else ""
        parts.append(f"- {md(label)}: {', '.join(names)}{more}")
    parts.append(md(route_text(change)))
    if change.source:
        parts.append(f"Defined at {code(change.source)}.")
    body = "\n\n".join(parts)
    return f"<details><summary>{summary}</summary>\n\n{body}\n\n</details>"


def _value(value: Any) -> str:
    return format_value(value, CELL_LIMIT)


def cell(value: Any) -> str:
    """A value in a table cell, as code."""
    return code(_value(value), in_table=True)


def table(header: list[str], rows: list[list[str]]) -> str:
    """A markdown table of at most ``MAX_ROWS`` rows; the rest are counted."""
    lines = [_table_row(header), "|" + "---|" * len(header)]
    lines += [_table_row(row) for row in rows[:MAX_ROWS]]
    if len(rows) > MAX_ROWS:
        lines.append(f"\n… and {len(rows) - MAX_ROWS} more fields in the full plan.")
    return "\n".join(lines)


def _table_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"
