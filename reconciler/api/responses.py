"""Turn HTTP responses and network failures into the errors of :mod:`reconciler.errors`.

Messages are built only from what we chose to say (method, path, status, a short excerpt of the
API's own words), never from request headers. Still, a server or proxy may echo a credential back
anywhere (a body, a header, a broken status line quoted by the HTTP library), so every message
and correlation id passes through the session's ``SecretMask`` last, as a whole.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Iterable
from typing import Any

import httpx

from reconciler.api.bodies import TooDeep, parse_json
from reconciler.api.redaction import NO_SECRETS, SecretMask
from reconciler.errors import (
    ApiError,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RequestRejectedError,
    ServerError,
    TransportError,
    UnexpectedResponseError,
)

EXCERPT_CHARS = 200
CORRELATION_ID_CHARS = 100
MAX_FIELD_ERRORS = 5

# Failures that prove the request never left this machine: the only ones safe to resend blindly.
NEVER_SENT: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
)
RESENDABLE: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)


class DeadlineExceeded(httpx.TimeoutException):
    """An attempt took longer than the timeout from sending to the last byte of the answer."""


# Failures worth another attempt for idempotent methods (GET, DELETE).
TRANSIENT: tuple[type[Exception], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)

_URL_HINT = "check that IONWORKS_API_URL / --api-url points at the Ionworks API"
_TAG = re.compile(r"<(script|style)\b.*?</\1>|<[^>]*>", re.IGNORECASE | re.DOTALL)
_SPACE = re.compile(r"\s+")


def is_json(response: httpx.Response) -> bool:
    """``application/json`` with or without parameters, or any ``+json`` media type."""
    media: str = response.headers.get("content-type", "").split(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def excerpt(text: str, mask: SecretMask = NO_SECRETS, limit: int = EXCERPT_CHARS) -> str:
    """A short, one-line, tag-free piece of a body for an error message."""
    if "<" in text and ">" in text:
        text = _TAG.sub(" ", text)
    text = mask(_SPACE.sub(" ", text).strip())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text or "(empty body)"


def correlation_id(response: httpx.Response, mask: SecretMask = NO_SECRETS) -> str | None:
    """The API's ``x-correlation-id``, short and masked: it is a header the server chose."""
    value = response.headers.get("x-correlation-id")
    return excerpt(value, mask, CORRELATION_ID_CHARS) if value else None


def decode(response: httpx.Response, subject: str, mask: SecretMask = NO_SECRETS) -> Any:
    """The JSON of a successful response, or UnexpectedResponseError saying what came instead."""
    content_type = response.headers.get("content-type") or "no content type"
    if not is_json(response):
        problem = (
            f"expected JSON from the Ionworks API but got HTTP {response.status_code} "
            f"({excerpt(content_type, mask, 60)}): {excerpt(response.text, mask)!r}; {_URL_HINT}"
        )
    else:
        try:
            return parse_json(response.content)
        except TooDeep:
            problem = (
                f"the Ionworks API sent JSON nested too deeply to read "
                f"(HTTP {response.status_code})"
            )
        except ValueError:
            problem = (
                f"the Ionworks API sent invalid or truncated JSON "
                f"(HTTP {response.status_code}): {excerpt(response.text, mask)!r}"
            )
    raise unexpected(response, subject, problem, mask)


def unexpected(
    response: httpx.Response, subject: str, problem: str, mask: SecretMask = NO_SECRETS
) -> UnexpectedResponseError:
    """An answer we cannot use, saying why (``problem`` may quote what the server sent)."""
    return UnexpectedResponseError(
        mask(f"{subject}: {problem}"),
        status=response.status_code,
        correlation_id=correlation_id(response, mask),
    )


def wrong_shape(
    response: httpx.Response, subject: str, expected: str, mask: SecretMask = NO_SECRETS
) -> UnexpectedResponseError:
    return unexpected(
        response,
        subject,
        f"the Ionworks API answered HTTP {response.status_code} but not with {expected}",
        mask,
    )


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the server asks us to wait: ``Retry-After`` as seconds or an HTTP date."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    if seconds != seconds or seconds == float("inf"):  # NaN or inf from a broken header
        return None
    return max(0.0, seconds)


def _field_errors(items: Iterable[Any]) -> list[tuple[str, str]]:
    """FastAPI ``[{loc, msg}]`` -> ``("ratings.capacity.value", msg)``; ``body`` is dropped."""
    found: list[tuple[str, str]] = []
    for item in items:
        if not isinstance(item, dict):
            found.append(("", str(item)))
            continue
        loc = item.get("loc") or item.get("field") or ()
        parts = [str(p) for p in loc] if isinstance(loc, list | tuple) else [str(loc)]
        if parts and parts[0] == "body":
            parts = parts[1:]
        found.append((".".join(parts), str(item.get("msg") or item.get("message") or item)))
    return found


class _Body:
    """What an error body says, whichever of the three formats (contract 1.7) it uses."""

    def __init__(self, response: httpx.Response, mask: SecretMask) -> None:
        self.message: str | None = None
        self.error_code: str | None = None
        self.detail: Any = None
        self.field_errors: list[tuple[str, str]] = []
        data: Any = None
        if is_json(response):
            try:
                data = parse_json(response.content)
            except ValueError:  # TooDeep too: the excerpt below still says what came
                data = None
        if not isinstance(data, dict):
            if response.content:
                kind = "JSON" if data is not None else "not JSON"
                self.message = f"response {kind}: {excerpt(response.text, mask)!r}"
            return
        if "error_code" in data:  # standardized
            self.error_code = _text(data.get("error_code"))
            self.message = _text(data.get("message"))
            self.detail = data.get("detail")
        elif "detail" in data:  # legacy HTTPException or FastAPI validation
            self.detail = data["detail"]
            if isinstance(self.detail, str):
                self.message = self.detail
            elif isinstance(self.detail, dict):
                self.error_code = _text(self.detail.get("error_code"))
                self.message = _text(self.detail.get("message")) or json.dumps(self.detail)
        else:
            self.message = _text(data.get("message")) or excerpt(json.dumps(data), mask)
        errors = self.detail
        if isinstance(errors, dict):
            errors = errors.get("errors") or errors.get("field_errors")
        if isinstance(errors, list):
            self.field_errors = [(mask(loc), mask(msg)) for loc, msg in _field_errors(errors)]
        if self.message:
            self.message = excerpt(self.message, mask)

    def existing_id(self) -> str | None:
        if isinstance(self.detail, dict):
            for key in ("existing_id", "existing_cell_specification_id"):
                if isinstance(self.detail.get(key), str):
                    return str(self.detail[key])
        return None

    def said(self) -> str:
        if self.field_errors:
            shown = [f"{loc}: {msg}" if loc else msg for loc, msg in self.field_errors]
            more = len(shown) - MAX_FIELD_ERRORS
            text = "; ".join(shown[:MAX_FIELD_ERRORS]) + (f"; and {more} more" if more > 0 else "")
            return f"{self.message}: {text}" if self.message else text
        return self.message or "no explanation in the response"


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def error_from_response(
    response: httpx.Response,
    subject: str,
    *,
    attempts: int,
    credential_kind: str,
    mask: SecretMask = NO_SECRETS,
) -> ApiError:
    """The error for a response that is not a success we can use."""
    status = response.status_code
    body = _Body(response, mask)
    tail = f" after {attempts} attempts" if attempts > 1 else ""
    common: dict[str, Any] = {
        "status": status,
        "error_code": body.error_code and excerpt(body.error_code, mask, 60),
        "correlation_id": correlation_id(response, mask),
    }
    said = body.said()
    error: type[ApiError] = ApiError
    if status == 401:
        error, message = (
            AuthenticationError,
            (
                "the Ionworks API rejected the credentials "
                f"(401; sent: {credential_kind}): check IONWORKS_API_KEY / --api-key, or "
                "IONWORKS_API_TOKEN / --token, and IONWORKS_ORGANIZATION_ID / --org if set. "
                f"API said: {said}"
            ),
        )
    elif status == 403:
        error, message = (
            PermissionDeniedError,
            (
                "permission denied (403): this credential may not do this in the project "
                f"(a Project Viewer can read but not write). API said: {said}"
            ),
        )
    elif status == 404:
        error, message = (
            NotFoundError,
            (
                "not found (404): it does not exist or is not visible to this credential. "
                f"API said: {said}"
            ),
        )
    elif status == 409:
        existing = body.existing_id()
        known = f" (existing id {existing})" if existing else ""
        error, message = ConflictError, f"conflict (409): {said}{known}"
        common["existing_id"] = existing
    elif status in (400, 413, 422):
        error, message = (
            RequestRejectedError,
            (f"the Ionworks API rejected the request ({status}): {said}"),
        )
        common["field_errors"] = body.field_errors
    elif status == 429:
        wait = retry_after(response)
        asked = f"; it asked to wait {wait:g} s" if wait is not None else ""
        error, message = (
            RateLimitedError,
            (
                f"rate limited by the Ionworks API (429){tail}{asked}: "
                "try again later or lower the concurrency"
            ),
        )
        common["retry_after"] = wait
    elif status >= 500:
        error, message = ServerError, f"the Ionworks API failed (HTTP {status}){tail}: {said}"
    elif 300 <= status < 400:
        location = excerpt(response.headers.get("location", "nowhere"), mask)
        error, message = (
            UnexpectedResponseError,
            (f"the API answered with a redirect (HTTP {status} to {location}); {_URL_HINT}"),
        )
    else:
        message = f"unexpected HTTP {status} from the Ionworks API: {said}"
    return error(mask(f"{subject}: {message}"), **common)


def error_from_exception(
    exc: httpx.TransportError,
    subject: str,
    *,
    method: str,
    attempts: int,
    base_url: str,
    settings_timeout: float,
    mask: SecretMask = NO_SECRETS,
) -> TransportError:
    """The error for a request that got no usable response, saying whether it may have arrived.

    The HTTP library's own words are quoted: they may hold raw bytes a server sent (a broken
    status line), hence the mask.
    """
    never_sent = isinstance(exc, NEVER_SENT)
    detail = str(exc).strip().rstrip(".")
    because = f" ({excerpt(detail, mask)})" if detail else ""
    if isinstance(exc, httpx.ConnectTimeout):
        what = (
            f"timed out connecting to the Ionworks API at {base_url} after {settings_timeout:g} s"
        )
    elif isinstance(exc, httpx.ConnectError):
        what = f"could not connect to the Ionworks API at {base_url}{because}"
    elif isinstance(exc, httpx.PoolTimeout):
        what = f"no free connection within {settings_timeout:g} s"
    elif isinstance(exc, httpx.UnsupportedProtocol):
        what = f"cannot send the request{because}; {_URL_HINT}"
    elif isinstance(exc, httpx.ReadTimeout | DeadlineExceeded):
        what = f"no complete response within {settings_timeout:g} s"
    elif isinstance(exc, httpx.WriteTimeout):
        what = f"timed out sending the request after {settings_timeout:g} s"
    elif isinstance(exc, httpx.RemoteProtocolError):
        what = f"the connection closed before a complete response arrived{because}"
    else:
        what = f"the connection failed{because}"
    tail = f" after {attempts} attempts" if attempts > 1 else ""
    if never_sent:
        arrival = "; the request never reached the server"
    elif method in ("POST", "PATCH", "PUT"):
        arrival = "; the request may have reached the server and been applied, so it was not resent"
    else:
        arrival = ""
    return TransportError(
        mask(f"{subject}: {what}{tail}{arrival}"), may_have_arrived=not never_sent
    )
