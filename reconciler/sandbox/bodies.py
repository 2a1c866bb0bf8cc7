"""Request bodies as the gateway takes them: bounded, gunzipped as a stream, inspected once.

A hostile body must cost bounded memory and never reach a route as something the storage
cannot hold:

* at most ``max_bytes`` are read off the wire, and at most ``max_bytes`` come out of gzip:
  decompression runs chunk by chunk with ``max_length``, so a gzip bomb stops at the cap (413);
* JSON is parsed once and walked without recursion: NaN/Infinity, nesting deeper than
  ``MAX_DEPTH`` and lone UTF-16 surrogates (no UTF-8 store accepts them) give a 422;
* with ``strict_text`` the walk also applies the text rules of a Postgres-backed API (NUL is
  refused as the database would refuse it; long strings get a 422).

Malformed JSON is left to FastAPI, which answers it with its own 422.
"""

from __future__ import annotations

import json
import math
import re
import zlib
from collections.abc import Iterator
from typing import Any

from starlette.types import Receive

from reconciler.sandbox.errors import Loc, field_error

MAX_DEPTH = 32
"""Deepest JSON nesting accepted; a full spec body is about 6 levels deep."""
MAX_NAME_CHARS = 255
"""strict_text: longest ``name`` (of a spec, instance, batch, measurement or material)."""
MAX_TEXT_CHARS = 10_000
"""strict_text: longest other string or object key."""

GZIP_WBITS = 16 + zlib.MAX_WBITS
SURROGATE = re.compile("[\ud800-\udfff]")


class BodyRefused(Exception):
    """The gateway answers ``status`` with ``body`` instead of calling the route."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def problem(code: str, message: str, detail: dict[str, Any] | None = None) -> dict[str, Any]:
    """The standardized error body."""
    return {"error_code": code, "message": message, "detail": detail}


def too_large(max_bytes: int) -> BodyRefused:
    message = f"Request body is larger than {max_bytes} bytes"
    return BodyRefused(413, problem("PAYLOAD_TOO_LARGE", message, {"max_body_bytes": max_bytes}))


def _not_gzip() -> BodyRefused:
    return BodyRefused(400, problem("BAD_REQUEST", "Body is not valid gzip"))


def _printable(text: str) -> str:
    """``text`` with lone surrogates replaced, so an error about them can be sent as JSON."""
    return text.encode("utf-8", "replace").decode()


def invalid(loc: Loc, msg: str, kind: str, value: Any = None) -> BodyRefused:
    safe = tuple(_printable(part) if isinstance(part, str) else part for part in loc)
    return BodyRefused(422, {"detail": [field_error(safe, msg, kind, value)]})


class _Plain:
    """Collects an uncompressed body, refusing it past ``max_bytes``."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.data = bytearray()

    def feed(self, chunk: bytes) -> None:
        self.data += chunk
        if len(self.data) > self.max_bytes:
            raise too_large(self.max_bytes)

    def finish(self) -> bytes:
        return bytes(self.data)


class _Gunzip:
    """Decompresses gzip members as they arrive; neither side may pass ``max_bytes``."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.wire = 0
        self.data = bytearray()
        self._inflate = zlib.decompressobj(GZIP_WBITS)

    def feed(self, chunk: bytes) -> None:
        self.wire += len(chunk)
        if self.wire > self.max_bytes:
            raise too_large(self.max_bytes)
        while chunk:
            room = self.max_bytes - len(self.data) + 1
            try:
                self.data += self._inflate.decompress(chunk, room)
            except zlib.error:
                raise _not_gzip() from None
            if len(self.data) > self.max_bytes:
                raise too_large(self.max_bytes)
            if self._inflate.eof:  # a member ended; what follows must be another member
                chunk = self._inflate.unused_data
                if chunk:
                    self._inflate = zlib.decompressobj(GZIP_WBITS)
            else:
                chunk = self._inflate.unconsumed_tail

    def finish(self) -> bytes:
        if self.wire and not self._inflate.eof:
            raise _not_gzip()
        return bytes(self.data)


async def read_body(
    receive: Receive, *, encoding: bytes, declared: int | None, max_bytes: int
) -> bytes | None:
    """The whole (decompressed) body, or None if the client went away first.

    Raises BodyRefused for a body over the cap, bad gzip, or an encoding we cannot undo.
    A declared Content-Length over the cap is refused before anything is read.
    """
    if encoding == b"gzip":
        sink: _Plain | _Gunzip = _Gunzip(max_bytes)
    elif encoding in (b"", b"identity"):
        sink = _Plain(max_bytes)
    else:
        message = f"Unsupported Content-Encoding {encoding.decode('latin-1')!r}"
        raise BodyRefused(415, problem("UNSUPPORTED_MEDIA_TYPE", message))
    if declared is not None and declared > max_bytes:
        raise too_large(max_bytes)
    while True:
        message_in = await receive()
        if message_in["type"] == "http.disconnect":
            return None
        sink.feed(message_in.get("body", b""))
        if not message_in.get("more_body", False):
            return sink.finish()


class _NonFinite(ValueError):
    """A JSON body spelled NaN or Infinity (Python's json accepts them; we do not)."""


def _reject_constant(token: str) -> Any:
    raise _NonFinite(token)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NonFinite(text)
    return value


def inspect_json(body: bytes, *, strict_text: bool) -> None:
    """Raise BodyRefused if ``body`` is JSON the sandbox must not pass on to a route."""
    if not body:
        return
    try:
        value = json.loads(body, parse_constant=_reject_constant, parse_float=_finite_float)
    except _NonFinite as exc:
        msg = "NaN and Infinity are not valid JSON numbers"
        raise invalid(("body",), msg, "finite_number", str(exc)) from None
    except RecursionError:
        raise _too_deep(("body",)) from None
    except ValueError:
        return  # malformed JSON: FastAPI answers with its own error
    for loc, text, is_key in _strings(value):
        _check_text(loc, text, is_key=is_key, strict=strict_text)


def _strings(value: Any) -> Iterator[tuple[Loc, str, bool]]:
    """Every string and object key in ``value`` with its location; refuses deep nesting."""
    stack: list[tuple[Loc, Any]] = [(("body",), value)]
    while stack:
        loc, item = stack.pop()
        if isinstance(item, str):
            yield loc, item, False
            continue
        if not isinstance(item, dict | list):
            continue
        if len(loc) > MAX_DEPTH:
            raise _too_deep(loc[:MAX_DEPTH])
        if isinstance(item, dict):
            for key, child in item.items():
                yield (*loc, key), key, True
                stack.append(((*loc, key), child))
        else:
            stack.extend(((*loc, index), child) for index, child in enumerate(item))


def _too_deep(loc: Loc) -> BodyRefused:
    return invalid(loc, f"JSON nested deeper than {MAX_DEPTH} levels", "json_depth")


def _check_text(loc: Loc, text: str, *, is_key: bool, strict: bool) -> None:
    where = "key" if is_key else "string"
    if SURROGATE.search(text):
        msg = f"Input should be a valid {where}: lone UTF-16 surrogates cannot be stored"
        raise invalid(loc, msg, "string_unicode", _printable(text))
    if not strict:
        return
    if "\x00" in text:
        message = f"Database error: a {where} at {_dotted(loc)} contains NUL (\\u0000)"
        raise BodyRefused(500, problem("INTERNAL_ERROR", message))
    limit = MAX_NAME_CHARS if _is_name(loc, is_key) else MAX_TEXT_CHARS
    if len(text) > limit:
        msg = f"String should have at most {limit} characters"
        raise invalid(loc, msg, "string_too_long", text[:50])


def _is_name(loc: Loc, is_key: bool) -> bool:
    """The top-level ``name`` of a body, or a material's ``name``."""
    if is_key or loc[-1] != "name":
        return False
    return len(loc) == 2 or loc[-2] == "material"


def _dotted(loc: Loc) -> str:
    return ".".join(str(part) for part in loc[1:]) or "body"
