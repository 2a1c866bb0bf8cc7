"""Shared fixtures: a real sandbox server on 127.0.0.1 per test, started in a thread."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import Api, CliResult, env_for

from reconciler.cli import main
from reconciler.sandbox.server import SandboxServer, SandboxSettings

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def sandbox_factory(tmp_path: Path) -> Iterator[Callable[..., SandboxServer]]:
    """Start sandboxes with custom settings; all are stopped when the test ends."""
    started: list[SandboxServer] = []

    def start(**overrides: Any) -> SandboxServer:
        overrides.setdefault("db_path", tmp_path / f"sandbox-{len(started)}.db")
        server = SandboxServer(SandboxSettings(**overrides))
        server.start()
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.stop()


@pytest.fixture
def sandbox(sandbox_factory: Callable[..., SandboxServer]) -> SandboxServer:
    """A fresh sandbox with default settings (replace PATCH mode, no faults)."""
    return sandbox_factory()


@pytest.fixture
def run_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., CliResult]:
    """Run ``ionworks-apply`` in-process through its real entry point; returns code and output.

    Environment is cleared of IONWORKS_* so a developer's own credentials never leak into tests.
    """
    for name in list(os.environ):
        if name.startswith("IONWORKS_") or name in {"PROJECT_ID", "GITHUB_ACTIONS"}:
            monkeypatch.delenv(name, raising=False)

    def run(*args: str, env: dict[str, str] | None = None) -> CliResult:
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        capsys.readouterr()
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        else:  # pragma: no cover - main always exits
            code = 0
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def sandbox_env(sandbox: SandboxServer) -> dict[str, str]:
    """IONWORKS_* variables pointing at the test's sandbox."""
    return env_for(sandbox)


@pytest.fixture
def api(sandbox: SandboxServer) -> Iterator[Api]:
    """A plain HTTP client on the test's sandbox (tests that need their own override it)."""
    client = Api(sandbox)
    yield client
    client.close()
