"""The `sandbox` click group: serve (as a real subprocess), seed and reset."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from click.testing import CliRunner

from reconciler.sandbox.cli import sandbox as sandbox_cli
from reconciler.sandbox.server import SandboxServer

REPO = Path(__file__).resolve().parents[1]
SERVE = [sys.executable, "-m", "reconciler.sandbox", "serve"]


def test_serve_prints_the_environment_and_stops_cleanly(tmp_path: Path) -> None:
    started = time.perf_counter()
    with subprocess.Popen(
        [*SERVE, "--port", "0", "--db", str(tmp_path / "sb.db"), "--api-key", "k-123"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None and proc.stderr is not None
            lines = [proc.stdout.readline().strip() for _ in range(3)]
            ready = time.perf_counter() - started
            print(f"sandbox serve ready after {ready:.2f} s")  # measured, not asserted
            assert [line.partition("=")[0] for line in lines] == [
                "export IONWORKS_API_URL",
                "export IONWORKS_API_KEY",
                "export IONWORKS_PROJECT_ID",
            ]
            url, key, project = (line.partition("=")[2] for line in lines)
            assert url.startswith("http://127.0.0.1:") and key == "k-123"
            with httpx.Client(base_url=url, headers={"X-API-Key": key}) as api:
                assert api.get(f"/projects/{project}").status_code == 200
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=10) == 0
            assert "Sandbox stopped." in proc.stderr.read()
        finally:
            proc.kill()


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
