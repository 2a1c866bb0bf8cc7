"""Plain YAML scalars resolved by the YAML 1.2 core schema, within what a manifest can hold.

``017`` is seventeen (YAML 1.2, not octal), dates stay text and ``yes`` is a word. An integer
beyond a 64-bit float raises ``NumberTooLarge`` instead of being built: the API could not hold
it, and Python refuses to read (or print) one of more than 4300 digits at all.
"""

from __future__ import annotations

import math
import re
from typing import Any

_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_BOOLS = {
    **dict.fromkeys(("true", "True", "TRUE"), True),
    **dict.fromkeys(("false", "False", "FALSE"), False),
}
_INT = re.compile(r"[-+]?(?:0b[01_]+|0o[0-7_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*)")
_FLOAT = re.compile(
    r"[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?)"
)
_SPECIAL_FLOATS = {".inf": math.inf, "+.inf": math.inf, "-.inf": -math.inf, ".nan": math.nan}
_NUMERIC_START = frozenset("0123456789+-.")
# Past this many digits an integer is surely beyond a float; int() of it could be slow or refused
# (Python's 4300-digit limit), so it is not even converted.
_MAX_INT_CHARS = 1100
_FLOAT_BITS = 1024  # every integer a 64-bit float can hold is below 2**1024


class NumberTooLarge(ValueError):
    """An integer beyond a 64-bit float; the message says so with its number of digits."""


def plain_value(text: str) -> Any:
    """Resolve a plain scalar by the YAML 1.2 core schema; dates stay text."""
    if text in _NULLS:
        return None
    if text in _BOOLS:
        return _BOOLS[text]
    if text[0] not in _NUMERIC_START:
        return text
    if _INT.fullmatch(text):
        digits = text.replace("_", "")
        if len(digits) > _MAX_INT_CHARS:
            raise NumberTooLarge(_too_large(digits))
        try:
            number = int(digits, 0)
        except ValueError:
            number = int(digits, 10)  # "017" is seventeen in YAML 1.2
        if number.bit_length() > _FLOAT_BITS:
            raise NumberTooLarge(_too_large(digits))
        return number
    lowered = text.lower()
    if lowered in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[lowered]
    if _FLOAT.fullmatch(text):
        return float(text.replace("_", ""))
    return text


def _too_large(literal: str) -> str:
    digits = len(re.sub(r"^[-+]?(?:0[xob])?", "", literal))
    return (
        f"number too large ({digits} digits): numbers must fit a 64-bit float "
        "(at most about 1.8e308)"
    )
