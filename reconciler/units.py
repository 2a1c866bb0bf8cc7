"""Quantities ``{value, unit}``: parse the unit spellings Ionworks uses and compare by physics.

Ionworks' own examples mix pint syntax (``A*h``, ``mg/cm**2``) with a dot-exponent syntax
(``A.h``, ``mg.cm-2``, ``mA.h.g-1``), and the server stores units verbatim, so the reconciler
must never compare unit strings. ``C`` is always a C-rate (1/hour) here, as in every battery
datasheet; a coulomb has to be spelled ``coulomb``.

Parsing is cached per unit string: ``canonical`` runs for every Quantity of every spec.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeGuard

if TYPE_CHECKING:
    import pint

C_RATE_UNIT = "C_rate"
MAX_UNIT_LENGTH = 100

# A unit name, optionally with a dot-syntax exponent glued to it (``cm-2``, ``g-1``, ``m3``).
_TOKEN = re.compile(
    r"(?P<name>[^\W\d]+|%|°[^\W\d]*)(?P<exp>-?\d+)?"
    r"|(?P<other>\*\*|[*/^().\s]|\d+(?:\.\d+)?)"
)
_SI_PREFIXES = frozenset(
    {"y", "z", "a", "f", "p", "n", "u", "µ", "μ", "m", "c", "d", "da", "h", "k", "M", "G"}
    | {"T", "P", "E", "Z", "Y"}
)
# Names people write for battery quantities; the pool for "did you mean" besides pint's own names.
_COMMON_UNITS = (
    "A*h", "mA*h", "V", "mV", "W*h", "mW*h", "W*h/kg", "W*h/L", "C", "A", "mA", "g", "kg",
    "mg", "mm", "um", "nm", "cm", "m", "mg/cm**2", "g/cm**3", "mA*h/g", "mol/L", "uL", "mL",
    "L", "ohm", "mohm", "percent", "dimensionless", "degC", "K", "s", "min", "h", "S/m",
    "mS/cm", "Pa", "MPa",
)  # fmt: skip
_DIMENSION_NAMES = {
    "[current] * [time]": "a charge",
    "[length] ** 2 * [mass] / [current] / [time] ** 3": "an electric potential",
    "[length] ** 2 * [mass] / [time] ** 2": "an energy",
    "[length] ** 2 / [time] ** 2": "an energy per mass",
    "[mass] / [length] / [time] ** 2": "an energy per volume",
    "1 / [time]": "a rate (1/time, e.g. C)",
    "[length] ** 2 * [mass] / [current] ** 2 / [time] ** 3": "a resistance",
    "[current]": "a current",
    "[length]": "a length",
    "[length] ** 3": "a volume",
    "[mass]": "a mass",
    "[time]": "a time",
    "[temperature]": "a temperature",
    "dimensionless": "dimensionless",
}


class UnitError(ValueError):
    """A unit string that is not a unit we can interpret; the message suggests a fix."""


@dataclass(frozen=True)
class _UnitInfo:
    unit: pint.Unit
    factor: float
    offset: float
    dimension: str


@functools.lru_cache(maxsize=1)
def _registry() -> pint.UnitRegistry[float]:
    """Build the registry once, on first use: pint takes a noticeable moment to load."""
    import pint

    registry: pint.UnitRegistry[float] = pint.UnitRegistry(cache_folder=None)
    registry.define(f"{C_RATE_UNIT} = 1 / hour")
    return registry


def _to_pint_syntax(text: str) -> str:
    """Rewrite dot-exponent syntax into pint syntax and map ``C`` to the C-rate unit."""
    parts: list[str] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise UnitError(f"unexpected character {text[position]!r} in unit {text!r}")
        position = match.end()
        name, exponent, other = match.group("name", "exp", "other")
        if other is not None:
            parts.append("*" if other == "." else "**" if other == "^" else other)
            continue
        if name == "C":
            name = C_RATE_UNIT
        elif name.endswith("C") and name[:-1] in _SI_PREFIXES:
            raise UnitError(
                f"unit {name!r} is ambiguous: C means C-rate here; "
                f"spell charge out (e.g. '{_prefix_word(name[:-1])}coulomb')"
            )
        elif name == "%":
            name = "percent"
        parts.append(f"{name}**({exponent})" if exponent else name)
    return "".join(parts)


def _prefix_word(prefix: str) -> str:
    words = {"m": "milli", "u": "micro", "µ": "micro", "μ": "micro", "k": "kilo", "n": "nano"}
    return words.get(prefix, prefix)


def _suggest(text: str, unknown: str) -> str:
    """A "did you mean" clause for an unknown unit name, or "" when nothing is close."""
    compound = re.fullmatch(r"(m|k|u|µ)?([AW])h(r)?", unknown)
    if compound:
        spelled = f"{compound[1] or ''}{compound[2]}*h"
        return f" (did you mean {text.replace(unknown, spelled)!r}?)"
    replacement = _closest(unknown, _COMMON_UNITS) or _closest(unknown, _registry()._units)
    if replacement is None:
        return ""
    if replacement == C_RATE_UNIT:
        replacement = "C"
    suggestion = text.replace(unknown, replacement) if unknown in text else replacement
    return f" (did you mean {suggestion!r}?)"


def _closest(word: str, names: Iterable[str]) -> str | None:
    """The most similar name (case-insensitive), ties going to the one sharing a longer start."""
    lowered = word.lower()
    best: tuple[float, int, str] | None = None
    for name in names:
        score = difflib.SequenceMatcher(None, lowered, name.lower()).ratio()
        if score < 0.6:
            continue
        shared = next(
            (i for i, (a, b) in enumerate(zip(lowered, name.lower(), strict=False)) if a != b),
            min(len(lowered), len(name)),
        )
        if best is None or (score, shared) > best[:2]:
            best = (score, shared, name)
    return best[2] if best else None


def _dimension_string(dimensionality: Mapping[str, Any]) -> str:
    """A stable spelling of a dimensionality: sorted names, positive powers first."""

    def power(name: str, exponent: float) -> str:
        exponent = abs(exponent)
        shown = int(exponent) if float(exponent).is_integer() else exponent
        return name if shown == 1 else f"{name} ** {shown}"

    numerator = [power(n, e) for n, e in sorted(dimensionality.items()) if e > 0]
    denominator = [power(n, e) for n, e in sorted(dimensionality.items()) if e < 0]
    if not numerator and not denominator:
        return "dimensionless"
    text = " * ".join(numerator) or "1"
    return text + "".join(f" / {d}" for d in denominator)


@functools.lru_cache(maxsize=4096)
def _unit_info(text: str) -> _UnitInfo:
    if not isinstance(text, str):
        raise UnitError(f"a unit must be a string, got {type(text).__name__}")
    stripped = text.strip()
    if not stripped:
        raise UnitError("empty unit; write 'dimensionless' for plain counts and ratios")
    if len(stripped) > MAX_UNIT_LENGTH:
        raise UnitError(f"unit is longer than {MAX_UNIT_LENGTH} characters")
    import pint

    registry = _registry()
    try:
        unit = registry.parse_units(_to_pint_syntax(stripped))
        zero = registry.Quantity(0.0, unit).to_base_units()
        one = registry.Quantity(1.0, unit).to_base_units()
        offset, factor = float(zero.magnitude), float(one.magnitude) - float(zero.magnitude)
    except UnitError:
        raise
    except pint.UndefinedUnitError as exc:
        unknown = next(iter(exc.unit_names), stripped) if exc.unit_names else stripped
        unknown = "C" if unknown == C_RATE_UNIT else unknown
        raise UnitError(f"unknown unit {stripped!r}{_suggest(stripped, unknown)}") from None
    except Exception:  # pint raises assorted errors (Assertion, Type, Overflow) on bad syntax
        raise UnitError(
            f"cannot read unit {stripped!r}; write e.g. 'mA*h/g' or 'mA.h.g-1'"
        ) from None
    if not (math.isfinite(factor) and math.isfinite(offset)) or factor == 0:
        raise UnitError(f"unit {stripped!r} is out of range")
    return _UnitInfo(unit, factor, offset, _dimension_string(dict(unit.dimensionality)))


def parse_unit(text: str) -> pint.Unit:
    """Parse a unit in pint or Ionworks dot-exponent syntax; raise UnitError with a suggestion."""
    return _unit_info(text).unit


def canonical(value: float, unit: str) -> tuple[float, str]:
    """The magnitude in SI base units and a stable dimension string, for comparing by physics."""
    info = _unit_info(unit)
    try:
        magnitude = info.offset + info.factor * float(value)
    except (OverflowError, TypeError, ValueError):
        raise UnitError(f"value {value!r} is not a number we can convert") from None
    return magnitude, info.dimension


def dimension_of(unit: str) -> str:
    """The dimension of a unit, e.g. ``[current] * [time]``, for error messages."""
    return _unit_info(unit).dimension


def describe_dimension(dimension: str) -> str:
    """A plain-words name for a dimension string when we have one, else the string itself."""
    return _DIMENSION_NAMES.get(dimension, dimension)


def is_quantity(obj: object) -> TypeGuard[Mapping[str, Any]]:
    """True for a mapping with exactly ``value`` (a number, not a bool) and ``unit`` (a string)."""
    if not isinstance(obj, Mapping) or len(obj) != 2:
        return False
    value, unit = obj.get("value"), obj.get("unit")
    return isinstance(value, int | float) and not isinstance(value, bool) and isinstance(unit, str)


def quantities_equal(a: Mapping[str, Any], b: Mapping[str, Any], rel_tol: float = 1e-9) -> bool:
    """Compare two Quantities physically (2 mA*h == 0.002 A.h); never raises.

    When either unit is unknown (live data may hold odd units) fall back to exact equality of
    unit string and value.
    """
    if not (is_quantity(a) and is_quantity(b)):
        return bool(a == b)
    try:
        left, left_dim = canonical(a["value"], a["unit"])
        right, right_dim = canonical(b["value"], b["unit"])
    except UnitError:
        return bool(a["unit"] == b["unit"] and a["value"] == b["value"])
    if left_dim != right_dim:
        return False
    return left == right or math.isclose(left, right, rel_tol=rel_tol)


def format_quantity(q: Mapping[str, Any]) -> str:
    """``"0.002 A*h"``: the value and unit as written."""
    return f"{q.get('value')} {q.get('unit')}"
