"""apply on a real terminal: every change it makes is listed as it lands, and colour follows
NO_COLOR (https://no-color.org) unless a flag says otherwise."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import Api, env_for, spec_doc, write_manifests
from pty_terminal import Terminal

from reconciler.sandbox.server import SandboxServer

#: A colour or style escape (SGR); erasing a line (ESC [2K) is not colour.
COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def test_apply_on_a_terminal_lists_each_change_it_made(
    sandbox: SandboxServer, tmp_path: Path, api: Api
) -> None:
    api.create({**spec_doc("Changed"), "properties": {"managed_by": "ionworks-apply/default"}})
    manifests = write_manifests(
        tmp_path / "m", spec_doc("New A"), spec_doc("New B"), spec_doc("Changed", 6.0)
    )
    term = Terminal(["apply", str(manifests), "--yes"], env_for(sandbox))
    assert term.finish() == 0, term.seen
    for line in ("applied  create  New A", "applied  create  New B", "applied  update  Changed"):
        assert line in term.seen
    assert "Apply complete: 3 applied, 0 already done, 0 failed, 0 skipped." in term.seen
    assert "3/3 done" in term.seen, "the progress line counts as changes land"


@pytest.mark.parametrize(
    ("no_color", "flag", "coloured"),
    [
        ("", (), True),  # a terminal: colour by default (an empty NO_COLOR is no wish)
        ("1", (), False),  # NO_COLOR set: none
        ("1", ("--color",), True),  # a flag on the command line wins over the standing wish
        ("", ("--no-color",), False),
    ],
)
def test_colour_on_a_terminal_follows_no_color_and_the_flags(
    sandbox: SandboxServer, tmp_path: Path, no_color: str, flag: tuple[str, ...], coloured: bool
) -> None:
    name = f"Cell {no_color or 'unset'} {' '.join(flag) or 'default'}"
    manifests = write_manifests(tmp_path / "m", spec_doc(name))
    env = {**env_for(sandbox), "NO_COLOR": no_color}
    term = Terminal(["apply", str(manifests), "--yes"], env, colour=flag)
    assert term.finish() == 0, term.seen
    assert bool(COLOUR.search(term.seen)) is coloured, term.seen
    assert f"applied  create  {name}" in term.seen
