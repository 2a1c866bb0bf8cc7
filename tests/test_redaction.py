"""Credentials never leave the process: no command, verbosity or failure prints or writes them.

Every command runs with a distinctive key (and, separately, a distinctive token) at ``-vv``,
through success and failure paths. Stdout, stderr, every log record (all loggers, DEBUG, with
tracebacks) and every file the commands write are searched for the secret, its URL-encoded and
base64 forms, and pieces of it. Fake servers on 127.0.0.1 echo the key back in the places a
sandbox never would: a broken status line, response headers, an encoded error body.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from helpers import Api, spec_doc, write_manifests
from test_api_support import RawServer, http_answer, list_server, plan_against

from reconciler.api import session
from reconciler.sandbox.server import SandboxServer

Cli = Callable[..., Any]
Factory = Callable[..., SandboxServer]

SECRET_KEY = "iw_SECRETKEY_1f2e3d4c5b6a_zQxWvRkPmN"
SECRET_TOKEN = "iwt_SECRETTOKEN_9a8b7c6d5e4f_yHtGfDsLqJ"
ROOT = Path(__file__).parent.parent


def forms(secret: str) -> list[str]:
    """The secret as it could leak: whole, encoded, or in recognisable pieces."""
    middle = len(secret) // 2
    return [
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        base64.b64encode(secret.encode()).decode(),
        secret[-8:],
        secret[:12],
        secret[middle - 4 : middle + 4],
    ]


def leaks(secret: str, text: str) -> list[str]:
    return [form for form in forms(secret) if form in text]


def written_files(root: Path) -> Iterator[tuple[Path, str]]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.name.startswith("sandbox-"):  # the sandbox's own db
            yield path, path.read_text(encoding="utf-8", errors="replace")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class Session:
    """Runs commands with the secret given one way, collecting everything they produce."""

    def __init__(
        self, run_cli: Cli, server: SandboxServer, kind: str, via: str, secret: str
    ) -> None:
        self.run_cli = run_cli
        self.server = server
        self.secret = secret
        self.flag = "--api-key" if kind == "key" else "--token"
        self.env_name = "IONWORKS_API_KEY" if kind == "key" else "IONWORKS_API_TOKEN"
        self.via = via
        self.transcript: list[str] = []

    def run(self, *args: str, url: str | None = None, expect: int | None = 0) -> Any:
        env = {
            "IONWORKS_API_URL": url or self.server.url,
            "IONWORKS_PROJECT_ID": self.server.project_id,
        }
        options = ["-vv"]
        if self.via == "env":
            env[self.env_name] = self.secret
        else:
            options += [self.flag, self.secret]
        result = self.run_cli(*options, *args, env=env)
        self.transcript.append(f"$ {' '.join(args)} -> {result.code}\n{result.out}{result.err}")
        if expect is not None:
            assert result.code == expect, f"{args}: exit {result.code}\n{result.output}"
        assert "Traceback" not in result.output and "Internal error" not in result.output
        return result


@pytest.mark.parametrize(
    ("kind", "via"), [("key", "env"), ("key", "flag"), ("token", "env"), ("token", "flag")]
)
def test_no_command_or_failure_reveals_the_credential(
    sandbox_factory: Factory,
    run_cli: Cli,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
    kind: str,
    via: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = SECRET_KEY if kind == "key" else SECRET_TOKEN
    server = sandbox_factory(api_key=secret)
    stranger = sandbox_factory(api_key="someone-elses-key")
    api = Api(server)
    cli = Session(run_cli, server, kind, via, secret)
    work = tmp_path / "work"
    work.mkdir()
    try:
        manifests = write_manifests(
            work / "m", spec_doc("Keep"), spec_doc("Gone"), spec_doc("Edited")
        )
        bad = write_manifests(work / "bad", {"name": "Bad", "ratings": {"capacity": 5}})

        cli.run("validate", str(manifests))
        cli.run("validate", str(bad), expect=1)
        cli.run("schema")
        for fmt in ("text", "markdown", "json"):
            cli.run("plan", str(manifests), "--format", fmt, "--out", str(work / f"plan.{fmt}"))
        cli.run("apply", str(manifests), "--yes", "--report", str(work / "report.json"))
        cli.run("drift", str(manifests))
        cli.run("export", "--out", str(work / "exported"))
        cli.run(
            "sandbox",
            "seed",
            "--db",
            str(server.settings.db_path),
            "--instances",
            "1",
            "--spec",
            "Gone",
        )

        # stale plan (exit 3): the spec moved after the plan was made
        write_manifests(manifests, spec_doc("Keep"), spec_doc("Gone"), spec_doc("Edited", 4.0))
        cli.run("plan", str(manifests), "--out", str(work / "stale.json"))
        api.patch(api.spec("Edited")["id"], {"notes": "moved"})
        cli.run("apply", str(work / "stale.json"), "--yes", expect=3)
        # guard refusal (exit 3): pruning a spec with instances
        write_manifests(manifests, spec_doc("Keep"), spec_doc("Edited"))
        cli.run("apply", str(manifests), "--prune", "--yes", expect=3)
        cli.run("drift", str(manifests), expect=2)
        # a hand-edited plan file: refused before anything is sent (it is re-derived)
        write_manifests(manifests, spec_doc("Keep"), spec_doc("Gone"), spec_doc("Fresh"))
        cli.run("plan", str(manifests), "--out", str(work / "tampered.json"))
        tampered = json.loads((work / "tampered.json").read_text())
        [create] = [c for c in tampered["plans"][0]["changes"] if c["kind"] == "create"]
        create["body"]["ratings"]["bogus"] = {"value": 1, "unit": "V"}
        (work / "tampered.json").write_text(json.dumps(tampered))
        rejected = cli.run(
            "apply",
            str(work / "tampered.json"),
            "--yes",
            "--report",
            str(work / "r422.json"),
            expect=3,
        )
        assert "the plan file was edited" in rejected.output
        # 401: the secret is sent to an API that does not know it
        denied = cli.run("plan", str(manifests), url=stranger.url, expect=1)
        assert "rejected the credentials (401" in denied.err
        if via == "flag":  # the slow ones (retries back off): once per kind of credential
            # 5xx: faults while applying (recovered or not), then an API that only fails
            more = [spec_doc(f"Cell {i}") for i in range(6)]
            write_manifests(manifests, spec_doc("Keep"), spec_doc("Gone"), *more)
            api.set_faults(fault_rate=0.3, faults=["500", "502", "503"], seed=3)
            report = str(work / "r5xx.json")
            cli.run("apply", str(manifests), "--yes", "--report", report, expect=None)
            api.set_faults(fault_rate=1.0, faults=["502"])
            down = cli.run("drift", str(manifests), expect=1)
            assert "the Ionworks API failed (HTTP 502) after 6 attempts" in down.err
            api.set_faults(fault_rate=0.0)
            # network error: nothing listens on the port
            cli.run("plan", str(manifests), url=f"http://127.0.0.1:{closed_port()}", expect=1)
        api.set_faults(fault_rate=0.0)
    finally:
        api.close()

    transcript = "\n".join(cli.transcript)
    assert "rejected the credentials" in transcript
    assert not leaks(secret, transcript), transcript
    records = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "GET /cell_specifications -> 200" in records, "-vv must log every request"
    if via == "flag":
        assert "POST /cell_specifications -> 50" in records, "faults must have hit a write"
    assert not leaks(secret, caplog.text + records)
    files = list(written_files(work))
    names = {p.name for p, _ in files}
    assert {"plan.json", "plan.markdown", "plan.text", "report.json"} <= names
    assert any(p.parent.name == "exported" for p, _ in files)
    for path, text in files:
        assert not leaks(secret, text), path


@pytest.mark.parametrize("kind", ["key", "token"])
def test_subprocess_at_highest_verbosity_logs_requests_but_never_the_credential(
    sandbox_factory: Factory, tmp_path: Path, kind: str
) -> None:
    """The real logging set-up (``logging.basicConfig`` to stderr), through retries and errors."""
    secret = SECRET_KEY if kind == "key" else SECRET_TOKEN
    server = sandbox_factory(api_key=secret)
    api = Api(server)
    manifests = write_manifests(tmp_path / "m", *(spec_doc(f"Cell {i}") for i in range(6)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("IONWORKS_")}
    env.update(
        IONWORKS_API_URL=server.url,
        IONWORKS_PROJECT_ID=server.project_id,
        **{"IONWORKS_API_KEY" if kind == "key" else "IONWORKS_API_TOKEN": secret},
    )
    try:
        api.set_faults(fault_rate=0.4, faults=["500", "429", "drop", "drop-after-commit"], seed=5)
        completed = subprocess.run(
            [sys.executable, "-m", "reconciler", "-vv", "apply", str(manifests), "--yes"],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=60,
            check=False,
        )
    finally:
        api.close()
    output = completed.stdout + completed.stderr
    assert completed.returncode in (0, 1), output
    assert "DEBUG reconciler.api: POST /cell_specifications ->" in completed.stderr, output
    assert "Traceback" not in output
    assert not leaks(secret, output), output


@pytest.mark.parametrize(
    "padded",
    [SECRET_KEY + " ", SECRET_KEY + "\r", " " + SECRET_KEY],
    ids=["trailing space", "carriage return", "leading space"],
)
def test_a_malformed_key_is_refused_or_trimmed_without_being_echoed(
    sandbox_factory: Factory,
    run_cli: Cli,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
    padded: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    server = sandbox_factory(api_key=SECRET_KEY)
    manifests = write_manifests(tmp_path / "m", spec_doc("A"))
    env = {"IONWORKS_API_URL": server.url, "IONWORKS_PROJECT_ID": server.project_id}
    result = run_cli("-vv", "--api-key", padded, "plan", str(manifests), env=env)
    assert result.code in (0, 1), result.output
    assert "Internal error" not in result.output
    assert not leaks(SECRET_KEY, result.output + caplog.text), result.output


# -- answers that echo the secret back, at every verbosity -------------------------------------


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """GETs are retried 5 times; the waits in between are not what these tests are about."""
    monkeypatch.setattr(session, "retry_delay", lambda settings, attempt, asked: 0.0)


def echo_forms(secret: str) -> str:
    """The secret as a careless server or proxy would send it back: raw, encoded, in auth."""
    basic = base64.b64encode(f"user:{secret}".encode()).decode()
    return f"key={secret} q={quote_plus(secret)} p={quote(secret, safe='')} basic={basic}"


@pytest.mark.parametrize("verbosity", [(), ("-vv",)], ids=["quiet", "-vv"])
def test_a_secret_in_a_broken_status_line_never_reaches_the_output(
    run_cli: Cli,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
    no_backoff: None,
    verbosity: tuple[str, ...],
) -> None:
    caplog.set_level(logging.DEBUG)

    def respond(server: RawServer, conn: socket.socket, request: str) -> None:
        conn.sendall(
            f"HTTP/1.1 2OO {SECRET_KEY}\r\nx-echo: {echo_forms(SECRET_KEY)}\r\n\r\n".encode()
        )

    with RawServer(respond) as server:
        result = plan_against(run_cli, server.url, tmp_path / "m", before=verbosity, key=SECRET_KEY)
    assert result.code == 1, result.output
    [line] = [line for line in result.err.splitlines() if line.startswith("Error:")]
    assert line.startswith("Error: listing cell specifications (GET /cell_specifications)")
    assert "illegal status line" in line and "2OO ***" in line
    assert "Traceback" not in result.output
    assert set(server.methods()) == {"GET"}
    assert not leaks(SECRET_KEY, result.output + caplog.text)


def test_response_headers_are_never_logged_even_at_the_highest_verbosity(
    run_cli: Cli, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    cookie = {"set-cookie": f"session={SECRET_KEY}", "x-echo": echo_forms(SECRET_KEY)}
    with list_server([], **cookie) as server:
        result = plan_against(run_cli, server.url, tmp_path / "m", before=("-vv",), key=SECRET_KEY)
    assert result.code == 0, result.output
    assert "GET /cell_specifications -> 200" in caplog.text, "-vv still logs each request"
    assert "set-cookie" not in caplog.text.lower()
    assert not leaks(SECRET_KEY, result.output + caplog.text)


def test_a_secret_echoed_encoded_in_an_error_body_is_masked(
    run_cli: Cli, caplog: pytest.LogCaptureFixture, tmp_path: Path, no_backoff: None
) -> None:
    caplog.set_level(logging.DEBUG)
    body = json.dumps({"detail": f"bad credentials: {echo_forms(SECRET_KEY)}"}).encode()

    def respond(server: RawServer, conn: socket.socket, request: str) -> None:
        conn.sendall(http_answer(502, body, **{"x-correlation-id": SECRET_KEY}))

    with RawServer(respond) as server:
        result = plan_against(run_cli, server.url, tmp_path / "m", before=("-vv",), key=SECRET_KEY)
    assert result.code == 1, result.output
    assert "the Ionworks API failed (HTTP 502) after 6 attempts: bad credentials: key=***" in (
        result.err
    )
    assert "(correlation id ***)" in result.err
    assert not leaks(SECRET_KEY, result.output + caplog.text)


def test_an_organization_id_no_header_can_carry_is_refused_without_a_request(
    run_cli: Cli, tmp_path: Path
) -> None:
    with list_server([]) as server:
        result = plan_against(
            run_cli,
            server.url,
            tmp_path / "m",
            key=SECRET_KEY,
            IONWORKS_ORGANIZATION_ID=f"{SECRET_KEY}é",
        )
    assert result.code == 1, result.output
    assert result.err.startswith("Error: the organization id (IONWORKS_ORGANIZATION_ID / --org)")
    assert "Traceback" not in result.output and "Internal error" not in result.output
    assert server.requests == []
    assert not leaks(SECRET_KEY, result.output)


@pytest.mark.parametrize("tail", [f"/?api_key={SECRET_KEY}", f"/#{SECRET_KEY}"])
def test_an_api_url_with_a_query_or_fragment_is_refused_without_echoing_it(
    run_cli: Cli, tmp_path: Path, tail: str
) -> None:
    manifests = write_manifests(tmp_path / "m", spec_doc("A"))
    url = f"http://127.0.0.1:{closed_port()}{tail}"
    env = {"IONWORKS_API_KEY": "k" * 20, "IONWORKS_PROJECT_ID": "proj-1"}
    result = run_cli("--api-url", url, "plan", str(manifests), env=env)
    assert result.code == 1, result.output
    assert result.err.startswith("Error: the API URL must not contain a query string or fragment")
    assert len(result.err.strip().splitlines()) == 1
    assert not leaks(SECRET_KEY, result.output)
