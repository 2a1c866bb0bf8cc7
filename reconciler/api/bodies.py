"""Response bodies as untrusted input: read within a size cap, parsed into data nothing downstream
can choke on.

The cap applies to the decoded bytes while they stream in, so neither a gzip bomb nor an
endless chunked body can exhaust memory. Only gzip is asked for and accepted: httpx's decoders
inflate a whole network chunk at once with no bound (and chain ``gzip, gzip``), zlib's
``max_length`` lets us stop at the cap. Parsed JSON is at most ``MAX_JSON_DEPTH`` deep (deeper
nesting would overflow the stack of any recursive reader downstream), and a number JSON cannot
hold as a finite float (``NaN``, ``Infinity``, ``-Infinity``, or one that overflows, like
``1e999`` or an integer of 309 digits) arrives as the string ``"NaN"``, ``"Infinity"`` or
``"-Infinity"``, so rendering, comparing or saving a plan can never fail on it.
"""

from __future__ import annotations

import json
import re
import sys
import zlib
from typing import Any

import httpx

ACCEPT_ENCODING = "gzip"
#: Nesting of arrays and objects in one answer; a page of full specs is about 8 deep.
MAX_JSON_DEPTH = 64

_GZIP = frozenset({"gzip", "x-gzip"})
_IDENTITY = frozenset({"", "identity"})
_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_STRING = re.compile(rb'"[^"]*"')
_NOT_STRUCTURE = bytes(sorted(set(range(256)) - set(b'[]{}"')))
_ONE_BRACKET = bytes.maketrans(b"{}", b"[]")  # in valid JSON the kind never matters for depth


def size_text(size: int) -> str:
    """``16 MiB`` for whole mebibytes, else bytes."""
    return f"{size // 2**20} MiB" if size % 2**20 == 0 else f"{size:,} bytes"


class BodyTooLarge(Exception):
    """The decoded body passed the cap; reading stopped there."""


class BodyUndecodable(Exception):
    """The body is in an encoding we did not ask for, or its gzip stream is broken."""


class _Inflater:
    """gzip decoding that never produces more than it is allowed to."""

    def __init__(self) -> None:
        self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 16)

    def feed(self, data: bytes, room: int) -> bytes:
        """Decoded bytes of ``data``; more than ``room`` of them raises BodyTooLarge."""
        out = bytearray()
        while data and not self._zlib.eof:
            out += self._zlib.decompress(data, room + 1 - len(out))
            if len(out) > room:
                raise BodyTooLarge
            data = self._zlib.unconsumed_tail
        return bytes(out)

    def finish(self) -> None:
        if not self._zlib.eof:
            raise BodyUndecodable("its gzip stream ends before it is complete")


async def read_capped(response: httpx.Response, cap: int) -> bytes:
    """The body of a streamed ``response``, decoded, or BodyTooLarge past ``cap`` bytes."""
    if response.is_stream_consumed:  # read whole by its transport (httpx.MockTransport)
        if len(response.content) > cap:
            raise BodyTooLarge
        return response.content
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding not in _GZIP | _IDENTITY:
        raise BodyUndecodable(f"it is encoded as {encoding[:40]!r}, which was not asked for")
    inflater = _Inflater() if encoding in _GZIP else None
    body = bytearray()
    try:
        async for chunk in response.aiter_raw():
            body += inflater.feed(chunk, cap - len(body)) if inflater else chunk
            if len(body) > cap:
                raise BodyTooLarge
    except zlib.error:
        raise BodyUndecodable("its gzip stream is corrupt") from None
    if inflater:
        inflater.finish()
    return bytes(body)


def read_response(response: httpx.Response, content: bytes) -> httpx.Response:
    """A plain, fully read response holding ``content`` (already decoded) for error mapping."""
    headers = [
        (name, value)
        for name, value in response.headers.multi_items()
        if name.lower() not in ("content-encoding", "content-length", "transfer-encoding")
    ]
    return httpx.Response(
        response.status_code, headers=headers, content=content, request=response.request
    )


class TooDeep(ValueError):
    """Valid JSON nested deeper than ``MAX_JSON_DEPTH``."""


def _as_text(constant: str) -> str:
    return constant


def _finite_or_text(literal: str) -> float | str:
    value = float(literal)
    if value - value == 0.0:  # neither infinite nor NaN
        return value
    return "-Infinity" if literal.startswith("-") else "Infinity"


def _float_sized_or_text(literal: str) -> int | str:
    value = int(literal)
    if abs(value) <= sys.float_info.max:
        return value
    return "-Infinity" if value < 0 else "Infinity"


def nesting_depth_exceeds(content: bytes, limit: int) -> bool:
    """True when arrays and objects in a valid JSON text nest deeper than ``limit``.

    Works on the bytes, at C speed (under 1 ms for a page of 100 full specs): drop escapes,
    keep only brackets (all made ``[]``) and quotes, drop strings, then peel the innermost
    pairs, one level per pass (``replace`` never looks again at what it just joined).
    """
    if b"\\" in content:
        content = _ESCAPE.sub(b"", content)
    structure = content.translate(_ONE_BRACKET, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in structure:
        structure = _STRING.sub(b"", structure)
    for _ in range(limit):
        if not structure:
            return False
        structure = structure.replace(b"[]", b"")
    return bool(structure)


def parse_json(content: bytes) -> Any:
    """UTF-8 JSON under the policy above: ValueError if invalid, TooDeep if nested too deep."""
    text = content.decode("utf-8")  # UnicodeDecodeError is a ValueError
    try:
        data = json.loads(
            text,
            parse_constant=_as_text,
            parse_float=_finite_or_text,
            parse_int=_float_sized_or_text,
        )
    except RecursionError:
        raise TooDeep from None
    if nesting_depth_exceeds(content, MAX_JSON_DEPTH):
        raise TooDeep
    return data
