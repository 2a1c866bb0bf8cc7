"""A manifest file as text: size, encoding and binary checks, and plain words for YAML errors.

Everything here happens before or after the YAML parser, never inside it: reading bytes into
text (or a problem saying why not), and turning the parser's exceptions into one message at
``line:col``, with advice for the mistakes people make most (tabs, reserved characters).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from ruamel.yaml.error import MarkedYAMLError, YAMLError

from reconciler.errors import Location, Problem

MAX_FILE_BYTES = 5 * 1024 * 1024
# ``key: value`` (also after list dashes); the key plain or quoted.
_KEY_LINE = re.compile(
    r"(?P<indent> *)(?P<dashes>(?:- +)*)"
    r"(?P<key>\"[^\"]*\"|'[^']*'|[^\s#'\"{\[\]}&*!|>%@`-][^#]*?|-[^\s#][^#]*?)"
    r"[ \t]*(?P<colon>:)(?:[ \t]|$)"
)


def display_path(path: Path) -> str:
    """The path as messages show it: relative to the working directory when under it."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return absolute.as_posix()


def read_text(path: Path, display: str) -> tuple[str | None, list[Problem]]:
    """The file's text, or the problems that keep it from being a UTF-8 YAML text file."""
    where = Location(display, 1, 1)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            limit = MAX_FILE_BYTES // (1024 * 1024)
            return None, [Problem(where, f"file is {size} bytes, over the {limit} MiB limit")]
        data = path.read_bytes()
    except OSError as exc:
        return None, [Problem(where, f"cannot read file: {exc.strerror or exc}")]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None, [Problem(where, "file is UTF-16 encoded; save it as UTF-8")]
    if b"\x00" in data:
        return None, [Problem(where, "binary file (contains NUL bytes); manifests are UTF-8 text")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        col = len(data[line_start : exc.start].decode("utf-8", errors="replace")) + 1
        byte = data[exc.start]
        message = f"invalid UTF-8 (byte 0x{byte:02x}); save the file as UTF-8"
        return None, [Problem(Location(display, line, col), message)]
    return text.removeprefix("\ufeff"), []


def syntax_problem(exc: MarkedYAMLError, text: str) -> tuple[tuple[int, int], str]:
    """libyaml's words, plus plain advice for the two mistakes people make most."""
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    lines = text.splitlines()
    tab = _tab_before(lines, line)
    if tab is not None:
        return tab, (
            "tab character in indentation: YAML indents with spaces only; "
            "replace the tab with spaces"
        )
    problem = exc.problem or "invalid YAML"
    explained = _misplaced_key(lines, line, col, problem) or _colon_in_value(
        lines, line, col, problem
    )
    if explained is not None:
        return explained
    if "cannot start any token" in problem and line <= len(lines) and col <= len(lines[line - 1]):
        char = lines[line - 1][col - 1]
        return (line, col), f"YAML syntax error: {char!r} cannot start a value; quote the value"
    context = ""
    if exc.context and exc.context_mark is not None and exc.context_mark.line + 1 != line:
        context = f" ({exc.context} at line {exc.context_mark.line + 1})"
    elif exc.context:
        context = f" ({exc.context})"
    return (line, col), f"YAML syntax error: {problem}{context}"


def _key_on(text: str) -> tuple[int, str, int] | None:
    """(column of the key, the key, column of its ':'), 0-based, for a ``key: ...`` line."""
    found = _KEY_LINE.match(text)
    if found is None:
        return None
    return len(found["indent"]) + len(found["dashes"]), found["key"], found.start("colon")


def _colon_in_value(
    lines: list[str], line: int, col: int, problem: str
) -> tuple[tuple[int, int], str] | None:
    """``notes: see: the datasheet``: the second ': ' is read as a nested key; quote the value."""
    if "mapping values are not allowed" not in problem:
        return None
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    found = _key_on(text)
    if found is None or found[2] >= col - 1:
        return None
    _, key, colon = found
    value = re.split(r"\s#", text[colon + 1 :], maxsplit=1)[0].strip()
    quoted = f"'{value}'" if "'" not in value else json.dumps(value, ensure_ascii=False)
    start = text.index(value, colon + 1) + 1
    return (line, start), (
        f"YAML syntax error: the value of {key!r} contains ': '; quote the value: {key}: {quoted}"
    )


def _misplaced_key(
    lines: list[str], line: int, col: int, problem: str
) -> tuple[tuple[int, int], str] | None:
    """A key indented deeper than the key above it, or between two levels: say where to put it.

    (A key indented too little is valid YAML; the schema says where it belongs.)
    """
    if "mapping values are not allowed" not in problem and "expected key" not in problem:
        return None
    found = _key_on(lines[line - 1]) if 0 < line <= len(lines) else None
    if found is None or col - 1 not in (found[0], found[2]):
        return None
    column, key, _ = found
    levels = _levels_above(lines, line - 1)
    if not levels:
        return None
    where = (line, column + 1)
    above_column, above = levels[0]
    if column > above_column:
        parent = next((k for c, k in levels if c < above_column), None)
        place = f"under {parent}" if parent else "at the top level"
        return where, (
            f"YAML syntax error: {key!r} is indented deeper than {above!r} above it; to put it "
            f"{place}, line it up with {above} ({_spaces(above_column)})"
        )
    inner = [(c, k) for c, k in levels if c > column]
    outer = [(c, k) for c, k in levels if c < column]
    if not inner or not outer:
        return None
    (inner_column, _), (outer_column, outer_key) = inner[-1], outer[0]
    beyond = outer[1][1] if len(outer) > 1 else None
    return where, (
        f"YAML syntax error: {key!r} is indented {column} spaces, between two levels: indent "
        f"it {inner_column} spaces to put it under {outer_key}, or {_spaces(outer_column)} to "
        f"put it {f'under {beyond}' if beyond else 'at the top level'}"
    )


def _levels_above(lines: list[str], index: int) -> list[tuple[int, str]]:
    """(column, key) of the key line above ``index`` and of each key enclosing it."""
    levels: list[tuple[int, str]] = []
    for text in reversed(lines[:index]):
        found = _key_on(text)
        if found is not None and (not levels or found[0] < levels[-1][0]):
            levels.append(found[:2])
            if found[0] == 0:
                break
    return levels


def _spaces(column: int) -> str:
    return f"{column} spaces" if column else "no indentation"


def _tab_before(lines: list[str], error_line: int) -> tuple[int, int] | None:
    """The tab in indentation most likely behind a syntax error at ``error_line``, if any."""
    for number in range(min(error_line, len(lines)), 0, -1):
        line = lines[number - 1]
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent:
            return number, indent.index("\t") + 1
    return None


def reader_problem(exc: YAMLError, text: str) -> tuple[tuple[int, int], str]:
    character = getattr(exc, "character", None)
    index = text.find(chr(character)) if isinstance(character, int) else -1
    if index < 0:
        return (1, 1), f"YAML cannot read this file: {exc}"
    line = text.count("\n", 0, index) + 1
    col = index - (text.rfind("\n", 0, index) + 1) + 1
    return (line, col), f"character U+{character:04X} is not allowed in YAML; remove it"
