"""Hostile requests (issue 12 item 5): bounded memory, clear 4xx answers, never a 500."""

from __future__ import annotations

import gzip
import json
import logging
import re
import resource
import socket
import zlib
from collections.abc import Callable, Iterator
from contextlib import closing
from typing import Any

import httpx
import pytest
from helpers import Api
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.sandbox.bodies import MAX_DEPTH
from reconciler.sandbox.like import like_match
from reconciler.sandbox.server import SandboxServer

Factory = Callable[..., SandboxServer]
GZIP_HEADERS = {"Content-Encoding": "gzip"}
SMALL_CAP = 64 * 1024


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def server_errors() -> Iterator[list[logging.LogRecord]]:
    """ERROR records of the sandbox and of uvicorn (which does not propagate to the root)."""
    handler = Collect()
    loggers = [logging.getLogger(name) for name in ("reconciler.sandbox", "uvicorn.error")]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler.records
    for logger in loggers:
        logger.removeHandler(handler)


@pytest.fixture
def api(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    client = Api(sandbox)
    client.http.headers["Content-Type"] = "application/json"  # the official client sends it always
    yield client.http
    client.close()


def spec_json(server: SandboxServer, **fields: Any) -> bytes:
    return json.dumps({"name": "Coin", "project_id": server.project_id, **fields}).encode()


def total(api: httpx.Client) -> int:
    return int(api.get("/cell_specifications").json()["total"])


def assert_too_large(response: httpx.Response, cap: int) -> None:
    assert response.status_code == 413, response.text[:300]
    assert response.json() == {
        "error_code": "PAYLOAD_TOO_LARGE",
        "message": f"Request body is larger than {cap} bytes",
        "detail": {"max_body_bytes": cap},
    }


def gzip_of_zeros(size: int) -> bytes:
    """A gzip member of ``size`` zero bytes, built without holding them in memory."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(1 << 20)
    parts = [packer.compress(chunk) for _ in range(size >> 20)]
    return b"".join([*parts, packer.flush()])


def peak_rss_mib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def test_a_gzip_bomb_is_refused_without_inflating_it(
    api: httpx.Client, sandbox: SandboxServer, server_errors: list[logging.LogRecord]
) -> None:
    bomb = gzip_of_zeros(64 << 20) * 16  # 1 GiB once inflated, about 1 MiB on the wire
    before = peak_rss_mib()
    response = api.post("/cell_specifications", content=bomb, headers=GZIP_HEADERS)
    assert_too_large(response, sandbox.settings.max_body_bytes)
    assert peak_rss_mib() - before < 256  # the old code grew by the whole GiB
    assert total(api) == 0 and server_errors == []


def test_bodies_over_the_cap_are_refused_on_the_wire_and_after_gzip(
    sandbox_factory: Factory,
) -> None:
    server = sandbox_factory(max_body_bytes=SMALL_CAP)
    with closing(Api(server)) as client:
        api = client.http
        api.headers["Content-Type"] = "application/json"
        big = spec_json(server, notes="x" * SMALL_CAP)
        assert_too_large(api.post("/cell_specifications", content=big), SMALL_CAP)
        zipped = gzip.compress(big)
        assert len(zipped) < SMALL_CAP
        assert_too_large(
            api.post("/cell_specifications", content=zipped, headers=GZIP_HEADERS), SMALL_CAP
        )
        fits = spec_json(server, notes="x" * (SMALL_CAP - 200))
        created = api.post(
            "/cell_specifications", content=gzip.compress(fits), headers=GZIP_HEADERS
        )
        assert created.status_code == 201, created.text
        assert total(api) == 1


def test_a_default_sandbox_refuses_a_100_mb_body(api: httpx.Client, sandbox: SandboxServer) -> None:
    body = spec_json(sandbox, notes="x" * 100_000_000)
    response = api.post("/cell_specifications", content=body)
    assert_too_large(response, 16 * 1024 * 1024)
    assert total(api) == 0


def read_response(sock: socket.socket) -> tuple[bytes, bytes]:
    """Status line plus headers, and the body (by Content-Length) of one HTTP response."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += sock.recv(65536)
    return head, body


def test_a_declared_length_over_the_cap_is_refused_before_the_body_arrives(
    sandbox: SandboxServer,
) -> None:
    with socket.create_connection((sandbox.host, sandbox.port), timeout=10) as sock:
        sock.sendall(
            b"POST /cell_specifications HTTP/1.1\r\nHost: sandbox\r\n"
            + f"X-API-Key: {sandbox.api_key}\r\n".encode()
            + b"Content-Type: application/json\r\nContent-Length: 104857600\r\n\r\n{"
        )
        head, body = read_response(sock)  # answered although 100 MB never follow
    assert head.startswith(b"HTTP/1.1 413 ")
    assert json.loads(body)["error_code"] == "PAYLOAD_TOO_LARGE"


def test_gzip_members_and_broken_gzip(api: httpx.Client, sandbox: SandboxServer) -> None:
    body = spec_json(sandbox)
    two_members = gzip.compress(body[:10]) + gzip.compress(body[10:])
    created = api.post("/cell_specifications", content=two_members, headers=GZIP_HEADERS)
    assert created.status_code == 201, created.text
    for broken in (gzip.compress(body)[:-12], b"\x1f\x8b garbage", gzip.compress(body) + b"junk"):
        response = api.post("/cell_specifications", content=broken, headers=GZIP_HEADERS)
        assert response.status_code == 400, broken
        assert response.json()["error_code"] == "BAD_REQUEST"
    assert total(api) == 1


@pytest.mark.parametrize(
    ("raw", "loc"),
    [
        ('{"name": "\\ud800", "project_id": "%s"}', ["body", "name"]),
        ('{"name": "ok", "project_id": "%s", "properties": {"k\\udfff": "v"}}', None),
        (
            '{"name": "ok", "project_id": "%s", "source": {"citation": ["a", "x\\ud83d"]}}',
            ["body", "source", "citation", 1],
        ),
    ],
)
def test_lone_surrogates_are_refused(
    api: httpx.Client,
    sandbox: SandboxServer,
    server_errors: list[logging.LogRecord],
    raw: str,
    loc: list[Any] | None,
) -> None:
    response = api.post("/cell_specifications", content=raw % sandbox.project_id)
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["type"] == "string_unicode"
    assert error["loc"] == (loc or ["body", "properties", "k?"])
    assert total(api) == 0 and server_errors == []


def test_deep_json_is_refused(
    api: httpx.Client, sandbox: SandboxServer, server_errors: list[logging.LogRecord]
) -> None:
    def nested(depth: int) -> bytes:
        head = f'{{"name": "deep-{depth}", "project_id": "{sandbox.project_id}", "properties": '
        return head.encode() + b'{"a": ' * depth + b'"x"' + b"}" * depth + b"}"

    for depth in (100_000, 900, MAX_DEPTH):
        response = api.post("/cell_specifications", content=nested(depth))
        assert response.status_code == 422, depth
        assert response.json()["detail"][0]["type"] == "json_depth"
    fine = api.post("/cell_specifications", content=nested(MAX_DEPTH - 2))
    assert fine.status_code == 201, fine.text
    assert total(api) == 1 and server_errors == []


def test_paging_numbers_out_of_range(
    api: httpx.Client, sandbox: SandboxServer, server_errors: list[logging.LogRecord]
) -> None:
    huge = "99999999999999999999"
    for url in ("/cell_specifications", "/projects"):
        response = api.get(url, params={"offset": huge})
        assert response.status_code == 422, url
        assert response.json()["detail"][0]["loc"] == ["query", "offset"]
        clamped = api.get(url, params={"limit": huge})
        assert clamped.status_code == 200, url
    assert api.get("/cell_specifications", params={"limit": "9" * 5000}).status_code == 422
    assert server_errors == []


def test_instants_that_leave_the_calendar_in_utc(
    api: httpx.Client, sandbox: SandboxServer, server_errors: list[logging.LogRecord]
) -> None:
    for moment in ("9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"):
        response = api.get("/cell_specifications", params={"created_at_gt": moment})
        assert response.status_code == 422, moment
    spec_id = api.post("/cell_specifications", content=spec_json(sandbox)).json()["id"]
    cell = api.post(f"/cell_specifications/{spec_id}/cell_instances", json={"name": "C1"}).json()
    measurement = {
        "name": "m",
        "properties": {"t": {"value": 1, "unit": "mm"}},
        "start_time": "0001-01-01T00:00:00+05:00",
    }
    url = f"/cell_instances/{cell['id']}/cell_measurements/create"
    response = api.post(url, json=measurement)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "start_time"]
    assert server_errors == []


def test_an_integer_beyond_float_range_is_stored_not_crashed_on(
    api: httpx.Client, sandbox: SandboxServer, server_errors: list[logging.LogRecord]
) -> None:
    big = {"t": {"value": 10**400, "unit": "mm"}}
    created = api.post("/cell_specifications", content=spec_json(sandbox, properties=big))
    assert created.status_code == 201, created.text
    assert created.json()["properties"] == big
    assert server_errors == []


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)
SPEC_KEYS = st.sampled_from(
    ["name", "project_id", "ratings", "properties", "source", "anode", "notes", "case"]
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.dictionaries(SPEC_KEYS, JSON_VALUES) | JSON_VALUES, target=st.integers(0, 3))
def test_random_bodies_never_give_a_server_error(
    api: httpx.Client,
    sandbox: SandboxServer,
    server_errors: list[logging.LogRecord],
    body: Any,
    target: int,
) -> None:
    spec = api.post("/cell_specifications", content=spec_json(sandbox, name="target"))
    spec_id = spec.json()["id"] if spec.status_code == 201 else None
    if spec_id is None:
        spec_id = api.get("/cell_specifications", params={"name": "eq.target"}).json()["items"][0][
            "id"
        ]
    method, url = [
        ("POST", "/cell_specifications"),
        ("PATCH", f"/cell_specifications/{spec_id}"),
        ("POST", f"/cell_specifications/{spec_id}/cell_instances"),
        ("POST", f"/cell_specifications/{spec_id}/cell_batches"),
    ][target]
    response = api.request(method, url, content=json.dumps(body))
    assert response.status_code < 500, (method, url, body, response.text)
    assert server_errors == []


QUERY_KEYS = st.sampled_from(
    [
        "limit",
        "offset",
        "order_by",
        "order",
        "full",
        "name",
        "form_factor",
        "project_id",
        "material_ids",
        "created_at_gt",
        "updated_at_lt",
        "exclude_cell_spec_id",
    ]
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(query=st.lists(st.tuples(QUERY_KEYS, st.text(max_size=30)), max_size=5))
def test_random_queries_never_give_a_server_error(
    api: httpx.Client, server_errors: list[logging.LogRecord], query: list[tuple[str, str]]
) -> None:
    for url in ("/cell_specifications", "/projects"):
        response = api.get(url, params=query)
        assert response.status_code < 500, (url, query, response.text)
    assert server_errors == []


def test_a_backtracking_like_pattern_answers_at_once(
    api: httpx.Client, sandbox: SandboxServer
) -> None:
    long_name = "a" * 5000
    assert api.post("/cell_specifications", content=spec_json(sandbox, name=long_name)).is_success
    pattern = "ilike." + "%a" * 40 + "%b"  # one regex with .* per % backtracks for hours
    response = api.get("/cell_specifications", params={"name": pattern}, timeout=20)
    assert response.json()["total"] == 0
    matching = api.get("/cell_specifications", params={"name": "ilike." + "%a" * 40 + "%"})
    assert matching.json()["total"] == 1


def reference_like(value: str, pattern: str, insensitive: bool) -> bool:
    """LIKE as one backtracking regex: right, but exponential on hostile patterns."""
    parts, escaped = [], False
    for char in pattern:
        if escaped or char not in "%*_\\":
            parts.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            parts.append("." if char == "_" else ".*")
    flags = re.DOTALL | (re.IGNORECASE if insensitive else 0)
    return re.compile("".join(parts), flags).fullmatch(value) is not None


@settings(max_examples=2000, deadline=None)
@given(
    value=st.text(alphabet="aAb%_\\", max_size=8),
    pattern=st.text(alphabet="aAb%*_\\", max_size=8),
    insensitive=st.booleans(),
)
def test_like_matching_agrees_with_the_regex_reference(
    value: str, pattern: str, insensitive: bool
) -> None:
    assert like_match(value, pattern, insensitive) == reference_like(value, pattern, insensitive)
