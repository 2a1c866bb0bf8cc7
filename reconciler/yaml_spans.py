"""Where each key and value of a YAML text starts and ends, and so what is a comment.

The YAML parser's events carry start and end marks but drop comments. ``Source`` rebuilds the
block structure of every document (``Block`` for block mappings and lists, ``Leaf`` for
scalars, aliases and flow collections, which are kept as written) and from the spans tells
comments apart from values: a ``#`` after the last value on a line, or on a line of its own
that no multi-line value runs through. ``fmt`` rewrites files with it.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import events as ev
from ruamel.yaml.error import YAMLError

from reconciler import layout
from reconciler.yaml_source import parse_events

Pos = tuple[int, int]  # 0-based line and column, as the parser's marks
_COMMENT = re.compile(r"(?:^|(?<=\s))#")


class Unformattable(Exception):
    """A layout this formatter does not handle; the file is left as it is."""

    def __init__(self, line: int, why: str) -> None:
        super().__init__(why)
        self.line, self.why = line, why


@dataclass
class Leaf:
    """A scalar, alias or flow collection: written as in the source."""

    start: Pos
    end: Pos  # the position after its last character, on its last line
    value: str | None = None  # a scalar's value
    plain: bool = False  # a plain scalar without anchor or tag
    block_scalar: bool = False
    quantity: tuple[Leaf, Leaf] | None = None  # a one-line flow {value, unit}
    props: str = ""  # a flow mapping's anchor or tag
    anchor: str | None = None  # the anchor it defines (&name)
    alias: str | None = None  # the anchor it refers to (*name)


@dataclass
class Block:
    """A block mapping (``pairs``) or sequence (``items``)."""

    is_map: bool
    column: int
    props: str
    anchor: str | None = None
    pairs: list[tuple[Leaf, Leaf | Block]] = field(default_factory=list)
    items: list[Leaf | Block] = field(default_factory=list)

    @property
    def first_line(self) -> int:
        return self.pairs[0][0].start[0] if self.is_map else start_line(self.items[0])

    @property
    def last_line(self) -> int:
        last = self.pairs[-1][1] if self.is_map else self.items[-1]
        return last_line(last)


def start_line(node: Leaf | Block) -> int:
    return node.start[0] if isinstance(node, Leaf) else node.first_line


def last_line(node: Leaf | Block) -> int:
    return node.end[0] if isinstance(node, Leaf) else node.last_line


@dataclass
class Document:
    root: Block | None
    end_line: int  # where the document's own lines stop (a ``---`` / ``...`` line or the end)


def _read(lines: list[str]) -> list[Document]:
    """The block structure of every document, from the parser's events."""
    source = "\n".join(lines) + "\n"
    builder = _TreeBuilder(lines)
    try:
        for event in parse_events(source):
            builder.event(event)
    except YAMLError as exc:  # the loader read it; a parser difference should not crash fmt
        raise Unformattable(0, f"the YAML parser stopped: {exc}") from None
    return builder.documents


class _TreeBuilder:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.documents: list[Document] = []
        self.stack: list[Block] = []
        self.root: Block | None = None
        self.flow: list[Any] = []  # events of the flow collection being read
        self.depth = 0  # nesting inside that flow collection

    def event(self, event: Any) -> None:
        if self.flow:
            self.flow.append(event)
            self.depth += isinstance(event, ev.CollectionStartEvent)
            self.depth -= isinstance(event, ev.CollectionEndEvent)
            if self.depth == 0:
                events, self.flow = self.flow, []
                self._add(self._flow_leaf(events))
        elif isinstance(event, ev.CollectionStartEvent):
            if event.flow_style:
                self.flow, self.depth = [event], 1
            elif self.stack and self.stack[-1].is_map and self._awaits_key():
                raise Unformattable(event.start_mark.line, "a key that is a mapping or list")
            else:
                is_map = isinstance(event, ev.MappingStartEvent)
                self.stack.append(Block(is_map, -1, self._props(event), event.anchor))
        elif isinstance(event, ev.CollectionEndEvent):
            block = self.stack.pop()
            block.column = self._column(block)
            self._add(block)
        elif isinstance(event, ev.ScalarEvent | ev.AliasEvent):
            self._add(self._leaf(event))
        elif isinstance(event, ev.DocumentStartEvent):
            self.root = None
        elif isinstance(event, ev.DocumentEndEvent):
            self.documents.append(Document(self.root, event.start_mark.line))

    def _awaits_key(self) -> bool:
        block = self.stack[-1]
        return not block.pairs or block.pairs[-1][1] is not _PENDING

    def _add(self, node: Leaf | Block) -> None:
        if not self.stack:
            self.root = node if isinstance(node, Block) and node.is_map else None
            return
        parent = self.stack[-1]
        if not parent.is_map:
            parent.items.append(node)
        elif self._awaits_key():
            if not isinstance(node, Leaf) or node.end[0] != node.start[0]:
                raise Unformattable(start_line(node), "a key written over several lines")
            parent.pairs.append((node, _PENDING))
        else:
            parent.pairs[-1] = (parent.pairs[-1][0], node)

    def _leaf(self, event: Any) -> Leaf:
        start, end = _pos(event.start_mark), self._end(event.start_mark, event.end_mark)
        if isinstance(event, ev.AliasEvent):
            return Leaf(start, end, alias=event.anchor)
        plain = not event.style and event.anchor is None and event.tag is None
        block_scalar = event.style in ("|", ">")
        return Leaf(start, end, event.value, plain, block_scalar, anchor=event.anchor)

    def _flow_leaf(self, events: list[Any]) -> Leaf:
        first, last = events[0], events[-1]
        end = self._end(first.start_mark, last.end_mark)
        leaf = Leaf(_pos(first.start_mark), end, anchor=first.anchor)
        inner = events[1:-1]
        one_line = leaf.start[0] == leaf.end[0]
        if isinstance(first, ev.MappingStartEvent) and one_line and len(inner) == 4:
            keys, values = inner[0::2], inner[1::2]
            if all(isinstance(e, ev.ScalarEvent) for e in inner) and all(
                not k.style and k.anchor is None and k.tag is None for k in keys
            ):
                scalars = {k.value: self._leaf(v) for k, v in zip(keys, values, strict=True)}
                if layout.is_quantity_keys(scalars):
                    leaf.quantity = (scalars["value"], scalars["unit"])
                    leaf.props = self._props(first)
        return leaf

    def _props(self, event: Any) -> str:
        """The anchor and tag written before a collection, as written."""
        if event.anchor is None and event.tag is None:
            return ""
        line, column = _pos(event.start_mark)
        words = self.lines[line][column:].split()
        return " ".join(w for w in words[:2] if w[:1] in "&!")

    def _end(self, start: Any, end: Any) -> Pos:
        """The end of a span; a block scalar's (column 0 of the next line) moved back."""
        line, column = _pos(end)
        if column == 0 and line > start.line:
            return line - 1, len(self.lines[line - 1])
        return line, column

    def _column(self, block: Block) -> int:
        """Where the block's keys, or its list dashes, are."""
        if block.is_map:
            return block.pairs[0][0].start[1]
        first = block.items[0]
        line, column = first.start if isinstance(first, Leaf) else (first.first_line, first.column)
        for number in range(line, -1, -1):
            text = self.lines[number]
            before = text[:column] if number == line else text
            dash = before.rfind("-")
            if dash >= 0 and not before[dash + 1 :].strip():
                return dash
        raise Unformattable(line, "a list item without its dash")


_PENDING = Leaf((-1, -1), (-1, -1))


def _pos(mark: Any) -> Pos:
    return mark.line, mark.column


class Source:
    """The lines of a file with where its values end: what is a comment and what is not."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.documents = _read(lines)
        self.ends: dict[int, int] = {}  # line -> the column after its last token
        self.continued: set[int] = set()  # lines at whose end a multi-line value goes on
        self.interior: set[int] = set()  # lines that start inside a multi-line value
        for document in self.documents:
            if document.root is not None:
                self._spans(document.root)

    def _spans(self, node: Leaf | Block) -> None:
        if isinstance(node, Leaf):
            self.ends[node.end[0]] = max(self.ends.get(node.end[0], 0), node.end[1])
            self.continued.update(range(node.start[0], node.end[0]))
            self.interior.update(range(node.start[0] + 1, node.end[0] + 1))
            return
        for key, value in node.pairs:
            self._spans(key)
            self._spans(value)
        for item in node.items:
            self._spans(item)

    def eol(self, line: int) -> str:
        """The comment at the end of ``line`` with the spaces before it, or ""."""
        if line in self.continued or (line in self.interior and line not in self.ends):
            return ""
        text = self.lines[line]
        end = self.ends.get(line)
        if end is None:  # only a list item's dash (its item below) may start such a line
            if not text.lstrip().startswith("-"):
                return ""
            end = text.index("-") + 1
        rest = text[end:]
        found = _COMMENT.search(rest)
        if found is None:
            return ""
        gap = rest[: found.start()]
        return (gap[len(gap.rstrip()) :] or " ") + rest[found.start() :].rstrip()

    def comments(self) -> Counter[str]:
        """Every comment's text: full-line ones and those at the end of a line."""
        found: Counter[str] = Counter()
        for number, text in enumerate(self.lines):
            stripped = text.strip()
            if stripped.startswith("#") and number not in self.interior:
                found[stripped] += 1
            elif self.eol(number):
                found[self.eol(number).strip()] += 1
        return found
