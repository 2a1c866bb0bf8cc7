"""Read YAML files into plain Python values, with source positions and hard limits.

Why not ruamel's loaders: the round-trip loader needs minutes for 10,000 specs, and the C
composer of the fast one recurses, so deeply nested input crashes the interpreter. Instead we walk
ruamel's parser *events* (libyaml through ruamel.yaml.clib when installed, the pure-Python parser
otherwise) with an explicit stack, building plain dict/list/str/int/float/bool/None values and
checking, on every path, for duplicate keys, alias expansion ("billion laughs"), nesting depth,
unsupported tags and non-text keys.

A file is first read in *fast* mode, which records the positions of top-level keys only. Any
problem in it (here, or later in schema validation) makes the caller read it again with
``full_positions=True``, which records where every key, value and list item starts, so each
message points at ``path:line:col``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml import events as ev
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from reconciler.errors import Location, Problem
from reconciler.yaml_scalars import NumberTooLarge, plain_value
from reconciler.yaml_text import reader_problem, syntax_problem

try:
    from ruamel.yaml.cyaml import CParser  # type: ignore[attr-defined]
except ImportError:  # no ruamel.yaml.clib wheel for this interpreter: use the pure parser
    CParser = None

MAX_ALIAS_VALUES = 10_000
MAX_DEPTH = 100

_YAML = "tag:yaml.org,2002:"
_TAGGED_TYPES: dict[str, tuple[type, str]] = {
    "int": (int, "an integer"),
    "float": (float, "a number"),
    "bool": (bool, "true or false"),
    "null": (type(None), "null"),
}
_NO_KEY, _IGNORE, _MERGE, _IGNORED_KEY = object(), object(), object(), object()
_NUL_MESSAGE = "text contains a NUL character (\\0), which Ionworks cannot store; remove it"


class SourcePosition:
    """Where a value starts; for collections also where each key and child starts (1-based)."""

    __slots__ = ("col", "fields", "items", "keys", "line")

    def __init__(self, line: int, col: int) -> None:
        self.line = line
        self.col = col
        self.keys: dict[str, tuple[int, int]] | None = None  # mapping: where each key is
        self.fields: dict[str, SourcePosition] | None = None  # mapping: where each value is
        self.items: list[SourcePosition] | None = None  # sequence: where each item is


@dataclass
class YamlDocument:
    """One document of a file: its plain value and where its parts are."""

    path: str
    index: int
    value: Any
    positions: SourcePosition
    broken: bool = False  # a problem in the YAML itself; not worth validating further

    def location(self, path: Sequence[str | int] = (), *, key: bool = False) -> Location:
        """The best known position of ``path``: the key itself when ``key``, else its value.

        A path that leads past what is known resolves to the deepest known ancestor.
        """
        node = self.positions
        line, col = node.line, node.col
        for index, part in enumerate(path):
            if isinstance(part, str) and node.fields is not None and part in node.fields:
                if key and index == len(path) - 1 and node.keys is not None:
                    line, col = node.keys[part]
                    break
                node = node.fields[part]
            elif isinstance(part, int) and node.items is not None and part < len(node.items):
                node = node.items[part]
            else:
                break
            line, col = node.line, node.col
        return Location(self.path, line, col)


@dataclass
class YamlFile:
    path: str
    text: str
    documents: list[YamlDocument] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def parse_documents(text: str, display: str, *, full_positions: bool = False) -> YamlFile:
    """Every document of ``text``; in fast mode, any problem triggers a full-position re-read."""
    if not full_positions:
        try:
            return _Builder(text, display, full=False).run()
        except _NeedPositions:
            pass
    return _Builder(text, display, full=True).run()


def parse_events(text: str) -> Iterator[Any]:
    """The parser's events for ``text``, from the same parser the loader uses (libyaml when
    installed: the pure-Python one disagrees on details such as a tab after ``key:``)."""
    if CParser is None:
        yield from YAML(typ="safe", pure=True).parse(text)
        return
    parser = CParser(text)
    while parser.check_event():
        yield parser.get_event()


class _NeedPositions(Exception):
    """Fast mode met a problem: read the file again, recording every position."""


class _StopFile(Exception):
    """A problem after which the rest of the file cannot be read (syntax, nesting depth)."""


class _Frame:
    __slots__ = ("anchor", "is_map", "key", "key_mark", "mark", "merges", "pos", "size", "value")

    def __init__(self, value: Any, mark: Any, anchor: str | None, record: bool) -> None:
        self.value = value
        self.is_map = isinstance(value, dict)
        self.mark = mark
        self.anchor = anchor
        self.size = 1
        self.key: Any = _NO_KEY
        self.key_mark: Any = None
        self.merges: list[tuple[Any, SourcePosition, tuple[int, int]]] = []
        # Only recorded collections know where their children are (see _complete).
        self.pos: SourcePosition | None = None
        if record:
            self.pos = SourcePosition(*_at(mark))
            if self.is_map:
                self.pos.keys, self.pos.fields = {}, {}
            else:
                self.pos.items = []


def _at(mark: Any) -> tuple[int, int]:
    """A parser mark as 1-based (line, column)."""
    return mark.line + 1, mark.column + 1


class _Builder:
    """Turns a parser event stream into documents; see the module docstring."""

    def __init__(self, text: str, display: str, *, full: bool) -> None:
        self.result = YamlFile(display, text)
        self.display = display
        self.full = full
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int, SourcePosition]] = {}
        self.open_anchors: set[str] = set()
        self.expanded = 0
        self.skip_depth: int | None = None  # set while skipping the rest of a broken document
        self.root: tuple[Any, SourcePosition] | None = None
        self.doc_start = (1, 1)
        self.broken = False

    def run(self) -> YamlFile:
        try:
            if CParser is not None:
                parser = CParser(self.result.text)
                check, get, handle = parser.check_event, parser.get_event, self._event
                while check():
                    handle(get())
            else:
                for event in YAML(typ="safe", pure=True).parse(self.result.text):
                    self._event(event)
        except _StopFile:
            pass
        except MarkedYAMLError as exc:
            self._problem(*syntax_problem(exc, self.result.text))
        except YAMLError as exc:  # ReaderError: a character YAML does not allow
            self._problem(*reader_problem(exc, self.result.text))
        return self.result

    def _problem(self, at: tuple[int, int], message: str) -> None:
        if not self.full:
            raise _NeedPositions
        self.broken = True
        self.result.problems.append(Problem(Location(self.display, at[0], at[1]), message))

    def _event(self, event: Any) -> None:
        kind = type(event)
        if self.skip_depth is not None and kind is not ev.DocumentEndEvent:
            self._skip(kind, event.start_mark)
        elif kind is ev.ScalarEvent:
            self._scalar(event)
        elif kind is ev.MappingStartEvent or kind is ev.SequenceStartEvent:
            self._start(event, is_map=kind is ev.MappingStartEvent)
        elif kind is ev.MappingEndEvent or kind is ev.SequenceEndEvent:
            self._end()
        elif kind is ev.AliasEvent:
            self._alias(event.anchor, event.start_mark)
        elif kind is ev.DocumentStartEvent:
            self.doc_start = _at(event.start_mark)
            self.stack, self.anchors, self.open_anchors = [], {}, set()
            self.expanded, self.root, self.broken = 0, None, False
        elif kind is ev.DocumentEndEvent:
            self._end_document()

    def _skip(self, kind: type, mark: Any) -> None:
        """Skip the rest of a broken document, still refusing to descend too deep."""
        assert self.skip_depth is not None
        if kind is ev.MappingStartEvent or kind is ev.SequenceStartEvent:
            self.skip_depth += 1
            self._check_depth(self.skip_depth, mark)
        elif kind is ev.MappingEndEvent or kind is ev.SequenceEndEvent:
            self.skip_depth -= 1

    def _end_document(self) -> None:
        value, pos = self.root if self.root is not None else (None, None)
        if value is None or pos is None:
            pos = SourcePosition(*self.doc_start)  # empty documents: point at their start
        index = len(self.result.documents)
        doc = YamlDocument(self.display, index, value, pos, broken=self.broken)
        self.result.documents.append(doc)
        self.skip_depth = None

    def _check_depth(self, depth: int, mark: Any) -> None:
        if depth > MAX_DEPTH:
            self._problem(_at(mark), f"nested more than {MAX_DEPTH} levels deep")
            raise _StopFile

    def _start(self, event: Any, *, is_map: bool) -> None:
        mark = event.start_mark
        self._check_depth(len(self.stack) + 1, mark)
        expected = f"{_YAML}map" if is_map else f"{_YAML}seq"
        if event.tag not in (None, "!", expected):
            self._problem(_at(mark), f"unsupported YAML tag {_show_tag(event.tag)}; remove it")
        record = self.full or not self.stack
        self.stack.append(_Frame({} if is_map else [], mark, event.anchor, record))
        if event.anchor is not None:
            self.open_anchors.add(event.anchor)

    def _end(self) -> None:
        frame = self.stack.pop()
        if frame.merges:
            self._apply_merges(frame)
        self._complete(frame.value, frame.mark, frame.size, frame.anchor, frame.pos)

    def _scalar(self, event: Any) -> None:
        text: str = event.value
        if "\x00" in text:  # only a "\0" escape gets here: the file itself has no NUL bytes
            self._problem(_at(event.start_mark), _NUL_MESSAGE)
        if event.tag is None and event.implicit[0]:
            parent = self.stack[-1] if self.stack else None
            if parent is not None and not parent.is_map:
                parent = None  # only keys need the checks below
            if text == "<<" and parent is not None and parent.key is _NO_KEY:
                parent.key, parent.key_mark = _MERGE, event.start_mark
                return
            if not text and parent is not None and isinstance(parent.key, str):
                self._problem(_at(event.start_mark), _empty_value(parent.key))
            try:
                value = plain_value(text)
            except NumberTooLarge as exc:
                self._problem(_at(event.start_mark), str(exc))
                value = None
            if not isinstance(value, str) and parent is not None and parent.key is _NO_KEY:
                self._problem(_at(event.start_mark), f"keys must be text; quote it: '{text}'")
                value = _IGNORED_KEY
        else:
            value = self._tagged(event.tag, text, event.start_mark)
        self._complete(value, event.start_mark, 1, event.anchor)

    def _tagged(self, tag: str | None, text: str, mark: Any) -> Any:
        if tag is None or tag in ("!", f"{_YAML}str", f"{_YAML}timestamp"):
            return text
        if tag in (f"{_YAML}int", f"{_YAML}float", f"{_YAML}bool", f"{_YAML}null"):
            try:
                value = plain_value(text)
            except NumberTooLarge as exc:
                self._problem(_at(mark), str(exc))
                return None
            wanted, noun = _TAGGED_TYPES[tag[len(_YAML) :]]
            if wanted is float and type(value) is int:
                return float(value)
            if type(value) is not wanted:
                self._problem(_at(mark), f"{_show_tag(tag)} value {text!r} is not {noun}")
                return None
            return value
        self._problem(_at(mark), f"unsupported YAML tag {_show_tag(tag)}; write a plain value")
        return None

    def _alias(self, name: str, mark: Any) -> None:
        if name in self.open_anchors:
            self._problem(
                _at(mark), f"alias *{name} refers to a value that contains it (recursive)"
            )
            self._complete(None, mark, 1, None)
            return
        if name not in self.anchors:
            self._problem(_at(mark), f"undefined alias *{name} (no &{name} before it)")
            self._complete(None, mark, 1, None)
            return
        value, size, pos = self.anchors[name]
        self.expanded += size
        if self.expanded > MAX_ALIAS_VALUES:
            self._problem(
                _at(mark),
                f"aliases in this document expand to more than {MAX_ALIAS_VALUES} values "
                "(a 'billion laughs' expansion); write the data out or use fewer aliases",
            )
            self.skip_depth = len(self.stack)
            return
        alias_pos = SourcePosition(*_at(mark))
        alias_pos.keys, alias_pos.fields, alias_pos.items = pos.keys, pos.fields, pos.items
        self._complete(_copy(value), mark, size, None, alias_pos)

    def _complete(
        self,
        value: Any,
        mark: Any,
        size: int,
        anchor: str | None,
        pos: SourcePosition | None = None,
    ) -> None:
        """Attach a finished value to its parent (as a key or a value) or make it the root.

        Positions are only materialised where they are recorded (fast mode records the top
        level only), which is most of what makes fast mode fast.
        """
        stack = self.stack
        if anchor is not None:
            pos = pos or SourcePosition(*_at(mark))
            self.anchors[anchor] = (value, size, pos)
            self.open_anchors.discard(anchor)
        if not stack:
            self.root = (value, pos or SourcePosition(*_at(mark)))
            return
        parent = stack[-1]
        parent.size += size
        recorded = parent.pos
        if not parent.is_map:
            parent.value.append(value)
            if recorded is not None and recorded.items is not None:
                recorded.items.append(pos or SourcePosition(*_at(mark)))
            return
        key = parent.key
        if key is _NO_KEY:
            parent.key_mark = mark
            if isinstance(value, str):
                # One object per distinct key: 10,000 specs repeat ~60 keys some 600,000 times.
                parent.key = sys.intern(value)
                return
            if value is not _IGNORED_KEY:  # plain scalars were reported where they were read
                message = "keys must be text, not a mapping or a list"
                if not isinstance(value, dict | list):
                    message = f"keys must be text, got {value!r}"
                self._problem(_at(mark), message)
            parent.key = _IGNORE
            return
        parent.key = _NO_KEY
        if key is _IGNORE:
            return
        if key is _MERGE:
            merged_pos = pos or SourcePosition(*_at(mark))
            parent.merges.append((value, merged_pos, _at(parent.key_mark)))
            return
        if key in parent.value:
            keys = recorded.keys if recorded is not None else None
            first = f" (first defined at line {keys[key][0]})" if keys else ""
            self._problem(_at(parent.key_mark), f"duplicate key {key!r}{first}")
            return
        parent.value[key] = value
        if recorded is not None and recorded.keys is not None and recorded.fields is not None:
            recorded.keys[key] = _at(parent.key_mark)
            recorded.fields[key] = pos or SourcePosition(*_at(mark))

    def _apply_merges(self, frame: _Frame) -> None:
        """YAML merge keys: merged mappings fill in keys the mapping does not set itself."""
        for value, pos, at in frame.merges:
            sources = value if isinstance(value, list) else [value]
            if not all(isinstance(source, dict) for source in sources):
                self._problem(at, "'<<' merges a mapping or a list of mappings")
                continue
            positions = pos.items if isinstance(value, list) else [pos]
            if positions is None or len(positions) != len(sources):
                positions = [pos] * len(sources)
            keys = frame.pos.keys if frame.pos is not None else None
            fields = frame.pos.fields if frame.pos is not None else None
            for source, source_pos in zip(sources, positions, strict=True):
                for key, item in source.items():
                    if key in frame.value:
                        continue
                    frame.value[key] = item
                    if keys is not None and fields is not None and source_pos.fields is not None:
                        keys[key] = source_pos.keys[key] if source_pos.keys else (pos.line, pos.col)
                        fields[key] = source_pos.fields[key]


def _empty_value(key: str) -> str:
    """``properties:`` with nothing under it would send null and clear the field."""
    return (
        f"{key!r} has no value (empty means null, which clears it): indent the lines that "
        f"belong to it under it, or write '{key}: null' to make it empty on purpose"
    )


def _copy(value: Any) -> Any:
    """A deep copy of an anchored value, so aliases never share objects."""
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _show_tag(tag: str) -> str:
    return "!!" + tag[len(_YAML) :] if tag.startswith(_YAML) else tag
