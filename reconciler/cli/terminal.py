"""What talks to a terminal or a CI log: one escaping policy, the secret mask, progress,
prompts, annotations.

Spec names, file paths and API messages are other people's text. A name holding ``ESC[2J``
would clear the screen; a file name holding a line break followed by ``::warning ...`` would
inject a workflow command into a GitHub log. So every line printed here goes through ``safe``
(control, format and separator characters become visible escapes, so one logical line stays
one printed line) before any colour of ours is added, and GitHub annotations escape their data
and properties as GitHub documents. Whatever a server sends back, a credential is never
printed: everything the CLI prints passes through the API's one secret mask (``out``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import click

from reconciler.api.redaction import redact
from reconciler.errors import Problem
from reconciler.plan import Cascade, Change
from reconciler.render.values import clean
from reconciler.results import Outcome


def safe(text: str) -> str:
    """``text`` as one printable line: control characters and line breaks shown as escapes."""
    return clean(text)


def out(text: str, *, err: bool = False) -> None:
    """Print text the CLI made (a rendered plan, a summary): masked, not escaped (renderers
    escape what they quote)."""
    click.echo(redact(text), err=err)


def echo(text: str, *, err: bool = False, fg: str | None = None, color: bool = False) -> None:
    """Print one line of possibly foreign text, masked and escaped, optionally coloured."""
    shown = safe(redact(text))
    click.echo(click.style(shown, fg=fg, bold=True) if color and fg else shown, err=err)


def error(lines: Sequence[str]) -> None:
    """``Error: <first line>`` and the rest indented as given, on stderr, each escaped."""
    first, *rest = lines
    echo(f"Error: {first}", err=True)
    for line in rest:
        echo(line, err=True)


def cascade_words(cascade: Cascade | None) -> str:
    return cascade.describe() if cascade else "an uncounted cascade"


#: Colour of each outcome's line on a terminal (the others are plain).
_STATUS_COLOUR = {"applied": "green", "failed": "red", "blocked": "red", "skipped": "yellow"}


class LineReporter:
    """One line per change: readable in CI logs."""

    def __init__(self, color: bool) -> None:
        self.color = color

    def cascade_warning(self, change: Change) -> None:
        echo(
            f'DELETE "{change.name}": also deletes {cascade_words(change.cascade)}',
            fg="red",
            color=self.color,
        )

    def begin(self, total: int) -> None:
        out(f"Applying {total} change(s)...")

    def done(self, outcome: Outcome) -> None:
        echo(self.line(outcome))

    @staticmethod
    def line(outcome: Outcome) -> str:
        """``  applied  update  Cell A``, with the reason when it failed or was blocked."""
        text = f"  {outcome.status:8} {outcome.change.kind:7} {outcome.change.name}"
        if outcome.status in ("failed", "blocked") or outcome.restored:
            text += f": {outcome.message}"
        return text


class TerminalReporter(LineReporter):
    """On a terminal: every change as it lands (coloured by outcome when colour is on), under
    a progress line on stderr that is redrawn in place, and cleared at the end."""

    def __init__(self, color: bool) -> None:
        super().__init__(color)
        self.total = 0
        self.count = 0
        self.drawn = False

    def begin(self, total: int) -> None:
        super().begin(total)
        self.total = total
        self._progress()

    def done(self, outcome: Outcome) -> None:
        self.count += 1
        self._clear()
        echo(self.line(outcome), fg=_STATUS_COLOUR.get(outcome.status), color=self.color)
        self._progress()

    def close(self) -> None:
        self._clear()

    def _progress(self) -> None:
        sys.stderr.write(f"\r  {self.count}/{self.total} done")
        sys.stderr.flush()
        self.drawn = True

    def _clear(self) -> None:
        if self.drawn:
            sys.stderr.write("\r\x1b[2K")  # back to the line's start, and erase it
            sys.stderr.flush()
            self.drawn = False


@contextmanager
def reporter(color: bool) -> Iterator[LineReporter]:
    """Every change as it lands with a progress line when stderr is a terminal, else one line
    per change."""
    if not sys.stderr.isatty():
        yield LineReporter(color)
        return
    shown = TerminalReporter(color)
    try:
        yield shown
    finally:
        shown.close()


def interactive() -> bool:
    return sys.stdin.isatty()


def confirm_apply() -> bool:
    """Ask before writing; only the word ``yes`` agrees."""
    answer: str = click.prompt("Apply these changes? Only 'yes' is accepted", default="")
    return answer.strip() == "yes"


def confirm_cascade(change: Change, *, color: bool) -> bool:
    """Lift a cascade block by typing the spec's name: the one guard a person may lift here."""
    echo(
        f'DELETE "{change.name}" would also delete {cascade_words(change.cascade)}.',
        fg="red",
        color=color,
    )
    typed: str = click.prompt(
        f"Type the spec's name ({safe(change.name)}) to delete it", default=""
    )
    return typed == change.name


def annotation(problem: Problem) -> str:
    """A GitHub ``::error``/``::warning`` workflow command for one manifest problem."""
    where = problem.location
    level = "warning" if problem.severity == "warning" else "error"
    file = _property(safe(where.path))
    return (
        f"::{level} file={file},line={where.line},col={where.col}::{_data(safe(problem.message))}"
    )


def _data(text: str) -> str:
    """Escape a workflow command's message as GitHub's toolkit does (``%``, CR, LF)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    """Escape a workflow command property (also ``:`` and ``,``, which end one)."""
    return _data(text).replace(":", "%3A").replace(",", "%2C")
