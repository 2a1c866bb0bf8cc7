"""``fmt``: rewrite a manifest in the canonical layout (``layout.py``) without changing it.

The parser's events say where every key and value starts and ends; comments are what lies
outside them. Scalars, quotes, block scalars, flow lists and anchors are copied as written and
only re-indented; keys are reordered and Quantities put on one line. A full-line comment belongs
to the key below it and moves with it; a comment at the end of a line stays on that line;
comments after the last key of a block, indented like that block, stay at its end; comments
above a document's first key stay at the top. A Quantity with a comment inside keeps its lines.

``format_text`` checks its own work: the result must load to the same values (units compared
by physics with ``units=True``) and keep every comment, or it raises ``FormatError`` and the
file is left alone.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler import layout
from reconciler.discovery import manifest_paths
from reconciler.errors import Location, Problem
from reconciler.units import canonical_spelling
from reconciler.yaml_source import parse_documents
from reconciler.yaml_spans import Block, Leaf, Source, Unformattable, last_line, start_line
from reconciler.yaml_text import display_path, read_text

_PLAIN_FLOW_UNSAFE = re.compile(r"[,\[\]{}]|: |\s#")
_DASH_ALONE = re.compile(r"-(?:\s+#.*)?")  # a list item's dash, the item on the lines below


class FormatError(ValueError):
    """A file ``fmt`` will not rewrite; ``problems`` say why (or what the loader refused)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


def format_text(text: str, display: str, *, units: bool = False) -> str:
    """``text`` in the canonical layout; ``units`` also writes each unit in one spelling."""
    before = parse_documents(text, display)
    if before.problems:
        raise FormatError(before.problems)
    lines = _lines(text)
    try:
        formatted = _Writer(Source(lines), units).text()
    except Unformattable as exc:
        where = Location(display, exc.line + 1, 1)
        raise FormatError([Problem(where, f"cannot format this file: {exc.why}")]) from None
    _check_same(text, formatted, display, units)
    return formatted.replace("\n", "\r\n") if "\r\n" in text else formatted


@dataclass
class _Entry:
    """One key (with its value) or list item, with the comment lines that travel with it."""

    node: tuple[Leaf, Leaf | Block] | Leaf | Block
    leading: list[int]  # comment and blank lines above it
    loose: list[str]  # comments from lines that disappear (a ``-`` alone, its item below)
    closing: list[int] = field(default_factory=list)  # comment lines that end its block value

    @property
    def value(self) -> Leaf | Block:
        return self.node[1] if isinstance(self.node, tuple) else self.node


@dataclass
class _Placed:
    """An anchor or alias where it was written: ``out`` line, column and text (one line)."""

    index: int
    column: int
    text: str
    anchor: str | None
    alias: str | None
    line: int  # in the source, for messages
    movable: bool = True


class _Writer:
    """Emits the documents in the canonical layout; see the module docstring for comments."""

    def __init__(self, source: Source, units: bool) -> None:
        self.source = source
        self.lines = source.lines
        self.units = units
        self.out: list[str] = []
        self.placed: list[_Placed] = []

    def text(self) -> str:
        done = 0
        for document in self.source.documents:
            root = document.root
            if root is None:
                continue
            self.out.extend(self.lines[done : root.first_line])  # the header stays on top
            end = min(document.end_line, len(self.lines))
            rest = list(range(root.last_line + 1, end))
            self._block(root, 0, (), None, root.first_line - 1, rest)
            self._anchors_first()
            done = end
        self.out.extend(self.lines[done:])
        return "\n".join(self.out) + "\n" if self.out else ""

    # Comments -------------------------------------------------------------------------------

    def _between(self, after: int, before: int, loose: list[str]) -> list[int]:
        """The comment and blank lines between two lines; a line with just the dash of the
        item below gives its comment to ``loose``; anything else cannot be moved."""
        found = []
        for line in range(after + 1, before):
            stripped = self.lines[line].strip()
            if _DASH_ALONE.fullmatch(stripped):
                loose.append(stripped[1:].strip())
            elif stripped and not stripped.startswith("#"):
                raise Unformattable(line, "a line that is neither a key, a value nor a comment")
            else:
                found.append(line)
        return found

    def _comment_lines(self, numbers: list[int], indent: int) -> None:
        """Comment lines at ``indent``; blank lines too, but never two in a row."""
        for number in numbers:
            stripped = self.lines[number].strip()
            if stripped:
                self.out.append(" " * indent + stripped)
            elif self.out and self.out[-1]:
                self.out.append("")

    def _split(self, numbers: list[int], node: Leaf | Block) -> tuple[list[int], list[int]]:
        """Lines after a value: those that end its block (comments indented at least like its
        entries, and blank lines between them) and those that lead to what follows."""
        if not isinstance(node, Block):
            return [], numbers
        share = 0
        for index, number in enumerate(numbers):
            text = self.lines[number]
            if text.strip():
                if len(text) - len(text.lstrip()) < node.column:
                    break
                share = index + 1
        return numbers[:share], numbers[share:]

    # Blocks ----------------------------------------------------------------------------------

    def _entries(self, block: Block, after: int, trailing: list[int]) -> list[_Entry]:
        """The block's entries in source order, each with the comment lines that go with it."""
        nodes: list[Any] = list(block.pairs) if block.is_map else list(block.items)
        entries: list[_Entry] = []
        for node in nodes:
            loose: list[str] = []
            start = node[0].start[0] if isinstance(node, tuple) else start_line(node)
            previous_end = last_line(entries[-1].value) if entries else after
            gap = self._between(previous_end, start, loose)
            if entries:
                entries[-1].closing, gap = self._split(gap, entries[-1].value)
            entries.append(_Entry(node, gap, loose))
        entries[-1].closing, rest = self._split(trailing, entries[-1].value)
        trailing[:] = rest
        return entries

    def _block(
        self,
        block: Block,
        indent: int,
        path: tuple[str, ...],
        first_prefix: str | None,
        after: int,
        trailing: list[int],
    ) -> None:
        """Emit ``block`` with its entries at ``indent``; ``first_prefix`` opens the first line
        (the dash of the list item it is), ``after`` is the line its own lines follow."""
        trailing = list(trailing)
        entries = self._entries(block, after, trailing)
        if block.is_map:
            order = layout.key_order(path, (str(key.value) for key, _ in block.pairs))
            entries = layout.ordered(entries, order, lambda e: e.node[0].value)
        for position, entry in enumerate(entries):
            prefix = " " * indent
            if position == 0 and first_prefix is not None:
                prefix = first_prefix
            comment_indent = len(prefix) - len(prefix.lstrip())
            for text in entry.loose:
                if text:
                    self.out.append(" " * comment_indent + text)
            self._comment_lines(entry.leading, comment_indent)
            if isinstance(entry.node, tuple):
                self._pair(entry, indent, path, prefix)
            else:
                self._item(entry, indent, path, prefix, block.column)
        self._comment_lines(trailing, indent)

    def _pair(self, entry: _Entry, indent: int, path: tuple[str, ...], prefix: str) -> None:
        assert isinstance(entry.node, tuple)
        key, value = entry.node
        key_line = key.start[0]
        head = prefix + self._source(key) + ":"
        if isinstance(value, Block):
            if self._flat(value, key_line, entry.closing):
                self._flat_quantity(head + " ", value, self.source.eol(key_line))
                return
            props = " " + value.props if value.props else ""
            self._place(head, props, value.anchor, None, key_line, movable=False)
            self.out.append(head + props + self.source.eol(key_line))
            inner = (*path, str(key.value))
            self._block(value, indent + layout.INDENT, inner, None, key_line, entry.closing)
            return
        if value.start[0] > key_line:  # a value on the line below its key: bring it up
            loose: list[str] = []
            between = self._between(key_line, value.start[0], loose)
            for text in [self.source.eol(key_line), *loose]:
                if text.strip():
                    self.out.append(" " * indent + text.strip())
            self._comment_lines(between, indent)
        self._value(head + " ", value, key.start[1], indent)

    def _item(
        self, entry: _Entry, indent: int, path: tuple[str, ...], prefix: str, column: int
    ) -> None:
        item = entry.value
        dash = prefix + "- "
        if not isinstance(item, Block):
            self._value(dash, item, column, indent)
        elif self._flat(item, item.first_line - 1, entry.closing):
            self._flat_quantity(dash, item, "")
        else:
            self._place(dash, item.props, item.anchor, None, start_line(item), movable=False)
            after = start_line(item) - 1
            self._block(item, indent + layout.INDENT, path, dash, after, entry.closing)

    # Values ----------------------------------------------------------------------------------

    def _value(self, head: str, value: Leaf, old_owner: int, new_owner: int) -> None:
        """``head`` followed by a one-line value, or a multi-line one re-indented with it."""
        if value.quantity is not None:
            number, unit = value.quantity
            text = layout.flow_quantity(self._source(number), self._unit(unit))
            text = (value.props + " " if value.props else "") + text
            self._place(head, text, value.anchor, None, value.start[0])
            self.out.append(head + text + self.source.eol(value.end[0]))
            return
        first, *more = self._span(value)
        self._place(head, first, value.anchor, value.alias, value.start[0], movable=not more)
        self.out.append(head + first if more else (head + first).rstrip())
        shift = new_owner - old_owner
        self.out.extend(_shifted(text, shift, value.start[0]) for text in more)
        self.out[-1] += self.source.eol(value.end[0])

    def _place(
        self,
        head: str,
        text: str,
        anchor: str | None,
        alias: str | None,
        line: int,
        movable: bool = True,
    ) -> None:
        """Note where an anchor or alias is written, for ``_anchors_first``."""
        if anchor is not None or alias is not None:
            spot = _Placed(len(self.out), len(head), text, anchor, alias, line, movable)
            self.placed.append(spot)

    def _anchors_first(self) -> None:
        """Keys moved, so an alias may now come before its anchor: swap the two when both are
        one-line values (``material: &m {...}`` and ``<<: *m``); otherwise refuse."""
        defined: set[str] = set()
        for position, spot in enumerate(self.placed):
            if spot.anchor is not None:
                defined.add(spot.anchor)
            if spot.alias is None or spot.alias in defined:
                continue
            target = next((p for p in self.placed[position + 1 :] if p.anchor == spot.alias), None)
            if target is None:
                continue
            if not (target.movable and spot.movable):
                raise Unformattable(
                    spot.line,
                    f"*{spot.alias} would come before &{spot.alias} once keys are in order; "
                    f"write the anchor where the value is first used",
                )
            for here, text in ((spot, target.text), (target, spot.text)):
                line = self.out[here.index]
                self.out[here.index] = (
                    line[: here.column] + text + line[here.column + len(here.text) :]
                )
            defined.add(spot.alias)
        self.placed.clear()

    def _flat(self, block: Block, after: int, closing: list[int]) -> bool:
        """A block ``value:`` / ``unit:`` right below ``after`` with no comment in or after its
        lines: it is written on one line."""
        if closing or block.first_line != after + 1 or block.last_line != block.first_line + 1:
            return False
        if not block.is_map or not layout.is_quantity_keys(k.value or "" for k, _ in block.pairs):
            return False
        for key, value in block.pairs:
            if not (key.plain and isinstance(value, Leaf) and value.value is not None):
                return False
            if value.block_scalar or not value.start[0] == value.end[0] == key.start[0]:
                return False
            if self.source.eol(value.end[0]):
                return False
            if value.plain and _PLAIN_FLOW_UNSAFE.search(self._source(value)):
                return False
        return True

    def _flat_quantity(self, head: str, block: Block, eol: str) -> None:
        pairs = {str(key.value): value for key, value in block.pairs}
        number, unit = pairs["value"], pairs["unit"]
        assert isinstance(number, Leaf) and isinstance(unit, Leaf)
        text = layout.flow_quantity(self._source(number), self._unit(unit))
        text = (block.props + " " if block.props else "") + text
        self._place(head, text, block.anchor, None, block.first_line)
        self.out.append(head + text + eol)

    def _unit(self, unit: Leaf) -> str:
        written = self._source(unit)
        if not self.units or unit.value is None or written.startswith(("&", "!")):
            return written
        spelled = canonical_spelling(unit.value)
        return written if spelled == unit.value.strip() else spelled

    def _source(self, leaf: Leaf) -> str:
        return "\n".join(self._span(leaf))

    def _span(self, leaf: Leaf) -> list[str]:
        (first, start), (last, end) = leaf.start, leaf.end
        if first == last:
            return [self.lines[first][start:end]]
        return [self.lines[first][start:], *self.lines[first + 1 : last], self.lines[last][:end]]


def _shifted(text: str, shift: int, line: int) -> str:
    if not text.strip():
        return ""
    if shift >= 0:
        return " " * shift + text
    if text[:-shift].strip():
        raise Unformattable(line, "a value whose lines are indented less than its key")
    return text[-shift:]


def _check_same(before: str, after: str, display: str, units: bool) -> None:
    """The rewrite loads to the same values and keeps every comment, or it is refused."""
    old, new = parse_documents(before, display), parse_documents(after, display)
    same = not new.problems and _same(
        [_meaning(d.value, units) for d in old.documents],
        [_meaning(d.value, units) for d in new.documents],
    )
    if same and Source(_lines(before)).comments() == Source(_lines(after)).comments():
        return
    why = "the result would not mean the same"
    if new.problems:
        why += f" ({new.problems[0].message})"
    elif same:
        why = "a comment would be lost"
    raise FormatError([Problem(Location(display, 1, 1), f"cannot format this file: {why}")])


def _lines(text: str) -> list[str]:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return lines[:-1] if lines[-1] == "" else lines


def _meaning(value: Any, units: bool) -> Any:
    """A value with each unit in one spelling when units are rewritten, else the value."""
    if isinstance(value, dict):
        if units and layout.is_quantity_keys(value) and isinstance(value.get("unit"), str):
            return {"value": value["value"], "unit": canonical_spelling(value["unit"])}
        return {key: _meaning(item, units) for key, item in value.items()}
    if isinstance(value, list):
        return [_meaning(item, units) for item in value]
    return value


def _same(a: Any, b: Any) -> bool:
    """Equal values, NaN equal to itself and keys in any order, types exactly alike."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


@dataclass
class FormatReport:
    """What ``format_paths`` did: files (as shown) rewritten, or that would be; problems."""

    changed: list[str] = field(default_factory=list)
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)


def format_paths(paths: Sequence[Path], *, units: bool = False, write: bool = True) -> FormatReport:
    """Format the manifests among ``paths`` (files, or directories searched like ``validate``
    does; the project config is not a manifest). ``write=False`` only reports. A file that
    cannot be read or formatted is left alone and its problems reported."""
    report = FormatReport()
    files, _, problems = manifest_paths(paths)
    report.problems.extend(problems)
    for path in files:
        shown = display_path(path)
        text, unreadable = read_text(path, shown)
        if text is None:
            report.problems.extend(unreadable)
            continue
        try:
            formatted = format_text(text, shown, units=units)
        except FormatError as exc:
            report.problems.extend(exc.problems)
            continue
        if formatted == text:
            report.unchanged += 1
            continue
        report.changed.append(shown)
        if write:
            _replace(path, formatted)
    return report


def _replace(path: Path, text: str) -> None:
    """Write ``text`` in place of the file ``path`` (its target, if a link) all at once: an
    interrupted run never leaves half a manifest."""
    target = path.resolve()
    mode = target.stat().st_mode & 0o7777
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
