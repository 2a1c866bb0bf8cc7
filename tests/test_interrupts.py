"""Ctrl-C during apply: new writes stop at once, the process exits 130 within seconds, and a
second Ctrl-C (however soon after the first) never hangs it or ends it any other way.

Each run is a real ``ionworks-apply apply`` process against the sandbox; the signals go to it
while its creates are being sent, and the sandbox's journal shows what reached the server.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import Api, spec_doc, write_manifests

from reconciler.sandbox.server import SandboxServer

CLI = Path(sys.executable).parent / "ionworks-apply"
CONCURRENCY = 8


def posts(api: Api) -> int:
    return sum(1 for r in api.journal() if r["method"] == "POST")


#: The failures this guards against were timing-dependent (a hang in 3 of 8 runs, a traceback
#: now and then), so the closest gaps are tried several times.
GAPS = [0.0, 0.00005, 0.0, 0.00005, 0.0, 0.00005, 0.3]


@pytest.mark.parametrize("gap", GAPS, ids=[f"{i}-{gap * 1e6:g}us" for i, gap in enumerate(GAPS)])
def test_two_ctrl_c_stop_writes_and_exit_130(
    sandbox_factory: Callable[..., SandboxServer], tmp_path: Path, gap: float
) -> None:
    server = sandbox_factory(latency_ms=100)
    manifests = write_manifests(tmp_path / "m", *(spec_doc(f"Cell {i:03d}") for i in range(300)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("IONWORKS_")}
    env.update(
        IONWORKS_API_URL=server.url,
        IONWORKS_API_KEY=server.api_key,
        IONWORKS_PROJECT_ID=server.project_id,
    )
    api = Api(server)
    try:
        process = subprocess.Popen(
            [str(CLI), "--concurrency", str(CONCURRENCY), "apply", str(manifests), "--yes"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while posts(api) < 20 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.01)
        assert process.poll() is None, "apply ended before it could be interrupted"
        os.kill(process.pid, signal.SIGINT)
        if gap:
            time.sleep(gap)
        os.kill(process.pid, signal.SIGINT)
        at_interrupt = posts(api)
        try:
            _, err = process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            pytest.fail("apply hung after two Ctrl-C")
        assert process.returncode == 130, err
        assert "Interrupted; a re-run converges." in err
        assert "Traceback" not in err
        time.sleep(0.5)
        assert posts(api) - at_interrupt <= CONCURRENCY, "writes went on after Ctrl-C"
        assert len(api.specs()) < 150
    finally:
        api.close()
