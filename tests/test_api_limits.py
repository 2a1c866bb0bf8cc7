"""Limits on what a server can make us do: one deadline per attempt, a cap on the decoded size of
an answer, only the encoding we asked for, and a plausible list total.

Fake servers on 127.0.0.1 trickle, bomb and stream without end; MockTransport covers the client
alone. Every CLI case ends in one ``Error:`` line (exit 1), in bounded time and memory, with
nothing written.
"""

from __future__ import annotations

import functools
import gzip
import socket
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_api_support import (
    KEY,
    RawServer,
    call,
    json_response,
    list_server,
    one_error,
    plan_against,
    run,
)

from reconciler.api import ApiSettings, Credentials, IonworksClient, session
from reconciler.errors import TransportError, UnexpectedResponseError

Cli = Callable[..., Any]
MiB = 2**20
#: How long a trickling server goes on before it hangs up: far past any deadline under test,
#: and short enough that the code before the fix (which waited it out) fails, not hangs.
TRICKLE_FOR = 25.0
#: Generous: a run that stops at the deadline takes a few seconds; waiting out a trickle, 25.
BOUNDED_SECONDS = 20.0


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """GETs are retried 5 times; the waits in between are not what these tests are about."""
    monkeypatch.setattr(session, "retry_delay", lambda settings, attempt, asked: 0.0)


def trickle(fast: bytes, slow: bytes, every: float = 0.05) -> RawServer:
    """Sends ``fast`` at once, then ``slow`` one byte every ``every`` seconds: always in time for
    a per-read timeout, for ``TRICKLE_FOR`` seconds in all (then it hangs up)."""
    started = time.monotonic()

    def respond(server: RawServer, conn: socket.socket, request: str) -> None:
        conn.sendall(fast)
        for byte in slow:
            if server.stopping.is_set() or time.monotonic() - started > TRICKLE_FOR:
                return
            conn.sendall(bytes([byte]))
            time.sleep(every)

    return RawServer(respond)


def json_head(length: int) -> bytes:
    return (
        f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {length}\r\n\r\n"
    ).encode()


TRICKLES = {
    "headers": (b"", json_head(2) + b"{}"),
    "body": (json_head(999), b" " * 997 + b"{}"),
}


@functools.cache
def gzip_bomb(decoded: int = 256 * MiB) -> bytes:
    """A gzip stream of ``decoded`` zero bytes: about 1000 times smaller."""
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = bytes(MiB)
    return b"".join([*(packer.compress(block) for _ in range(decoded // MiB)), packer.flush()])


@pytest.fixture
def memory() -> Iterator[Callable[[], int]]:
    """The peak of Python allocations while the test runs, in bytes."""
    tracemalloc.start()
    try:
        yield lambda: tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def settings_for(server: RawServer, **overrides: Any) -> ApiSettings:
    return ApiSettings(
        base_url=server.url, credentials=Credentials(api_key=KEY), max_retries=0, **overrides
    )


# -- one deadline per attempt ------------------------------------------------------------------


@pytest.mark.parametrize("part", TRICKLES)
def test_an_attempt_ends_at_its_deadline_however_slowly_the_answer_trickles(part: str) -> None:
    with trickle(*TRICKLES[part]) as server:

        async def read() -> None:
            async with IonworksClient(settings_for(server, timeout=0.5)) as api:
                await api.get_spec("s1")

        started = time.monotonic()
        with pytest.raises(TransportError) as caught:
            run(read())
    assert time.monotonic() - started < BOUNDED_SECONDS
    assert "no complete response within 0.5 s" in str(caught.value)
    assert server.methods() == ["GET"]


def test_plan_against_a_trickling_server_stops_at_the_deadline_of_each_attempt(
    run_cli: Cli, tmp_path: Path, no_backoff: None
) -> None:
    with trickle(*TRICKLES["body"]) as server:
        started = time.monotonic()
        result = plan_against(run_cli, server.url, tmp_path / "m", before=("--timeout", "0.5"))
    assert time.monotonic() - started < BOUNDED_SECONDS
    line = one_error(result)
    assert line == (
        "Error: listing cell specifications (GET /cell_specifications): no complete response "
        "within 0.5 s after 6 attempts"
    )
    assert server.methods() == ["GET"] * 6


def test_a_slow_answer_within_the_deadline_is_read() -> None:
    with trickle(json_head(12), b'{"id": "s1"}', every=0.01) as server:

        async def read() -> dict[str, Any]:
            async with IonworksClient(settings_for(server, timeout=5)) as api:
                return await api.get_spec("s1")

        assert run(read()) == {"id": "s1"}


# -- the decoded size of an answer -------------------------------------------------------------


class Stream(httpx.AsyncByteStream):
    """A response body httpx has not read yet (``Response(content=...)`` is read at once)."""

    def __init__(self, chunks: Callable[[], Iterator[bytes]]) -> None:
        self.chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks():
            yield chunk


def streamed(chunks: Callable[[], Iterator[bytes]], **headers: str) -> httpx.Response:
    return httpx.Response(
        200, headers={"content-type": "application/json", **headers}, stream=Stream(chunks)
    )


def endless() -> Iterator[bytes]:
    while True:
        yield b" " * 65536


def get_spec_error(answer: httpx.Response, **overrides: Any) -> UnexpectedResponseError:
    with pytest.raises(UnexpectedResponseError) as caught:
        run(call(lambda request: answer, lambda api: api.get_spec("s1"), **overrides))
    return caught.value


def test_an_answer_past_the_cap_is_refused_while_it_streams(
    memory: Callable[[], int],
) -> None:
    error = get_spec_error(streamed(endless), max_response_bytes=MiB)
    assert "is larger than 1 MiB once decoded, the most ionworks-apply reads" in str(error)
    assert memory() < 8 * MiB


def test_a_gzip_bomb_is_refused_at_the_cap_not_inflated(memory: Callable[[], int]) -> None:
    bomb = gzip_bomb()
    chunks = [bomb[i : i + 65536] for i in range(0, len(bomb), 65536)]
    error = get_spec_error(streamed(lambda: iter(chunks), **{"content-encoding": "gzip"}))
    assert "is larger than 16 MiB once decoded" in str(error)
    assert memory() < 48 * MiB, "the cap and one chunk, never the 256 MiB"


def test_an_answer_at_the_cap_is_read_and_gzip_is_decoded() -> None:
    record = {"id": "s1", "notes": "x" * 1000}
    body = json_response(200, record).content
    answer = streamed(lambda: iter([gzip.compress(body)]), **{"content-encoding": "gzip"})
    got, _ = run(
        call(lambda request: answer, lambda api: api.get_spec("s1"), max_response_bytes=len(body))
    )
    assert got == record


@pytest.mark.parametrize(
    ("encoding", "body", "problem"),
    [
        ("br", b"{}", "it is encoded as 'br', which was not asked for"),
        ("gzip, gzip", b"{}", "it is encoded as 'gzip, gzip', which was not asked for"),
        ("gzip", b"not gzip at all", "its gzip stream is corrupt"),
        (
            "gzip",
            gzip.compress(b'{"id": "s1"}')[:-12],
            "its gzip stream ends before it is complete",
        ),
    ],
)
def test_an_answer_we_cannot_decode_is_unexpected(encoding: str, body: bytes, problem: str) -> None:
    error = get_spec_error(streamed(lambda: iter([body]), **{"content-encoding": encoding}))
    assert f"cannot be read: {problem}" in str(error)


def test_plan_against_a_gzip_bomb_is_one_error_in_bounded_memory(
    run_cli: Cli, tmp_path: Path, memory: Callable[[], int]
) -> None:
    bomb = gzip_bomb()

    def respond(server: RawServer, conn: socket.socket, request: str) -> None:
        head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\n"
        conn.sendall(f"{head}content-length: {len(bomb)}\r\n\r\n".encode() + bomb)

    with RawServer(respond) as server:
        line = one_error(plan_against(run_cli, server.url, tmp_path / "m"))
    assert line == (
        "Error: listing cell specifications (GET /cell_specifications): the Ionworks API's "
        "answer (HTTP 200) is larger than 16 MiB once decoded, the most ionworks-apply reads"
    )
    assert server.methods() == ["GET"], "a refused answer is not asked for again"
    assert memory() < 64 * MiB


def test_plan_against_an_endless_chunked_answer_is_one_error_in_bounded_memory(
    run_cli: Cli, tmp_path: Path, memory: Callable[[], int]
) -> None:
    def respond(server: RawServer, conn: socket.socket, request: str) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            b"transfer-encoding: chunked\r\n\r\n"
        )
        chunk = b"10000\r\n" + b" " * 65536 + b"\r\n"
        for _ in range(4096):  # 256 MiB, then it ends, so code without a cap fails, not hangs
            if server.stopping.is_set():
                return
            conn.sendall(chunk)
        conn.sendall(b"0\r\n\r\n")

    with RawServer(respond) as server:
        line = one_error(plan_against(run_cli, server.url, tmp_path / "m"))
    assert "is larger than 16 MiB once decoded" in line
    assert memory() < 64 * MiB


# -- a total no list can have ------------------------------------------------------------------


def test_plan_against_an_implausible_total_is_one_error_in_bounded_memory(
    run_cli: Cli, tmp_path: Path, memory: Callable[[], int]
) -> None:
    records = [{"id": f"s{i}", "name": f"Cell {i:03}"} for i in range(100)]
    with list_server(records, total=1_000_000_000) as server:
        line = one_error(plan_against(run_cli, server.url, tmp_path / "m"))
    assert line == (
        "Error: listing cell specifications (GET /cell_specifications): the Ionworks API says "
        "the list holds 1000000000 rows; ionworks-apply reads at most 100000 and takes a total "
        "outside 0 to 100000 for a broken answer"
    )
    assert server.methods() == ["GET"]
    assert memory() < 64 * MiB
