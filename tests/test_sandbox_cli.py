"""The `sandbox` click group: serve (as a real subprocess), seed and reset."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from helpers import CliResult

from reconciler.sandbox.cli import is_loopback
from reconciler.sandbox.cli import sandbox as sandbox_cli
from reconciler.sandbox.server import SandboxServer

REPO = Path(__file__).resolve().parents[1]
SERVE = [sys.executable, "-m", "reconciler.sandbox", "serve"]


SERVE_BOUND_TO_LOOPBACK = """
import sys
import reconciler.sandbox.server as server
from reconciler.sandbox.cli import sandbox

bind = server.bind_socket
server.bind_socket = lambda host, port: bind("127.0.0.1", port)  # the test never leaves loopback
sandbox(sys.argv[1:], prog_name="sandbox")
"""


SERVE_ON_LOOPBACK_ONLY = [sys.executable, "-c", SERVE_BOUND_TO_LOOPBACK, "serve"]


@contextmanager
def serving(command: list[str]) -> Iterator[tuple[dict[str, str], str]]:
    """Run ``sandbox serve`` until the block ends: its exports and its first stderr line."""
    with subprocess.Popen(
        [*command, "--port", "0"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None and proc.stderr is not None
            lines = [proc.stdout.readline().strip() for _ in range(3)]
            exports = {name: value for name, _, value in (line.partition("=") for line in lines)}
            yield exports, proc.stderr.readline()
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=10) == 0
            assert "Sandbox stopped." in proc.stderr.read()
        finally:
            proc.kill()


def test_serve_prints_the_environment_and_stops_cleanly(tmp_path: Path) -> None:
    started = time.perf_counter()
    command = [*SERVE, "--db", str(tmp_path / "sb.db"), "--api-key", "k-123"]
    with serving(command) as (exports, _):
        print(f"sandbox serve ready after {time.perf_counter() - started:.2f} s")  # not asserted
        assert list(exports) == [
            "export IONWORKS_API_URL",
            "export IONWORKS_API_KEY",
            "export IONWORKS_PROJECT_ID",
        ]
        url, key, project = exports.values()
        assert url.startswith("http://127.0.0.1:") and key == "k-123"
        with httpx.Client(base_url=url, headers={"X-API-Key": key}) as api:
            assert api.get(f"/projects/{project}").status_code == 200


def test_serve_warns_before_an_explicit_non_loopback_host(tmp_path: Path) -> None:
    # 192.0.2.1 is TEST-NET-1: never assigned locally, so the bind fails and nothing listens.
    result = subprocess.run(
        [*SERVE, "--host", "192.0.2.1", "--port", "0", "--db", str(tmp_path / "sb.db")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode == 1
    assert "Warning: listening on 192.0.2.1, which is not loopback" in result.stderr
    assert "cannot listen on 192.0.2.1:0" in result.stderr
    assert "export" not in result.stdout


def test_serve_refuses_a_non_loopback_host_it_was_not_given_explicitly(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        sandbox_cli,
        ["serve", "--db", str(tmp_path / "sb.db")],
        env={"SBX_SERVE_HOST": "0.0.0.0"},
        auto_envvar_prefix="SBX",
    )
    assert result.exit_code == 2
    assert "refusing to listen on non-loopback host '0.0.0.0'" in result.output
    assert not (tmp_path / "sb.db").exists()


def test_serve_rejects_unknown_fault_kinds(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        sandbox_cli, ["serve", "--db", str(tmp_path / "sb.db"), "--faults", "503,teapot"]
    )
    assert result.exit_code == 2 and "teapot" in result.output


def test_seed_and_reset_work_on_the_file_of_a_running_sandbox(sandbox: SandboxServer) -> None:
    db = str(sandbox.settings.db_path)
    runner = CliRunner()
    with httpx.Client(base_url=sandbox.url, headers={"X-API-Key": sandbox.api_key}) as api:
        ids = [
            api.post(
                "/cell_specifications", json={"name": n, "project_id": sandbox.project_id}
            ).json()["id"]
            for n in ("A", "B")
        ]
        seed_args = ["seed", "--instances", "3", "--measurements", "2", "--batches", "1"]
        seeded = runner.invoke(sandbox_cli, [*seed_args, "--db", db])
        assert seeded.exit_code == 0, seeded.output
        assert "2 spec(s): 2 batches, 6 instances, 12 measurements" in seeded.output
        only_a = runner.invoke(sandbox_cli, ["seed", "--instances", "1", "--spec", "A", "--db", db])
        assert only_a.exit_code == 0, only_a.output
        counts = [len(api.get(f"/cell_specifications/{i}").json()["instance_ids"]) for i in ids]
        assert counts == [4, 3]
        missing = runner.invoke(
            sandbox_cli, ["seed", "--instances", "1", "--spec", "Z", "--db", db]
        )
        assert missing.exit_code == 1 and "no cell specification named 'Z'" in missing.output
        reset = runner.invoke(sandbox_cli, ["reset", "--db", db])
        assert reset.exit_code == 0, reset.output
        assert api.get("/cell_specifications").json()["total"] == 0
        assert api.get(f"/projects/{sandbox.project_id}").status_code == 200


def test_seed_needs_an_existing_database(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        sandbox_cli, ["seed", "--instances", "1", "--db", str(tmp_path / "none.db")]
    )
    assert result.exit_code == 1 and "no sandbox database" in result.output


def one_error_line(result: CliResult) -> str:
    """The single stderr line of a refused command (no traceback, nothing on stdout)."""
    assert result.code == 1, result.output
    assert result.out == "" and "Traceback" not in result.err
    (line,) = result.err.strip().splitlines()
    assert line.startswith("Error: ")
    return line


@pytest.mark.parametrize(
    ("key", "says"),
    [("", "must not be empty"), ("two words", "must be printable ASCII without spaces")],
)
def test_serve_refuses_an_unusable_api_key(
    run_cli: Callable[..., CliResult], tmp_path: Path, key: str, says: str
) -> None:
    db = tmp_path / "sb.db"
    result = run_cli("sandbox", "serve", "--port", "0", "--db", str(db), "--api-key", key)
    assert one_error_line(result) == f"Error: --api-key {says}"
    assert not db.exists()


def test_serve_refuses_a_viewer_key_equal_to_the_api_key(
    run_cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    args = ["--port", "0", "--db", str(tmp_path / "sb.db"), "--api-key", "k", "--viewer-key", "k"]
    result = run_cli("sandbox", "serve", *args)
    assert one_error_line(result) == "Error: --viewer-key must differ from --api-key"


@pytest.mark.parametrize("command", ["serve", "seed", "reset"])
def test_a_file_that_is_not_sqlite_is_one_clear_error(
    run_cli: Callable[..., CliResult], tmp_path: Path, command: str
) -> None:
    not_sqlite = tmp_path / "notes.txt"
    not_sqlite.write_text("these are my notes, not a database\n" * 100)
    extra = {"serve": ["--port", "0"], "seed": ["--instances", "1"], "reset": []}[command]
    result = run_cli("sandbox", command, *extra, "--db", str(not_sqlite))
    line = one_error_line(result)
    assert line == f"Error: {not_sqlite} is not a sandbox database (file is not a database)"
    assert not_sqlite.read_text().startswith("these are my notes")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("0.0.0.0", False),
        ("::", False),
        ("::ffff:10.0.0.1", False),
        ("192.0.2.1", False),
        ("example.org", False),
    ],
)
def test_what_counts_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_a_non_loopback_host_never_keeps_the_well_known_key(tmp_path: Path) -> None:
    command = [*SERVE_ON_LOOPBACK_ONLY, "--host", "0.0.0.0"]
    with serving([*command, "--db", str(tmp_path / "a")]) as (exports, warning):
        assert warning.startswith("Warning: listening on 0.0.0.0, which is not loopback")
        key = exports["export IONWORKS_API_KEY"]
        assert key != "sandbox-key" and len(key) >= 24
        url = exports["export IONWORKS_API_URL"]
        with httpx.Client(base_url=url, timeout=10) as api:
            assert api.get("/users/me", headers={"X-API-Key": "sandbox-key"}).status_code == 401
            assert api.get("/users/me", headers={"X-API-Key": key}).status_code == 200
    chosen = [*command, "--api-key", "chosen-key", "--db", str(tmp_path / "b")]
    with serving(chosen) as (exports, _):
        assert exports["export IONWORKS_API_KEY"] == "chosen-key"


def ipv6_loopback_works() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::ffff:127.0.0.1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not ipv6_loopback_works(), reason="this host cannot bind IPv6 sockets")
def test_an_ipv4_mapped_loopback_host_is_loopback(tmp_path: Path) -> None:
    command = [*SERVE, "--host", "::ffff:127.0.0.1", "--db", str(tmp_path / "sb.db")]
    with serving(command) as (exports, ready):
        assert exports["export IONWORKS_API_URL"].startswith("http://[::ffff:127.0.0.1]:")
        assert exports["export IONWORKS_API_KEY"] == "sandbox-key"
        assert ready.startswith("Sandbox ready")


def test_behaviour_flags_reach_the_running_sandbox(tmp_path: Path) -> None:
    flags = ["--list-order", "unstable", "--write-response", "metadata", "--patch-mode", "merge"]
    flags += ["--nested-null", "reject", "--material-upsert", "per-spec", "--strict-text"]
    flags += ["--ratings-optional", "--viewer-key", "look-only", "--max-body-bytes", "2048"]
    with serving([*SERVE, "--db", str(tmp_path / "sb.db"), *flags]) as (exports, ready):
        assert ready == (
            f"Sandbox ready ({tmp_path / 'sb.db'}, patch_mode=merge, list_order=unstable, "
            "write_response=metadata, nested_null=reject, material_upsert=per-spec, "
            "strict_text=True, ratings_required=False); Ctrl-C stops it.\n"
        )
        url = exports["export IONWORKS_API_URL"]
        with httpx.Client(base_url=url, headers={"X-API-Key": "sandbox-key"}) as api:
            assert api.get("/_sandbox/behaviour").json() == {
                "patch_mode": "merge",
                "list_order": "unstable",
                "write_response": "metadata",
                "nested_null": "reject",
                "material_upsert": "per-spec",
                "strict_text": True,
                "ratings_required": False,
            }
            assert api.post("/_sandbox/reset", content=b"x" * 4096).status_code == 413
        viewer = {"X-API-Key": "look-only"}
        with httpx.Client(base_url=url, headers=viewer) as api:
            assert api.get("/cell_specifications").status_code == 200
            assert api.post("/_sandbox/reset").status_code == 403


def test_embedded_sandbox_on_a_corrupt_database_is_one_clear_error(
    run_cli: Callable[..., Any], tmp_path: Path
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "sandbox.db").write_bytes(b"this is not sqlite" * 100)
    manifests = tmp_path / "m"
    manifests.mkdir()
    result = run_cli("--sandbox", str(state), "plan", str(manifests))
    assert result.code == 1, result.output
    [error] = [line for line in result.err.splitlines() if line.startswith("Error:")]
    assert "sandbox.db" in error
    assert "Internal error" not in result.output
