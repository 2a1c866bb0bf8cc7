"""API client retry rules: what is resent, when, and how long we wait."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from test_api_support import call, json_response, run

from reconciler.errors import RateLimitedError, ServerError, TransportError

SPEC = {"id": "s1", "name": "A", "project_id": "proj-1"}
Outcome = httpx.Response | type[httpx.TransportError]


class Script:
    """Answers requests with a fixed sequence of responses or raised network errors."""

    def __init__(self, *outcomes: Outcome) -> None:
        self._outcomes: Iterator[Outcome] = iter(outcomes)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        outcome = next(self._outcomes)
        if isinstance(outcome, httpx.Response):
            return outcome
        raise outcome("simulated", request=request)


def ok() -> httpx.Response:
    return json_response(200, SPEC)


def status(code: int, **headers: str) -> httpx.Response:
    return json_response(code, {"error_code": "X", "message": f"simulated {code}"}, **headers)


GET: Callable[[Any], Any] = lambda api: api.get_spec("s1")  # noqa: E731
POST: Callable[[Any], Any] = lambda api: api.create_spec({"name": "A"})  # noqa: E731
PATCH: Callable[[Any], Any] = lambda api: api.update_spec("s1", {"notes": "n"})  # noqa: E731
DELETE: Callable[[Any], Any] = lambda api: api.delete_spec("s1")  # noqa: E731


@pytest.mark.parametrize(
    "first",
    [
        status(500),
        status(502),
        status(503),
        status(504),
        status(429),
        httpx.RemoteProtocolError,
        httpx.ReadError,
        httpx.ReadTimeout,
        httpx.ConnectError,
        httpx.ConnectTimeout,
    ],
    ids=lambda o: str(o.status_code) if isinstance(o, httpx.Response) else o.__name__,
)
def test_get_is_retried_through_transient_failures(first: Outcome) -> None:
    script = Script(first, first, ok())
    got, sleeps = run(call(script, GET))
    assert got == SPEC
    assert len(script.requests) == 3
    assert len(sleeps.delays) == 2


def test_delete_is_retried_and_a_lost_first_answer_reads_as_already_gone() -> None:
    script = Script(status(502), httpx.Response(204))
    assert run(call(script, DELETE))[0] is True
    script = Script(httpx.RemoteProtocolError, status(404))
    assert run(call(script, DELETE))[0] is False
    assert len(script.requests) == 2


@pytest.mark.parametrize("action", [POST, PATCH], ids=["POST", "PATCH"])
@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (status(503), ServerError),
        (status(500), ServerError),
        (status(429, **{"retry-after": "0"}), RateLimitedError),
        (httpx.ReadTimeout, TransportError),
        (httpx.RemoteProtocolError, TransportError),
        (httpx.ReadError, TransportError),
        (httpx.WriteError, TransportError),
    ],
    ids=["503", "500", "429", "ReadTimeout", "RemoteProtocolError", "ReadError", "WriteError"],
)
def test_writes_are_never_resent_once_they_may_have_arrived(
    action: Callable[[Any], Any], failure: Outcome, error: type[Exception]
) -> None:
    script = Script(failure, ok())
    with pytest.raises(error) as caught:
        run(call(script, action))
    assert len(script.requests) == 1
    if isinstance(caught.value, TransportError):
        assert caught.value.may_have_arrived is True
        assert "may have reached the server and been applied, so it was not resent" in str(
            caught.value
        )


@pytest.mark.parametrize("failure", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout])
def test_writes_are_resent_when_they_never_left(failure: type[httpx.TransportError]) -> None:
    script = Script(failure, failure, ok())
    got, _ = run(call(script, POST))
    assert got == SPEC
    assert len(script.requests) == 3


def test_a_write_that_never_connects_says_it_never_arrived() -> None:
    script = Script(*[httpx.ConnectError] * 3)
    with pytest.raises(TransportError) as caught:
        run(call(script, POST, max_retries=2))
    assert caught.value.may_have_arrived is False
    assert "after 3 attempts; the request never reached the server" in str(caught.value)
    assert len(script.requests) == 3


def test_exhausted_retries_raise_the_last_status() -> None:
    script = Script(*[status(503)] * 6)
    with pytest.raises(ServerError) as caught:
        run(call(script, GET))
    assert caught.value.status == 503
    assert len(script.requests) == 6
    assert "failed (HTTP 503) after 6 attempts: simulated 503" in str(caught.value)


def test_exhausted_rate_limit_reports_the_requested_wait() -> None:
    script = Script(*[status(429, **{"retry-after": "7"})] * 3)
    with pytest.raises(RateLimitedError) as caught:
        run(call(script, GET, max_retries=2))
    assert caught.value.retry_after == 7.0
    assert "(429) after 3 attempts; it asked to wait 7 s" in str(caught.value)


def test_client_errors_are_not_retried() -> None:
    script = Script(status(404), ok())
    with pytest.raises(Exception, match=r"not found \(404\)"):
        run(call(script, GET))
    assert len(script.requests) == 1


def test_retry_after_seconds_are_honoured_exactly() -> None:
    script = Script(
        status(429, **{"retry-after": "2.5"}), status(503, **{"retry-after": "0"}), ok()
    )
    _, sleeps = run(call(script, GET))
    assert sleeps.delays == [2.5, 0.0]


def test_retry_after_is_capped() -> None:
    script = Script(status(429, **{"retry-after": "3600"}), ok())
    _, sleeps = run(call(script, GET, retry_after_max=4.0))
    assert sleeps.delays == [4.0]


def test_retry_after_as_an_http_date() -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    past = email.utils.formatdate(time.time() - 30, usegmt=True)
    script = Script(
        status(503, **{"retry-after": when}), status(503, **{"retry-after": past}), ok()
    )
    _, sleeps = run(call(script, GET))
    assert 25.0 <= sleeps.delays[0] <= 30.0
    assert sleeps.delays[1] == 0.0


def test_unreadable_retry_after_falls_back_to_backoff() -> None:
    script = Script(status(503, **{"retry-after": "soon"}), ok())
    _, sleeps = run(call(script, GET, backoff_base=0.5))
    assert 0.0 <= sleeps.delays[0] <= 0.5


def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    script = Script(*[status(500)] * 6, ok())
    _, sleeps = run(call(script, GET, max_retries=6, backoff_base=1.0, backoff_max=5.0))
    ceilings = [1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
    assert len(sleeps.delays) == len(ceilings)
    for delay, ceiling in zip(sleeps.delays, ceilings, strict=True):
        assert 0.0 <= delay <= ceiling


def test_zero_retries_means_one_attempt() -> None:
    script = Script(status(503), ok())
    with pytest.raises(ServerError):
        run(call(script, GET, max_retries=0))
    assert len(script.requests) == 1
