"""Quantities ``{value, unit}``: parse the unit spellings people write and compare by physics.

Ionworks' own examples mix pint syntax (``A*h``, ``mg/cm**2``) with a dot-exponent syntax
(``A.h``, ``mg.cm-2``, ``mA.h.g-1``), labs add their own (``mAh/g``, ``mOhm``, ``wt%``), and the
server stores units verbatim, so the reconciler never compares unit strings. ``C`` is always a
C-rate (1/hour) here, as in every battery datasheet; a coulomb has to be spelled ``coulomb``.
``wt%``, ``vol%``, ``mol%`` and ``at%`` are fractions of their own kind: equal to themselves at
any scale, never to a plain ``percent`` or to each other (5 wt% and 5 vol% differ).

A unit that is read one way but clearly meant another is refused rather than guessed:
``mA*h/g-1`` is mA*h*g to pint (``/`` and ``-1`` cancel), so it gets a message saying what to
write. Suggestions for unknown units are only offered when they mean what the user meant
(``unit_problem`` checks them against the dimension the field needs, when it is known).

Parsing is cached per unit string: ``canonical`` runs for every Quantity of every spec.
"""

from __future__ import annotations

import difflib
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
# Names people write for battery quantities; the pool for "did you mean" besides pint's own names.
_COMMON_UNITS = (
    "A*h", "mA*h", "Ah", "mAh", "V", "mV", "W*h", "mW*h", "Wh", "mWh", "W*h/kg", "W*h/L", "C",
    "A", "mA", "W", "mW", "g", "kg", "mg", "mm", "um", "nm", "cm", "m", "mg/cm**2", "g/cm**3",
    "mA*h/g", "mA*h/cm**2", "mol/L", "uL", "mL", "L", "ohm", "mohm", "percent",
    "dimensionless", "degC", "K", "s", "min", "h", "S/m", "mS/cm", "Pa", "MPa",
)  # fmt: skip
# Unit symbols that are found glued together (``mAhg-1`` is mA.h.g-1), with their prefixes.
_GLUED = {
    "A": "munk", "V": "muk", "W": "mukM", "h": "", "hr": "", "s": "m", "g": "munk",
    "L": "mu", "m": "cmunµ", "mol": "m", "S": "mu", "Pa": "kM", "ohm": "mkM", "Ohm": "mkM",
}  # fmt: skip
# Dimensions named in words: an example unit of each, in the order they are looked up.
_NAMED_DIMENSIONS = (
    ("A*h", "a charge"), ("V", "a voltage"), ("A", "a current"), ("W", "a power"),
    ("W*h", "an energy"), ("ohm", "a resistance"), ("S/m", "a conductivity"),
    ("ohm*m", "a resistivity"), ("ohm*cm**2", "an areal resistance"), ("F", "a capacitance"),
    ("mA*h/g", "a specific capacity (charge per mass)"),
    ("mA*h/cm**2", "an areal capacity (charge per area)"),
    ("mA/cm**2", "a current density (current per area)"), ("A/g", "a current per mass"),
    ("mg/cm**2", "an areal loading (mass per area)"), ("g/cm**3", "a density (mass per volume)"),
    ("W*h/kg", "an energy per mass"), ("W*h/L", "an energy per volume (or a pressure)"),
    ("W/kg", "a power per mass"), ("W/L", "a power per volume"),
    ("mol/L", "a concentration (amount per volume)"), ("g/mol", "a molar mass"),
    ("m**2/g", "a specific surface area"), ("m**2/s", "a diffusivity"),
    ("Pa*s", "a viscosity"), ("J/K", "a heat capacity"), ("J/kg/K", "a specific heat capacity"),
    ("W/m/K", "a thermal conductivity"), ("N", "a force"), ("m/s", "a speed"),
    ("V/s", "a voltage per time (a scan rate)"), ("1/h", "a rate (1/time, e.g. C)"),
    ("m", "a length"), ("m**2", "an area"), ("m**3", "a volume"), ("g", "a mass"),
    ("s", "a time"), ("K", "a temperature"), ("mol", "an amount of substance"),
    ("dimensionless", "dimensionless (a ratio or a count)"),
    ("wt%", "a mass fraction (wt%)"), ("vol%", "a volume fraction (vol%)"),
    ("mol%", "an amount fraction (mol%)"), ("at%", "an atomic fraction (at%)"),
)  # fmt: skip
_SI_BASE = {
    "[length]": "m", "[mass]": "kg", "[time]": "s", "[current]": "A", "[temperature]": "K",
    "[substance]": "mol", "[luminosity]": "cd",
}  # fmt: skip
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
class _UnitInfo:
    unit: pint.Unit
    factor: float
    offset: float
    dimension: str


@dataclass(frozen=True)
class _Unreadable:
    """Why a unit string cannot be read: ``reason`` is the message, ``unknown`` a unit name
    pint does not know (for suggestions), ``remedy`` what to write instead; ``example`` marks
    a remedy that is only an example, which a field's own example replaces."""

    reason: str
    unknown: str | None = None
    remedy: str | None = None
    example: bool = False


@functools.lru_cache(maxsize=1)
def _registry() -> pint.UnitRegistry[float]:
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
            raise _Refused(_Unreadable(f"unexpected character {text[position]!r} in unit {text!r}"))
        position = match.end()
        if match["fraction"]:
            tokens.append(("fraction", match["fraction"].split(".")[0].rstrip(" %"), None))
        elif match["name"]:
            tokens.append(("name", match["name"], match["exp"]))
        else:
            tokens.append(("op", match["other"], None))
    return tokens


class _Refused(Exception):
    def __init__(self, unreadable: _Unreadable) -> None:
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
                _Unreadable(
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


def _mixed_syntax(text: str, factor: str) -> _Unreadable:
    """``mA*h/g-1``: pint reads ``/g-1`` as *times* g, so say what to write instead."""
    reason = (
        f"unit {text!r} mixes '/' with a negative exponent: '/{factor}' would mean times "
        f"{factor.split('-')[0]}"
    )
    factors = _intended_factors(text)
    if factors is None:
        return _Unreadable(reason, remedy="'/' alone (mA*h/g) or dot exponents alone (mA.h.g-1)")
    return _Unreadable(reason, remedy=f"{_slash_form(factors)!r} or {_dot_form(factors)!r}")


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


def _slash_form(factors: Iterable[tuple[str, int]]) -> str:
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
def _parse(text: str) -> _UnitInfo | _Unreadable:
    """The unit, or why it cannot be read; cached, failures included (live data repeats them)."""
    stripped = text.strip()
    if not stripped:
        remedy = "'dimensionless' for plain counts and ratios"
        return _Unreadable("empty unit", remedy=remedy, example=True)
    if len(stripped) > MAX_UNIT_LENGTH:
        return _Unreadable(f"unit is longer than {MAX_UNIT_LENGTH} characters")
    import pint

    registry = _registry()
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
        return _Unreadable(f"unknown unit {stripped!r}", unknown=unknown)
    except Exception:  # pint raises assorted errors (Assertion, Type, Overflow) on bad syntax
        remedy = "e.g. 'mA*h/g' or 'mA.h.g-1'"
        return _Unreadable(f"cannot read unit {stripped!r}", remedy=remedy, example=True)
    if not (math.isfinite(factor) and math.isfinite(offset)) or factor == 0:
        return _Unreadable(f"unit {stripped!r} is out of range")
    return _UnitInfo(unit, factor, offset, _dimension_string(dict(unit.dimensionality)))


def _unit_info(text: str) -> _UnitInfo:
    parsed = _parse(text)
    if isinstance(parsed, _Unreadable):
        raise UnitError(unit_problem(text))
    return parsed


@functools.lru_cache(maxsize=1024)
def unit_problem(text: str, expected: str | None = None) -> str | None:
    """None when ``text`` is a unit we read; else a message saying what to write.

    ``expected`` is an example unit of what the field needs (``um`` for a thickness): examples
    then fit the field, and a suggestion for an unknown unit must have its dimension.
    """
    parsed = _parse(text)
    if isinstance(parsed, _UnitInfo):
        return None
    wanted = _dimension_or_none(expected)
    if parsed.unknown is not None:
        suggestion = _suggestion(text.strip(), parsed.unknown, wanted)
        if suggestion or expected is None or wanted is None:
            return parsed.reason + suggestion
        return f"{parsed.reason}; {describe_dimension(wanted)} is written e.g. {expected!r}"
    remedy = parsed.remedy
    if parsed.example and expected is not None and wanted is not None:
        remedy = f"e.g. {expected!r}"
    return f"{parsed.reason}; write {remedy}" if remedy else parsed.reason


def _dimension_or_none(unit: str | None) -> str | None:
    if unit is None:
        return None
    parsed = _parse(unit)
    return parsed.dimension if isinstance(parsed, _UnitInfo) else None


def _suggestion(text: str, unknown: str, wanted: str | None) -> str:
    """`` (did you mean ...?)`` for an unknown unit name, only if it means what was meant."""
    glued = _unglued(text, unknown)
    if glued is not None and _fits(glued, wanted):
        slash = canonical_spelling(glued)
        also = f" or {slash!r}" if slash != glued else ""
        return f"; write the units apart: {glued!r}{also}"
    for candidate in (*_same_letters(unknown), *_closest(unknown)):
        replaced = text.replace(unknown, "C" if candidate == C_RATE_UNIT else candidate)
        if _fits(replaced, wanted):
            return f" (did you mean {replaced!r}?)"
    return ""


def _fits(unit: str, wanted: str | None) -> bool:
    parsed = _parse(unit)
    return isinstance(parsed, _UnitInfo) and (wanted is None or parsed.dimension == wanted)


def _unglued(text: str, unknown: str) -> str | None:
    """``mAhg-1`` -> ``mA.h.g-1``: the one way to split a name into distinct unit symbols."""
    pieces = _split_glued(unknown)
    if pieces is None:
        return None
    match = re.search(re.escape(unknown) + r"(-?\d+)?", text)
    if match is None:
        return None
    apart = ".".join(pieces) + (match[1] or "")
    return text[: match.start()] + apart + text[match.end() :]


@functools.lru_cache(maxsize=1)
def _glued_symbols() -> dict[str, str]:
    """Every prefixed symbol that may be glued, mapped to the unit it is a multiple of."""
    symbols = {}
    for symbol, prefixes in _GLUED.items():
        for prefix in ("", *prefixes):
            symbols[prefix + symbol] = "hour" if symbol == "hr" else symbol.lower()
    return symbols


def _split_glued(name: str) -> list[str] | None:
    """The unique shortest split of ``name`` into glued symbols of distinct units, if any."""
    symbols = _glued_symbols()
    best: dict[int, list[list[str]]] = {0: [[]]}
    for end in range(1, len(name) + 1):
        splits = [
            [*split, name[start:end]]
            for start in range(end)
            if name[start:end] in symbols
            for split in best.get(start, [])
        ]
        splits = [s for s in splits if len({symbols[p] for p in s}) == len(s)]
        if splits:
            fewest = min(len(s) for s in splits)
            best[end] = [s for s in splits if len(s) == fewest]
    found = best.get(len(name), [])
    return found[0] if len(found) == 1 and len(found[0]) > 1 else None


def _same_letters(unknown: str) -> list[str]:
    """Known spellings equal to ``unknown`` but for case (``MAH`` -> ``mAh``), if one unit."""
    lowered = unknown.lower()
    pool = [*_COMMON_UNITS, *_glued_symbols(), lowered]
    found = {p for p in pool if p.lower() == lowered and p != unknown and _fits(p, None)}
    units = {_parse(p) for p in found}
    return sorted(found)[:1] if len(units) == 1 else []


def _closest(word: str) -> list[str]:
    """Known names close to ``word`` (case-insensitive), closest first, ties going to a longer
    shared start; only close matches count, since a loose one may well mean something else."""
    lowered = word.lower()
    scored: list[tuple[float, int, str]] = []
    for name in dict.fromkeys((*_COMMON_UNITS, *_registry()._units)):
        score = difflib.SequenceMatcher(None, lowered, name.lower()).ratio()
        if score < 0.75:
            continue
        shared = next(
            (i for i, (a, b) in enumerate(zip(lowered, name.lower(), strict=False)) if a != b),
            min(len(lowered), len(name)),
        )
        scored.append((score, shared, name))
    return [name for _, _, name in sorted(scored, reverse=True)[:5]]


def parse_unit(text: str) -> pint.Unit:
    """Parse a unit in pint or Ionworks dot-exponent syntax; raise UnitError saying why not."""
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
    """The dimension of a unit, e.g. ``[current] * [time]``, for comparisons and messages."""
    return _unit_info(unit).dimension


def describe_dimension(dimension: str) -> str:
    """A dimension in words ("a power"); unnamed ones in SI base units, never pint's brackets."""
    named = _dimension_names().get(dimension)
    if named is not None:
        return named
    parsed = _parse_dimension(dimension)
    if parsed is None:
        return dimension
    factors = [(_SI_BASE.get(name, name.strip("[]")), power) for name, power in parsed]
    return f"a quantity in {_slash_form(factors)}"


@functools.lru_cache(maxsize=1)
def _dimension_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for unit, words in _NAMED_DIMENSIONS:
        names.setdefault(dimension_of(unit), words)
    return names


def _parse_dimension(dimension: str) -> list[tuple[str, int]] | None:
    """``[length] ** 2 * [mass] / [time] ** 3`` -> ``[([length], 2), ([mass], 1), ...]``."""
    top, *bottom = dimension.split(" / ")
    factors = []
    for index, part in enumerate([top, *bottom]):
        for factor in part.split(" * "):
            if factor == "1":
                continue
            name, _, power = factor.partition(" ** ")
            if not name.startswith("[") or not (power or "1").isdigit():
                return None
            factors.append((name, int(power or 1) * (-1 if index else 1)))
    return factors


def canonical_spelling(text: str) -> str:
    """One spelling per unit, in pint syntax (``mA.h.g-1``, ``mAh/g`` -> ``mA*h/g``; ``%`` ->
    ``percent``; ``µm`` -> ``um``), or ``text`` itself when it cannot be read or rewritten
    without changing what it means."""
    parsed = _parse(text)
    if not isinstance(parsed, _UnitInfo):
        return text
    registry = _registry()
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
    spelling = _slash_form(factors) if factors else "dimensionless"
    rewritten = _parse(spelling)
    same = isinstance(rewritten, _UnitInfo) and (
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
