"""One HTTP conversation with the Ionworks API: headers, bodies, bounded concurrency and retries.

Retry rules follow what is safe, not what is convenient: GET and DELETE are resent after transient
failures (connection problems, 429, 500/502/503/504), while POST and PATCH are resent only when
the request provably never left this machine, because the server may already have committed it.

Each attempt has one deadline, ``settings.timeout``, from sending the request to the last byte
of the answer (httpx's timeouts are per read, so a server trickling a byte a second would hold
us forever), and its decoded body may not exceed ``settings.max_response_bytes``.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import json
import logging
import math
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any

import httpx

from reconciler import __version__
from reconciler.api import redaction
from reconciler.api.bodies import (
    ACCEPT_ENCODING,
    BodyTooLarge,
    BodyUndecodable,
    read_capped,
    read_response,
    size_text,
)
from reconciler.api.responses import (
    RESENDABLE,
    TRANSIENT,
    DeadlineExceeded,
    decode,
    error_from_exception,
    error_from_response,
    retry_after,
    unexpected,
    wrong_shape,
)
from reconciler.api.settings import MISSING_CREDENTIALS, ApiSettings
from reconciler.errors import ConfigError, RequestRejectedError, UnexpectedResponseError

logger = logging.getLogger("reconciler.api")

IDEMPOTENT = frozenset({"GET", "DELETE"})
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
GZIP_THRESHOLD = 512 * 1024

Sleep = Callable[[float], Awaitable[None]]
Params = Mapping[str, str | list[str]]


def describe(method: str, path: str, doing: str | None) -> str:
    """What was being done, in words first and HTTP second: ``creating ... (POST /...)``."""
    return f"{doing} ({method} {path})" if doing else f"{method} {path}"


def _non_finite_path(value: Any, path: str = "") -> str | None:
    """Where the first NaN or infinity sits in a body, as ``ratings.capacity.value``."""
    if isinstance(value, float) and not math.isfinite(value):
        return path or "(body)"
    children: list[tuple[str, Any]] = []
    if isinstance(value, Mapping):
        children = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, list | tuple):
        children = [(str(i), v) for i, v in enumerate(value)]
    for key, child in children:
        found = _non_finite_path(child, f"{path}.{key}" if path else key)
        if found:
            return found
    return None


def encode_body(body: Mapping[str, Any], subject: str) -> tuple[bytes, dict[str, str]]:
    """Strict JSON (NaN never leaves this machine), gzipped at 512 KiB like the official client."""
    try:
        data = json.dumps(body, allow_nan=False).encode()
    except ValueError:
        where = _non_finite_path(body) or "(body)"
        raise RequestRejectedError(
            f"{subject}: not sent: {where} is NaN or infinite, which the API cannot store",
            field_errors=[(where, "not a finite number")],
        ) from None
    if len(data) >= GZIP_THRESHOLD:
        return gzip.compress(data, compresslevel=1), {"Content-Encoding": "gzip"}
    return data, {}


@functools.cache
def tls_context() -> ssl.SSLContext:
    """Certificate verification exactly as httpx sets it up by default (certifi, or the
    ``SSL_CERT_FILE``/``SSL_CERT_DIR`` bundle), built once: it takes ~40 ms, and apply opens
    one client to plan and another to write."""
    return httpx.create_ssl_context()


def retry_delay(settings: ApiSettings, attempt: int, asked: float | None) -> float:
    """How long to wait after failed attempt ``attempt`` (1-based): the server's ``Retry-After``
    when it gave one (capped), else exponential backoff with full jitter, capped."""
    if asked is not None:
        return min(asked, settings.retry_after_max)
    ceiling = min(settings.backoff_max, settings.backoff_base * 2 ** (attempt - 1))
    return random.uniform(0.0, ceiling)


class ApiSession:
    """Sends requests with auth headers, a concurrency bound and the retry rules above."""

    def __init__(
        self,
        settings: ApiSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        credentials = settings.credentials
        if not credentials.present:
            raise ConfigError(MISSING_CREDENTIALS)
        self.settings = settings
        self._sleep: Sleep = sleep or asyncio.sleep
        self._semaphore = asyncio.Semaphore(settings.concurrency)
        secrets = [s for s in (credentials.api_key, credentials.token) if s]
        self.mask = redaction.SecretMask(secrets)
        self._http = httpx.AsyncClient(
            base_url=settings.base_url,
            headers={
                "Accept": "application/json",
                "Accept-Encoding": ACCEPT_ENCODING,
                "Content-Type": "application/json",
                "User-Agent": f"ionworks-apply/{__version__}",
                **credentials.headers(),
            },
            timeout=httpx.Timeout(settings.timeout),
            limits=httpx.Limits(
                max_connections=settings.concurrency,
                max_keepalive_connections=settings.concurrency,
            ),
            transport=transport,
            verify=tls_context(),
            follow_redirects=False,
        )
        redaction.install_log_redaction()
        self._release_secrets = redaction.register(secrets)

    async def aclose(self) -> None:
        try:
            await self._http.aclose()
        finally:
            self._release_secrets()

    def wrong_shape(
        self, response: httpx.Response, subject: str, expected: str
    ) -> UnexpectedResponseError:
        """An answer of the wrong shape, in words the mask has seen."""
        return wrong_shape(response, subject, expected, self.mask)

    def unexpected(
        self, response: httpx.Response, subject: str, problem: str
    ) -> UnexpectedResponseError:
        return unexpected(response, subject, problem, self.mask)

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        body: Mapping[str, Any] | None = None,
        doing: str | None = None,
        accept: Collection[int] = (),
    ) -> tuple[httpx.Response, Any]:
        """The response and its JSON (None when empty or a status in ``accept``)."""
        subject = describe(method, path, doing)
        response = await self._send(
            method, path, params=params, body=body, subject=subject, accept=accept
        )
        if response.status_code in accept or not response.content:
            return response, None
        return response, decode(response, subject, self.mask)

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Params | None,
        body: Mapping[str, Any] | None,
        subject: str,
        accept: Collection[int],
    ) -> httpx.Response:
        content, headers = encode_body(body, subject) if body is not None else (None, {})
        request = self._http.build_request(
            method, path, params=params, content=content, headers=headers
        )
        settings = self.settings
        attempts = settings.max_retries + 1
        for attempt in range(1, attempts + 1):
            started = time.perf_counter()
            try:
                async with self._semaphore:
                    response = await self._attempt(request, subject)
            except httpx.TransportError as exc:
                self._log(method, path, type(exc).__name__, started, attempt)
                resendable = isinstance(exc, RESENDABLE) or (
                    method in IDEMPOTENT and isinstance(exc, TRANSIENT)
                )
                if resendable and attempt < attempts:
                    await self._wait(method, path, retry_delay(settings, attempt, None))
                    continue
                raise error_from_exception(
                    exc,
                    subject,
                    method=method,
                    attempts=attempt,
                    base_url=settings.base_url,
                    settings_timeout=settings.timeout,
                    mask=self.mask,
                ) from exc
            self._log(method, path, str(response.status_code), started, attempt)
            status = response.status_code
            if method in IDEMPOTENT and status in RETRY_STATUSES and attempt < attempts:
                await self._wait(method, path, self._delay(attempt, response))
                continue
            if 200 <= status < 300 or status in accept:
                return response
            raise error_from_response(
                response,
                subject,
                attempts=attempt,
                credential_kind=self.settings.credentials.kind,
                mask=self.mask,
            )
        raise AssertionError("unreachable: every attempt returns, retries or raises")

    async def _attempt(self, request: httpx.Request, subject: str) -> httpx.Response:
        """One exchange within the deadline, its body read under the size cap."""
        settings = self.settings
        try:
            async with asyncio.timeout(settings.timeout):
                streamed = await self._http.send(request, stream=True)
                try:
                    content = await read_capped(streamed, settings.max_response_bytes)
                finally:
                    await streamed.aclose()
        except TimeoutError:
            raise DeadlineExceeded("deadline exceeded", request=request) from None
        except BodyTooLarge:
            raise self.unexpected(
                streamed,
                subject,
                f"the Ionworks API's answer (HTTP {streamed.status_code}) is larger than "
                f"{size_text(settings.max_response_bytes)} once decoded, the most "
                "ionworks-apply reads",
            ) from None
        except BodyUndecodable as exc:
            raise self.unexpected(
                streamed,
                subject,
                f"the Ionworks API's answer (HTTP {streamed.status_code}) cannot be read: {exc}",
            ) from None
        return read_response(streamed, content)

    def _delay(self, attempt: int, response: httpx.Response) -> float:
        return retry_delay(self.settings, attempt, retry_after(response))

    async def _wait(self, method: str, path: str, seconds: float) -> None:
        logger.debug("retrying %s %s in %.2f s", method, path, seconds)
        await self._sleep(seconds)

    async def pause(self, attempt: int, asked: float | None = None) -> None:
        """Wait before the next attempt of something the caller retries itself (apply's
        writes, which look at the live state between attempts), by the same policy."""
        await self._sleep(retry_delay(self.settings, attempt, asked))

    def _log(self, method: str, path: str, outcome: str, started: float, attempt: int) -> None:
        elapsed_ms = (time.perf_counter() - started) * 1000
        logger.debug(
            "%s %s -> %s in %.0f ms (attempt %d of %d)",
            method,
            path,
            outcome,
            elapsed_ms,
            attempt,
            self.settings.max_retries + 1,
        )
