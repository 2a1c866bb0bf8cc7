"""One exception tree for everything ionworks-apply reports to a user.

Each class declares the exit code the CLI uses for it, so the mapping lives next to the meaning
and the CLI catches the base class once::

    IonworksApplyError                 exit 1  anything we can explain in one line
    ├── UsageError                     exit 1  bad flags or arguments
    ├── ConfigError                    exit 1  credentials, settings, ionworks-apply.yaml
    ├── ManifestError                  exit 1  one or more manifest problems (file:line:col each)
    ├── PlanFileError                  exit 1  a saved plan that cannot be read or used
    ├── LiveStateError                 exit 1  live specs that cannot be planned from safely
    ├── ApplyFailedError               exit 1  some changes failed; the others were applied
    ├── ApiError                       exit 1  the Ionworks API said no, or could not be reached
    │   ├── AuthenticationError        401     key or token missing, wrong or expired
    │   ├── PermissionDeniedError      403     can read, may not write
    │   ├── NotFoundError              404     does not exist or is not visible
    │   ├── ConflictError              409     name taken; carries existing_id
    │   ├── RequestRejectedError       400/422 the server refused the body; carries field errors
    │   ├── RateLimitedError           429     too many requests; carries retry_after
    │   ├── ServerError                5xx     the server failed
    │   ├── TransportError             -       network failure; says whether the request may
    │   │                                      have reached the server
    │   └── UnexpectedResponseError    -       not the JSON the API speaks (proxy page, truncated)
    └── SafetyError                    exit 3  a guard refused before anything was written
        ├── GuardError                         deletes blocked (prune, protect, thresholds, cascade)
        └── StalePlanError                     the plan no longer matches manifests or live state

Anything else escaping to the CLI is a bug: exit 4 with a hint to report it. Ctrl-C exits 130.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_BLOCKED = 3
EXIT_INTERNAL = 4
EXIT_INTERRUPTED = 130


class IonworksApplyError(Exception):
    """Base of every error we can explain to a user in plain words."""

    exit_code = EXIT_ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def lines(self) -> list[str]:
        """The lines the CLI prints after ``Error:``; most errors are one line."""
        return [self.message]


class UsageError(IonworksApplyError):
    """Flags or arguments that do not make sense together."""


class ConfigError(IonworksApplyError):
    """Missing credentials, bad settings, or an invalid ionworks-apply.yaml."""


@dataclass(frozen=True, order=True)
class Location:
    """A place in a manifest, 1-based like editors show it."""

    path: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.path
        if self.col <= 0:
            return f"{self.path}:{self.line}"
        return f"{self.path}:{self.line}:{self.col}"


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong (or worth a warning) in the manifests."""

    location: Location
    message: str
    severity: str = field(default="error", compare=False)

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{self.location}: {prefix}{self.message}"


class ManifestError(IonworksApplyError):
    """The manifests have problems; nothing was sent to the API."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = sorted(problems)
        errors = sum(1 for p in self.problems if p.severity == "error")
        super().__init__(f"{errors} problem(s) in the manifests; nothing was sent to the API")

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems] + [self.message]


class PlanFileError(IonworksApplyError):
    """A saved plan file that is unreadable, from another version, or for another target."""


class LiveStateError(IonworksApplyError):
    """The live specs are not a state we can plan from safely (e.g. one name listed twice)."""


class ApplyFailedError(IonworksApplyError):
    """Some changes failed while the rest were applied; a re-run converges."""


class ApiError(IonworksApplyError):
    """The Ionworks API refused a request or could not be reached."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_code: str | None = None,
        correlation_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.correlation_id = correlation_id

    def __str__(self) -> str:
        if self.correlation_id:
            return f"{self.message} (correlation id {self.correlation_id})"
        return self.message

    def lines(self) -> list[str]:
        return [str(self)]


class AuthenticationError(ApiError):
    """401: the key or token is missing, wrong or expired."""


class PermissionDeniedError(ApiError):
    """403: the credential may read this project but not change it."""


class NotFoundError(ApiError):
    """404: the record does not exist or is not visible to this credential."""


class ConflictError(ApiError):
    """409: a record with that name exists; ``existing_id`` names it when the API says."""

    def __init__(self, message: str, *, existing_id: str | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.existing_id = existing_id


class RequestRejectedError(ApiError):
    """400 or 422: the server refused the body; ``field_errors`` are ``(location, message)``."""

    def __init__(
        self, message: str, *, field_errors: Sequence[tuple[str, str]] = (), **kwargs: object
    ) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.field_errors = list(field_errors)


class RateLimitedError(ApiError):
    """429: the API asks us to slow down; ``retry_after`` in seconds when it says."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ServerError(ApiError):
    """5xx: the API failed while handling the request."""


class TransportError(ApiError):
    """No usable response: connection refused, dropped, or timed out.

    ``may_have_arrived`` is False only when the request provably never reached the server
    (connect errors), which is the one case where a POST or PATCH may be resent blindly.
    """

    def __init__(self, message: str, *, may_have_arrived: bool, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.may_have_arrived = may_have_arrived


class UnexpectedResponseError(ApiError):
    """A response that is not the API's JSON: a proxy's HTML page, truncated JSON, wrong shape."""


class SafetyError(IonworksApplyError):
    """A safety check refused before any write."""

    exit_code = EXIT_BLOCKED


class GuardError(SafetyError):
    """Deletes blocked by guards; ``blocked`` has one line per block with what would allow it."""

    def __init__(self, message: str, blocked: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.blocked = list(blocked)

    def lines(self) -> list[str]:
        return [self.message, *(f"  {line}" for line in self.blocked)]


class StalePlanError(SafetyError):
    """The plan no longer matches the manifests, the config or the live state (or the file was
    edited); ``reasons`` names each spec and what differs."""

    def __init__(self, reasons: Sequence[str]) -> None:
        super().__init__(
            "the plan is stale: it no longer matches the manifests, the config or Ionworks; "
            "nothing was written. Run `ionworks-apply plan` again and review the new plan."
        )
        self.reasons = list(reasons)

    def lines(self) -> list[str]:
        return [self.message, *(f"  {reason}" for reason in self.reasons)]
