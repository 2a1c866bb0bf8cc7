"""A manifest file as text: size, encoding and binary checks, and plain words for YAML errors.

Everything here happens before or after the YAML parser, never inside it: reading bytes into
text (or a problem saying why not), and turning the parser's exceptions into one message at
``line:col``, with advice for the mistakes people make most (tabs, reserved characters).
"""

from __future__ import annotations

import os
from pathlib import Path

from ruamel.yaml.error import MarkedYAMLError, YAMLError

from reconciler.errors import Location, Problem

MAX_FILE_BYTES = 5 * 1024 * 1024


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
    if "cannot start any token" in problem and line <= len(lines) and col <= len(lines[line - 1]):
        char = lines[line - 1][col - 1]
        return (line, col), f"YAML syntax error: {char!r} cannot start a value; quote the value"
    context = ""
    if exc.context and exc.context_mark is not None and exc.context_mark.line + 1 != line:
        context = f" ({exc.context} at line {exc.context_mark.line + 1})"
    elif exc.context:
        context = f" ({exc.context})"
    return (line, col), f"YAML syntax error: {problem}{context}"


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
