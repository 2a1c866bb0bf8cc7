"""Quantities ``{value, unit}``: parse the unit spellings people write and compare by physics.

Ionworks' own examples mix pint syntax (``A*h``, ``mg/cm**2``) with a dot-exponent syntax
(``A.h``, ``mg.cm-2``, ``mA.h.g-1``), labs add their own (``mAh/g``, ``mOhm``, ``wt%``), and the
server stores units verbatim, so the reconciler never compares unit strings. ``C`` is always a
C-rate (1/hour) here, as in every battery datasheet; a coulomb has to be spelled ``coulomb``.
``wt%``, ``vol%``, ``mol%`` and ``at%`` are fractions of their own kind: equal to themselves at
any scale, never to a plain ``percent`` or to each other (5 wt% and 5 vol% differ).

A unit that is read one way but clearly meant another is refused rather than guessed:
``mA*h/g-1`` is mA*h*g to pint (``/`` and ``-1`` cancel), so it gets a message saying what to
write. ``unit_help.py`` turns any other unit it cannot read into a message with a suggestion.

Parsing is cached per unit string: ``canonical`` runs for every Quantity of every spec.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeGuard, cast

if TYPE_CHECKING:
    import pint

C_RATE_UNIT = "C_rate"
MAX_UNIT_LENGTH = 100

# A fraction spelling, a unit name optionally with a dot-syntax exponent glued to it (``cm-2``,
# ``g-1``, ``m3``), or an operator.
_TOKEN = re.compile(
    r"(?P<fraction>(?:wt|vol|mol|at)\.?\s?%)"
    r"|(?P<name>[^\W\d]+|%|°[^\W\d]*)(?P<exp>-?\d+)?"
    r"|(?P<other>\*\*|[*/^().\s]|\d+(?:\.\d+)?)"
)
_SI_PREFIXES = frozenset(
    {"y", "z", "a", "f", "p", "n", "u", "µ", "μ", "m", "c", "d", "da", "h", "k", "M", "G"}
    | {"T", "P", "E", "Z", "Y"}
)
# Fractions by kind: ``wt%`` is the pint unit ``wt_percent`` of dimension [mass_fraction].
_FRACTIONS = {
    "wt": "mass_fraction",
    "vol": "volume_fraction",
    "mol": "amount_fraction",
    "at": "atom_fraction",
}
# How canonical_spelling writes a pint unit (prefixes are written as their symbol, u for µ).
_SPELLINGS = {
    "ampere_hour": "A*h", "watt_hour": "W*h", "ohm": "ohm", "Ohm": "ohm", "percent": "percent",
    C_RATE_UNIT: "C", "liter": "L", "degree_Celsius": "degC", "cubic_centimeter": "cm**3",
    "micron": "um",
    **{f"{word}_percent": f"{word}%" for word in _FRACTIONS},
}  # fmt: skip


class UnitError(ValueError):
    """A unit string that is not a unit we can interpret; the message says what to write."""


@dataclass(frozen=True)
class UnitInfo:
    unit: pint.Unit
    factor: float
    offset: float
    dimension: str


@dataclass(frozen=True)
class Unreadable:
    """Why a unit string cannot be read: ``reason`` is the message, ``unknown`` a unit name
    pint does not know (for suggestions), ``remedy`` what to write instead; ``example`` marks
    a remedy that is only an example, which a field's own example replaces."""

    reason: str
    unknown: str | None = None
    remedy: str | None = None
    example: bool = False

    def message(self, remedy: str | None = None) -> str:
        """The reason, and what to write: ``remedy`` if given, else the one found."""
        written = remedy or self.remedy
        return f"{self.reason}; write {written}" if written else self.reason


@functools.lru_cache(maxsize=1)
def unit_registry() -> pint.UnitRegistry[float]:
    """Build the registry once, on first use: pint takes a noticeable moment to load."""
    import pint

    registry: pint.UnitRegistry[float] = pint.UnitRegistry(cache_folder=None)
    registry.define(f"{C_RATE_UNIT} = 1 / hour")
    registry.define("Ohm = ohm")  # mOhm, kOhm: how datasheets write it
    for word, dimension in _FRACTIONS.items():
        registry.define(f"{word}_fraction = [{dimension}]")
        registry.define(f"{word}_percent = 0.01 * {word}_fraction")
    return registry


def _tokens(text: str) -> list[tuple[str, str, str | None]]:
    """``(kind, token, glued exponent)`` with kind ``fraction``, ``name`` or ``op``."""
    tokens: list[tuple[str, str, str | None]] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise _Refused(Unreadable(f"unexpected character {text[position]!r} in unit {text!r}"))
        position = match.end()
        if match["fraction"]:
            tokens.append(("fraction", match["fraction"].split(".")[0].rstrip(" %"), None))
        elif match["name"]:
            tokens.append(("name", match["name"], match["exp"]))
        else:
            tokens.append(("op", match["other"], None))
    return tokens


class _Refused(Exception):
    def __init__(self, unreadable: Unreadable) -> None:
        super().__init__(unreadable.reason)
        self.unreadable = unreadable


def _to_pint_syntax(text: str) -> str:
    """Rewrite dot-exponent syntax into pint syntax and map ``C`` to the C-rate unit."""
    parts: list[str] = []
    after_slash = False
    for kind, token, exponent in _tokens(text):
        if kind == "fraction":
            parts.append(f"{token}_percent")
            continue
        if kind == "op":
            after_slash = after_slash or token == "/"
            parts.append("*" if token == "." else "**" if token == "^" else token)
            continue
        name = token
        if name == "C":
            name = C_RATE_UNIT
        elif name.endswith("C") and name[:-1] in _SI_PREFIXES:
            raise _Refused(
                Unreadable(
                    f"unit {name!r} is ambiguous: C means C-rate here; "
                    f"spell charge out (e.g. '{_prefix_word(name[:-1])}coulomb')"
                )
            )
        elif name == "%":
            name = "percent"
        if exponent and exponent.startswith("-") and after_slash:
            raise _Refused(_mixed_syntax(text, f"{token}{exponent}"))
        parts.append(f"{name}**({exponent})" if exponent else name)
    return "".join(parts)


def _mixed_syntax(text: str, factor: str) -> Unreadable:
    """``mA*h/g-1``: pint reads ``/g-1`` as *times* g, so say what to write instead."""
    reason = (
        f"unit {text!r} mixes '/' with a negative exponent: '/{factor}' would mean times "
        f"{factor.split('-')[0]}"
    )
    factors = _intended_factors(text)
    if factors is None:
        return Unreadable(reason, remedy="'/' alone (mA*h/g) or dot exponents alone (mA.h.g-1)")
    return Unreadable(reason, remedy=f"{slash_form(factors)!r} or {_dot_form(factors)!r}")


def _intended_factors(text: str) -> list[tuple[str, int]] | None:
    """The factors of a '/'-and-exponent unit as meant: a factor after '/' is divided by, whatever
    the sign of its exponent. None for anything but ``a*b/c-1``-like text."""
    factors: list[tuple[str, int]] = []
    divide = False
    for kind, token, exponent in _tokens(text):
        if kind == "op":
            if token == "/":
                divide = True
            elif token not in ("*", ".", " "):
                return None
            continue
        power = abs(int(exponent)) if exponent else 1
        spelled = f"{token}%" if kind == "fraction" else token
        factors.append((spelled, -power if divide or (exponent or "").startswith("-") else power))
        divide = False
    return factors


def slash_form(factors: Iterable[tuple[str, int]]) -> str:
    """``[(mA, 1), (h, 1), (g, -1)]`` -> ``mA*h/g``."""
    listed = list(factors)

    def power(name: str, exponent: int) -> str:
        return name if abs(exponent) == 1 else f"{name}**{abs(exponent)}"

    top = "*".join(power(n, e) for n, e in listed if e > 0) or "1"
    return top + "".join(f"/{power(n, e)}" for n, e in listed if e < 0)


def _dot_form(factors: Iterable[tuple[str, int]]) -> str:
    """``[(mA, 1), (h, 1), (g, -1)]`` -> ``mA.h.g-1``."""
    return ".".join(name if exponent == 1 else f"{name}{exponent}" for name, exponent in factors)


def _prefix_word(prefix: str) -> str:
    words = {"m": "milli", "u": "micro", "µ": "micro", "μ": "micro", "k": "kilo", "n": "nano"}
    return words.get(prefix, prefix)


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
def read_unit(text: str) -> UnitInfo | Unreadable:
    """The unit, or why it cannot be read; cached, failures included (live data repeats them).
    ``unit_help.unit_problem`` turns the why into a message with a suggestion."""
    stripped = text.strip()
    if not stripped:
        remedy = "'dimensionless' for plain counts and ratios"
        return Unreadable("empty unit", remedy=remedy, example=True)
    if len(stripped) > MAX_UNIT_LENGTH:
        return Unreadable(f"unit is longer than {MAX_UNIT_LENGTH} characters")
    import pint

    registry = unit_registry()
    try:
        unit = registry.parse_units(_to_pint_syntax(stripped))
        zero = registry.Quantity(0.0, unit).to_base_units()
        one = registry.Quantity(1.0, unit).to_base_units()
        offset, factor = float(zero.magnitude), float(one.magnitude) - float(zero.magnitude)
    except _Refused as refused:
        return refused.unreadable
    except pint.UndefinedUnitError as exc:
        unknown = next(iter(exc.unit_names), stripped) if exc.unit_names else stripped
        unknown = "C" if unknown == C_RATE_UNIT else unknown
        return Unreadable(f"unknown unit {stripped!r}", unknown=unknown)
    except Exception:  # pint raises assorted errors (Assertion, Type, Overflow) on bad syntax
        remedy = "e.g. 'mA*h/g' or 'mA.h.g-1'"
        return Unreadable(f"cannot read unit {stripped!r}", remedy=remedy, example=True)
    if not (math.isfinite(factor) and math.isfinite(offset)) or factor == 0:
        return Unreadable(f"unit {stripped!r} is out of range")
    return UnitInfo(unit, factor, offset, _dimension_string(dict(unit.dimensionality)))


def _unit_info(text: str) -> UnitInfo:
    parsed = read_unit(text)
    if isinstance(parsed, Unreadable):
        raise UnitError(parsed.message())
    return parsed


def canonical(value: float, unit: str) -> tuple[float, str]:
    """The magnitude in SI base units and a stable dimension string, for comparing by physics."""
    info = _unit_info(unit)
    try:
        magnitude = info.offset + info.factor * float(value)
    except (OverflowError, TypeError, ValueError):
        raise UnitError(f"value {value!r} is not a number we can convert") from None
    return magnitude, info.dimension


def dimension_of(unit: str) -> str:
    """The dimension of a unit, e.g. ``[current] * [time]``, for comparisons and messages."""
    return _unit_info(unit).dimension


def canonical_spelling(text: str) -> str:
    """One spelling per unit, in pint syntax (``mA.h.g-1``, ``mAh/g`` -> ``mA*h/g``; ``%`` ->
    ``percent``; ``µm`` -> ``um``), or ``text`` itself when it cannot be read or rewritten
    without changing what it means."""
    parsed = read_unit(text)
    if not isinstance(parsed, UnitInfo):
        return text
    registry = unit_registry()
    factors = []
    for name, power in parsed.unit._units.items():
        prefix, base, _ = registry.parse_unit_name(name)[0]
        spelled = _SPELLINGS.get(base) or registry.get_symbol(base)
        if base == "coulomb":  # C is a C-rate here
            spelled = f"{prefix}coulomb"
        elif prefix:
            spelled = registry._prefixes[prefix].symbol.replace("µ", "u") + spelled
        exponent = float(cast(float, power))
        compound = re.search(r"\w\*\w", spelled) is not None
        if (compound and exponent != 1) or ("**" in spelled and abs(exponent) != 1):
            spelled = f"({spelled})"
        factors.append((spelled, int(exponent) if exponent.is_integer() else 0))
    if any(power == 0 for _, power in factors):
        return text
    spelling = slash_form(factors) if factors else "dimensionless"
    rewritten = read_unit(spelling)
    same = isinstance(rewritten, UnitInfo) and (
        rewritten.dimension == parsed.dimension
        and math.isclose(rewritten.factor, parsed.factor, rel_tol=1e-12)
        and math.isclose(rewritten.offset, parsed.offset, rel_tol=1e-12, abs_tol=1e-12)
    )
    return spelling if same else text


def is_quantity(obj: object) -> TypeGuard[Mapping[str, Any]]:
    """True for a mapping with exactly ``value`` (a number, not a bool) and ``unit`` (a string)."""
    if not isinstance(obj, Mapping) or len(obj) != 2:
        return False
    value, unit = obj.get("value"), obj.get("unit")
    return isinstance(value, int | float) and not isinstance(value, bool) and isinstance(unit, str)


def format_quantity(q: Mapping[str, Any]) -> str:
    """``"0.002 A*h"``: the value and unit as written."""
    return f"{q.get('value')} {q.get('unit')}"
