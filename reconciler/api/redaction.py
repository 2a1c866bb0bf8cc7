"""The one secret mask: every error text and log record passes through it.

A server or proxy may echo a credential back in any shape: in a status line, a header, a body,
URL-encoded, base64-encoded (as in ``Basic`` auth), or inside a Python ``repr``. ``SecretMask``
catches each of these forms. Sessions register their credentials here while they live, so log
records from any library are masked too (``install_log_redaction``), and the CLI can run
``redact`` over any text it prints.
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import re
import threading
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, quote_plus

HIDDEN = "***"
#: Loggers that can print request or response headers (httpcore's DEBUG shows ``Set-Cookie``) or
#: protocol errors quoting the raw bytes: held at WARNING whatever ``-v`` asks for.
QUIET_LOGGERS = ("httpx", "httpcore", "h11", "h2", "hpack")
#: A base64 piece shorter than this could match ordinary text; the raw secret is masked anyway.
MIN_ENCODED_PIECE = 6


def _base64_pieces(secret: bytes) -> Iterator[str]:
    """The part of ``secret``'s base64 that is the same wherever it sits in a longer input.

    Base64 turns 3 bytes into 4 characters, so the secret starts at one of three alignments;
    characters that mix in the bytes before or after it are left out.
    """
    for lead in range(3):
        encoded = base64.b64encode(b"\0" * lead + secret).decode().rstrip("=")
        start = -(-8 * lead // 6)
        end = 8 * (lead + len(secret)) // 6
        piece = encoded[start:end]
        if len(piece) >= MIN_ENCODED_PIECE:
            yield piece
            yield piece.replace("+", "-").replace("/", "_")


def secret_forms(secret: str) -> set[str]:
    """Every form in which ``secret`` is hidden: whole, URL-encoded, escaped, base64."""
    raw = secret.encode()
    forms = {
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        repr(secret)[1:-1],
        repr(raw)[2:-1],
        json.dumps(secret)[1:-1],
    }
    forms.update(_base64_pieces(raw))
    return {form for form in forms if form}


class SecretMask:
    """Replaces every form of the given secrets by ``***``; no secrets means no change."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = frozenset(s for s in secrets if s)
        forms = sorted(
            set(itertools.chain.from_iterable(secret_forms(s) for s in self.secrets)),
            key=len,
            reverse=True,  # the longest form first, so a piece never hides half of a whole
        )
        self._pattern = (
            re.compile("|".join(map(re.escape, forms)), re.IGNORECASE) if forms else None
        )

    def __bool__(self) -> bool:
        return self._pattern is not None

    def __call__(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(HIDDEN, text)


NO_SECRETS = SecretMask()

_lock = threading.Lock()
_registered: Counter[str] = Counter()
_deferred: list[tuple[str, ...]] = []
_retaining = 0
_current = NO_SECRETS


def _rebuild() -> None:
    global _current
    for secret in [s for s, count in _registered.items() if count <= 0]:
        del _registered[secret]
    _current = SecretMask(_registered)


def register(secrets: Iterable[str]) -> Callable[[], None]:
    """Mask ``secrets`` in every log record and ``redact`` until the returned call releases them.

    Registrations are counted, so two sessions with one key keep it masked until both are done.
    """
    held = tuple(s for s in secrets if s)
    with _lock:
        _registered.update(held)
        _rebuild()
    released = False

    def release() -> None:
        nonlocal released
        if released:
            return
        released = True
        with _lock:
            if _retaining:
                _deferred.append(held)
                return
            _registered.subtract(held)
            _rebuild()

    return release


@contextmanager
def retained() -> Iterator[None]:
    """Keep every secret registered inside this block masked until the block ends.

    For the CLI: a session closes before its error reaches the ``Error:`` printer, and the
    printed line must still be masked.
    """
    global _retaining
    with _lock:
        _retaining += 1
    try:
        yield
    finally:
        with _lock:
            _retaining -= 1
            if not _retaining:
                for held in _deferred:
                    _registered.subtract(held)
                _deferred.clear()
                _rebuild()


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every registered secret (and ``secrets``) masked, in all its forms."""
    extra = [s for s in secrets if s and s not in _current.secrets]
    mask = SecretMask([*_current.secrets, *extra]) if extra else _current
    return mask(text)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """An exception, its causes and contexts, and the members of exception groups."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        if isinstance(current, BaseExceptionGroup):
            todo.extend(current.exceptions)


def _scrub(record: logging.LogRecord, mask: SecretMask) -> None:
    """Mask a record's message, traceback and stack.

    A traceback is formatted here, ahead of the handler, only when one of its exceptions says
    a secret (its frames hold file names and source lines, never our data): formatting runs
    ``ast.parse`` on Python 3.11, which must not happen inside every record made during a
    garbage collection.
    """
    try:
        message = record.getMessage()
    except Exception:  # arguments that do not fit the format: keep the format alone
        message = f"{record.msg} (log arguments could not be formatted)"
    record.msg, record.args = mask(message), ()
    exc = record.exc_info[1] if record.exc_info else None
    if exc is not None and any(mask(str(e)) != str(e) for e in _chain(exc)):
        text = "".join(traceback.format_exception(exc)).rstrip("\n")
        record.exc_text, record.exc_info = mask(text), None
    elif record.exc_text:
        record.exc_text = mask(record.exc_text)
    if record.stack_info:
        record.stack_info = mask(record.stack_info)


_installed = False


def install_log_redaction() -> None:
    """Mask registered secrets in every log record and silence header-printing loggers.

    Idempotent. Works through the record factory, so records reach every handler masked,
    whichever handler (stderr, pytest's capture, a file) a caller has set up.
    """
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        make_record = logging.getLogRecordFactory()

        def masked_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = make_record(*args, **kwargs)
            mask = _current
            if mask:
                _scrub(record, mask)
            return record

        logging.setLogRecordFactory(masked_record)
