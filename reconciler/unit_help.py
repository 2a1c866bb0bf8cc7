"""What to tell someone whose unit cannot be read, or has the wrong dimension.

``unit_problem`` explains a unit ``units.read_unit`` cannot read, with a suggestion only when it
means what was meant: a glued unit split apart (``mAhg-1`` -> ``mA.h.g-1``), a case slip
(``MAH`` -> ``mAh``) or a close spelling, and, when the field's dimension is known, only one of
that dimension; examples fit the field. ``describe_dimension`` names a dimension in words ("a
power", "a specific capacity"), never as pint's ``[length] ** 2 * [mass] / [time] ** 3``.
"""

from __future__ import annotations

import difflib
import functools
import re

from reconciler.units import (
    C_RATE_UNIT,
    UnitInfo,
    canonical_spelling,
    dimension_of,
    read_unit,
    slash_form,
    unit_registry,
)

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


@functools.lru_cache(maxsize=1024)
def unit_problem(text: str, expected: str | None = None) -> str | None:
    """None when ``text`` is a unit we read; else a message saying what to write.

    ``expected`` is an example unit of what the field needs (``um`` for a thickness): examples
    then fit the field, and a suggestion for an unknown unit must have its dimension.
    """
    parsed = read_unit(text)
    if isinstance(parsed, UnitInfo):
        return None
    wanted = _dimension_or_none(expected)
    if parsed.unknown is not None:
        suggestion = _suggestion(text.strip(), parsed.unknown, wanted)
        if suggestion or expected is None or wanted is None:
            return parsed.reason + suggestion
        return f"{parsed.reason}; {describe_dimension(wanted)} is written e.g. {expected!r}"
    if parsed.example and expected is not None and wanted is not None:
        return parsed.message(f"e.g. {expected!r}")
    return parsed.message()


def _dimension_or_none(unit: str | None) -> str | None:
    if unit is None:
        return None
    parsed = read_unit(unit)
    return parsed.dimension if isinstance(parsed, UnitInfo) else None


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
    parsed = read_unit(unit)
    return isinstance(parsed, UnitInfo) and (wanted is None or parsed.dimension == wanted)


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
    units = {read_unit(p) for p in found}
    return sorted(found)[:1] if len(units) == 1 else []


def _closest(word: str) -> list[str]:
    """Known names close to ``word`` (case-insensitive), closest first, ties going to a longer
    shared start; only close matches count, since a loose one may well mean something else."""
    lowered = word.lower()
    scored: list[tuple[float, int, str]] = []
    for name in dict.fromkeys((*_COMMON_UNITS, *unit_registry()._units)):
        score = difflib.SequenceMatcher(None, lowered, name.lower()).ratio()
        if score < 0.75:
            continue
        shared = next(
            (i for i, (a, b) in enumerate(zip(lowered, name.lower(), strict=False)) if a != b),
            min(len(lowered), len(name)),
        )
        scored.append((score, shared, name))
    return [name for _, _, name in sorted(scored, reverse=True)[:5]]


def describe_dimension(dimension: str) -> str:
    """A dimension in words ("a power"); unnamed ones in SI base units, never pint's brackets."""
    named = _dimension_names().get(dimension)
    if named is not None:
        return named
    parsed = _parse_dimension(dimension)
    if parsed is None:
        return dimension
    factors = [(_SI_BASE.get(name, name.strip("[]")), power) for name, power in parsed]
    return f"a quantity in {slash_form(factors)}"


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
