"""The CLI on a real pseudo-terminal, for what only happens on a terminal (prompts, progress,
colour by default)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time


class Terminal:
    """``python -m reconciler`` on a pty: type answers when a prompt appears.

    ``colour`` are the global options on colour (default ``--no-color``, so output is plain).
    """

    def __init__(
        self, args: list[str], env: dict[str, str], colour: tuple[str, ...] = ("--no-color",)
    ) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "reconciler", *colour, *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**os.environ, **env},
            close_fds=True,
        )
        os.close(slave)
        self.seen = ""

    def expect(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"did not see {text!r}; output so far:\n{self.seen}"
            ready, _, _ = select.select([self.master], [], [], remaining)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # the child closed the terminal
                    chunk = b""
                if not chunk:
                    assert text in self.seen, f"exited before {text!r}:\n{self.seen}"
                self.seen += chunk.decode(errors="replace")

    def type(self, line: str) -> None:
        os.write(self.master, (line + "\n").encode())

    def finish(self, timeout: float = 60.0) -> int:
        try:
            while True:
                ready, _, _ = select.select([self.master], [], [], timeout)
                if not ready:
                    break
                chunk = os.read(self.master, 4096)
                if not chunk:
                    break
                self.seen += chunk.decode(errors="replace")
        except OSError:
            pass
        code = self.proc.wait(timeout=timeout)
        os.close(self.master)
        return code
