"""Credentials and connection settings, from flags and the environment like the official client.

Secrets live only in :class:`Credentials` and only leave it through :meth:`Credentials.headers`;
every ``repr`` masks them so they cannot reach logs, tracebacks or error messages by accident.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import httpx

from reconciler.errors import ConfigError

DEFAULT_BASE_URL = "https://api.ionworks.com"

ENV_API_KEY = "IONWORKS_API_KEY"
ENV_API_TOKEN = "IONWORKS_API_TOKEN"
ENV_ORGANIZATION_ID = "IONWORKS_ORGANIZATION_ID"
ENV_API_URL = "IONWORKS_API_URL"
ENV_PROJECT_ID = "IONWORKS_PROJECT_ID"
ENV_PROJECT_ID_DEPRECATED = "PROJECT_ID"

#: The decoded size of one answer, at most: a page of 100 full specs is about 0.35 MB.
MAX_RESPONSE_BYTES = 16 * 2**20
#: The rows one list may hold; a larger ``total`` is refused as implausible (10x the largest
#: project benchmarked, and about 2 GB of specs in memory).
MAX_LIST_ROWS = 100_000

MISSING_CREDENTIALS = (
    f"no Ionworks credentials: set {ENV_API_KEY} (or {ENV_API_TOKEN}), "
    "or pass --api-key (or --token)"
)


def _mask(value: str | None) -> str:
    return "None" if value is None else "***"


def _printable(value: str) -> bool:
    """Visible ASCII only: what an HTTP header can carry without the encoder quoting it."""
    return all("!" <= char <= "~" for char in value)


@dataclass(frozen=True)
class Credentials:
    """An API key and/or bearer token, plus the optional organization they act in."""

    api_key: str | None = None
    token: str | None = None
    organization_id: str | None = None

    def __post_init__(self) -> None:
        """Trim surrounding white space; refuse a header value with odd characters inside.

        A stray space, line break or non-ASCII character would make the HTTP layer fail with an
        error (or a traceback) that quotes the header, and so perhaps a secret pasted into the
        wrong variable; we say what is wrong without showing it.
        """
        for name, where in (
            ("api_key", f"{ENV_API_KEY} / --api-key"),
            ("token", f"{ENV_API_TOKEN} / --token"),
            ("organization_id", f"{ENV_ORGANIZATION_ID} / --org"),
        ):
            value = getattr(self, name)
            if value is None:
                continue
            value = value.strip()
            if not _printable(value):
                raise ConfigError(
                    f"the {name.replace('_', ' ')} ({where}) has spaces, line breaks or "
                    "non-ASCII characters inside it (it is not shown here): check how it was "
                    "copied"
                )
            object.__setattr__(self, name, value or None)

    def __repr__(self) -> str:
        return (
            f"Credentials(api_key={_mask(self.api_key)}, token={_mask(self.token)}, "
            f"organization_id={self.organization_id!r})"
        )

    __str__ = __repr__

    @property
    def present(self) -> bool:
        return bool(self.api_key or self.token)

    @property
    def kind(self) -> str:
        """Which credential is sent, for messages: never the value itself."""
        if self.token:
            return "bearer token"
        return "API key" if self.api_key else "no credential"

    def headers(self) -> dict[str, str]:
        """Auth headers; a token wins over a key and then no X-API-Key is sent (contract 1.2)."""
        headers: dict[str, str] = {}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        elif self.api_key:
            headers["X-API-Key"] = self.api_key
        if self.organization_id:
            headers["X-Organization-Id"] = self.organization_id
        return headers


@dataclass(frozen=True)
class ApiSettings:
    """Where the API is, who we are, and how patiently we talk to it."""

    base_url: str = DEFAULT_BASE_URL
    credentials: Credentials = field(default_factory=Credentials)
    project_id: str | None = None
    timeout: float = 10.0
    concurrency: int = 8
    max_retries: int = 5
    backoff_base: float = 0.3
    backoff_max: float = 10.0
    retry_after_max: float = 60.0
    max_response_bytes: int = MAX_RESPONSE_BYTES
    max_list_rows: int = MAX_LIST_ROWS

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", _check_base_url(self.base_url))
        if self.timeout <= 0:
            raise ConfigError(f"the API timeout must be positive, not {self.timeout}")
        if self.concurrency < 1:
            raise ConfigError(f"the API concurrency must be at least 1, not {self.concurrency}")
        if self.max_retries < 0:
            raise ConfigError(f"max_retries must be 0 or more, not {self.max_retries}")
        if min(self.backoff_base, self.backoff_max, self.retry_after_max) < 0:
            raise ConfigError("backoff and Retry-After limits must not be negative")
        if min(self.max_response_bytes, self.max_list_rows) < 1:
            raise ConfigError("the response size and list row limits must be at least 1")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> ApiSettings:
        """Settings from explicit values (None = not given) over ``IONWORKS_*`` variables.

        Explicit ``api_key``/``token`` replace the environment's credentials entirely
        (contract 1.2), so a flag can never be silently combined with a stale env token.
        Raises ConfigError before any request when no credential is found.
        """
        source: Mapping[str, str] = os.environ if env is None else env
        allowed = {"api_key", "token", "organization_id"} | {
            f.name for f in fields(cls) if f.name != "credentials"
        }
        unknown = sorted(set(overrides) - allowed)
        if unknown:
            raise TypeError(f"unknown ApiSettings override(s): {', '.join(unknown)}")
        given = {name: value for name, value in overrides.items() if value is not None}

        def env_value(name: str) -> str | None:
            value = source.get(name, "").strip()
            return value or None

        if "api_key" in given or "token" in given:
            api_key, token = given.get("api_key"), given.get("token")
        else:
            api_key, token = env_value(ENV_API_KEY), env_value(ENV_API_TOKEN)
        credentials = Credentials(
            api_key=api_key or None,
            token=token or None,
            organization_id=given.get("organization_id") or env_value(ENV_ORGANIZATION_ID),
        )
        if not credentials.present:
            raise ConfigError(MISSING_CREDENTIALS)

        project_id = given.get("project_id") or env_value(ENV_PROJECT_ID)
        if project_id is None and env_value(ENV_PROJECT_ID_DEPRECATED):
            warnings.warn(
                f"{ENV_PROJECT_ID_DEPRECATED} is deprecated; set {ENV_PROJECT_ID} instead",
                FutureWarning,
                stacklevel=2,
            )
            project_id = env_value(ENV_PROJECT_ID_DEPRECATED)

        tuning = {
            name: value
            for name, value in given.items()
            if name not in {"api_key", "token", "organization_id", "project_id", "base_url"}
        }
        return cls(
            base_url=given.get("base_url") or env_value(ENV_API_URL) or DEFAULT_BASE_URL,
            credentials=credentials,
            project_id=project_id,
            **tuning,
        )


def _check_base_url(base_url: str) -> str:
    """Strip trailing ``/`` (contract 1.1) and refuse URLs that cannot work or would leak.

    A query string or fragment is refused, not echoed: it is where people put tokens
    (``?key=...``), and the base URL appears in messages.
    """
    stripped = base_url.strip().rstrip("/")
    where = f"check --api-url or {ENV_API_URL}"
    if "?" in stripped or "#" in stripped:
        raise ConfigError(
            f"the API URL must not contain a query string or fragment ({where}; it is not "
            "shown here, as it may hold a secret)"
        )
    try:
        url = httpx.URL(stripped)
    except httpx.InvalidURL:
        raise ConfigError(f"the API URL is not a valid URL ({where})") from None
    if url.userinfo:
        raise ConfigError(
            f"the API URL must not contain a user name or password ({where}; it is not shown "
            f"here); give the credential in {ENV_API_KEY} or {ENV_API_TOKEN}"
        )
    if url.scheme not in {"http", "https"} or not url.host:
        raise ConfigError(
            f"the API URL {stripped!r} must start with http:// or https:// and name a host "
            f"({where})"
        )
    return stripped
