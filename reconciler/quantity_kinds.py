"""What kind of quantity a key holds, and what values of that kind are possible or usual.

``KINDS`` is the one table: each row names a kind of quantity, the key words that identify it
(``coating_thickness`` has the word ``thickness``), the unit its examples and bounds are written
in, and its bounds. Values outside ``low``/``high`` are errors (physics forbids a negative mass
or a porosity over 100 %); values outside ``usual`` are warnings (a 85 mm coating is possible
in principle but almost surely a unit typo). Rows without words apply by dimension alone, to
keys no row names (any mass, however named, is not negative).

A key is judged by the most specific rows that name it (``specific_capacity`` by the
specific-capacity row, not the plain capacity rows): the first of those whose dimension fits the
unit gives the bounds; if none fits, the unit is probably wrong and that is a warning.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.unit_help import describe_dimension
from reconciler.units import canonical, dimension_of, format_quantity

_LAYERS = ("anode", "cathode", "separator")


@dataclass(frozen=True)
class Kind:
    """One row of the table; ``low``, ``high`` and ``usual`` are in ``unit``."""

    name: str
    unit: str
    words: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    usual: tuple[float, float] | None = None
    sections: tuple[str, ...] = ()  # top-level keys the row is limited to; () is everywhere
    also: tuple[str, ...] = ()  # units of other dimensions that are this kind too
    low_name: str = ""  # what ``low`` is called, if it has a name


_FRACTION_UNITS = ("wt%", "vol%", "mol%", "at%")

KINDS: tuple[Kind, ...] = (
    Kind("a fraction", "percent", ("porosity", "fraction", "soc", "state of charge", "dod"),
         low=0, high=100, also=_FRACTION_UNITS),
    Kind("an efficiency", "percent", ("efficiency",), low=0, usual=(0, 100)),
    Kind("a layer thickness", "um", ("thickness",), low=0, usual=(0.5, 3000), sections=_LAYERS),
    Kind("a thickness", "mm", ("thickness",), low=0),
    Kind("a particle size", "um", ("d10", "d50", "d90", "particle"), low=0, usual=(0.001, 1000)),
    Kind("a length", "mm", ("diameter", "length", "width", "height", "radius"),
         low=0, usual=(0.1, 2000)),
    Kind("an areal loading", "mg/cm**2", ("loading", "areal density", "areal mass"),
         low=0, usual=(0.01, 200)),
    Kind("an areal capacity", "mA*h/cm**2", ("areal capacity",), low=0, usual=(0.01, 50)),
    Kind("a specific capacity", "mA*h/g", ("specific capacity",), low=0, usual=(1, 5000)),
    Kind("a capacity", "A*h", ("capacity",), low=0, usual=(1e-6, 5000)),
    Kind("a specific capacity", "mA*h/g", ("capacity",), low=0, usual=(1, 5000)),
    Kind("an areal capacity", "mA*h/cm**2", ("capacity",), low=0, usual=(0.01, 50)),
    Kind("an energy per mass", "W*h/kg", ("energy density", "specific energy"),
         low=0, usual=(1, 1000)),
    Kind("an energy per volume", "W*h/L", ("energy density",), low=0, usual=(1, 3000)),
    Kind("a current density", "mA/cm**2", ("current density",)),
    Kind("a power density", "W/kg", ("power density", "specific power"), low=0),
    Kind("a power density", "W/L", ("power density",), low=0),
    Kind("an energy", "W*h", ("energy",), low=0, usual=(1e-6, 100_000)),
    Kind("a voltage", "V", ("voltage",), usual=(0, 50)),
    Kind("a C-rate", "C", ("rate",), low=0, usual=(0, 1000), sections=("ratings",)),
    Kind("a mass", "g", ("mass", "weight"), low=0),
    Kind("a volume", "uL", ("volume",), low=0),
    Kind("a density", "g/cm**3", ("density",), low=0, usual=(0.001, 25)),
    Kind("a concentration", "mol/L", ("concentration", "molarity"), low=0, usual=(0, 20)),
    Kind("a resistance", "ohm", ("resistance", "impedance", "dcir", "acir"), low=0),
    Kind("a conductivity", "mS/cm", ("conductivity",), low=0),
    Kind("a temperature", "degC", ("temperature",), low=-273.15, low_name="absolute zero"),
    Kind("an area", "cm**2", ("area",), low=0),
    Kind("a current", "A", ("current",)),
    # By dimension alone, whatever the key is called:
    Kind("a mass", "g", low=0),
    Kind("a volume", "uL", low=0),
    Kind("an area", "cm**2", low=0),
    Kind("an areal loading", "mg/cm**2", low=0),
    Kind("a density", "g/cm**3", low=0),
    Kind("a specific capacity", "mA*h/g", low=0),
    Kind("a concentration", "mol/L", low=0),
    Kind("a temperature", "degC", low=-273.15, low_name="absolute zero"),
    Kind("a fraction", "wt%", low=0, high=100, also=_FRACTION_UNITS[1:]),
)  # fmt: skip
_PLAIN_RATIO = "dimensionless"


@dataclass(frozen=True)
class Finding:
    """A problem with one Quantity: ``part`` is ``value`` or ``unit``."""

    part: str
    message: str
    severity: str


def key_words(key: str) -> frozenset[str]:
    """``coatingThickness_um`` -> {coating, thickness, um}."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key)
    return frozenset(re.findall(r"[a-z0-9]+", spaced.lower()))


@functools.lru_cache(maxsize=4096)
def named_kinds(key: str, section: str) -> tuple[Kind, ...]:
    """The rows that name ``key`` in ``section``, most specific phrase only, in table order."""
    words = key_words(key)
    matched: list[tuple[int, Kind]] = []
    for kind in KINDS:
        if kind.sections and section not in kind.sections:
            continue
        sizes = [len(p.split()) for p in kind.words if set(p.split()) <= words]
        if sizes:
            matched.append((max(sizes), kind))
    best = max((size for size, _ in matched), default=0)
    return tuple(kind for size, kind in matched if size == best)


def example_unit(key: str, section: str) -> str | None:
    """The unit an example for ``key`` uses (``um`` for an anode's coating_thickness)."""
    named = named_kinds(key, section)
    return named[0].unit if named else None


@functools.cache
def _dimensions(kind: Kind) -> frozenset[str]:
    return frozenset(dimension_of(unit) for unit in (kind.unit, *kind.also))


@dataclass(frozen=True)
class _Rule:
    """What applies to one key, section and dimension; bounds in SI base units (inf: none)."""

    kind: Kind | None
    misfit: Kind | None
    low: float = -math.inf
    high: float = math.inf
    usual_low: float = -math.inf
    usual_high: float = math.inf


@functools.lru_cache(maxsize=4096)
def _rule(key: str, section: str, dimension: str) -> _Rule:
    """The row whose bounds apply (named by the key, else by dimension alone), and the row the
    key names when the unit fits none of them."""
    named = named_kinds(key, section)
    kind = next((k for k in named if dimension in _dimensions(k)), None)
    misfit = named[0] if named and kind is None else None
    if kind is None:
        kind = next((k for k in KINDS if not k.words and dimension in _dimensions(k)), None)
    if kind is None:
        return _Rule(None, misfit)

    def si(number: float | None, default: float) -> float:
        return default if number is None else canonical(number, kind.unit)[0]

    usual_low, usual_high = kind.usual or (None, None)
    return _Rule(
        kind,
        misfit,
        si(kind.low, -math.inf),
        si(kind.high, math.inf),
        si(usual_low, -math.inf),
        si(usual_high, math.inf),
    )


def judge(
    key: str, section: str, quantity: Mapping[str, Any], magnitude: float, dimension: str
) -> list[Finding]:
    """Whether a valid Quantity (``magnitude`` in SI base units) is possible and usual."""
    rule = _rule(key, section, dimension)
    fine = rule.usual_low <= magnitude <= rule.usual_high and rule.low <= magnitude <= rule.high
    if fine and rule.misfit is None:
        return []  # the common case, kept fast: validate runs this for every Quantity
    findings = []
    if rule.misfit is not None:
        wanted = describe_dimension(dimension_of(rule.misfit.unit))
        message = (
            f"{key} is in {quantity['unit']}, {describe_dimension(dimension)}, not {wanted}, "
            f"e.g. {rule.misfit.unit}; check the unit"
        )
        findings.append(Finding("unit", message, "warning"))
    finding = _bounds_finding(key, rule, quantity, magnitude)
    if finding is not None:
        findings.append(finding)
    return findings


def _bounds_finding(
    key: str, rule: _Rule, quantity: Mapping[str, Any], magnitude: float
) -> Finding | None:
    kind = rule.kind
    if kind is None:
        return None
    shown = f"{key} {format_quantity(quantity)}"
    if _beyond(magnitude, rule.low):
        if kind.low == 0:
            return Finding("value", f"{shown} is negative; {kind.name} cannot be", "error")
        limit = f"{kind.low:g} {kind.unit}"
        limit = f"{kind.low_name} ({limit})" if kind.low_name else limit
        return Finding("value", f"{shown} is below {limit}; {kind.name} cannot be", "error")
    if _beyond(rule.high, magnitude):
        message = f"{shown} is over {kind.high:g} {kind.unit}; {kind.name} cannot be"
        value = quantity["value"]
        if quantity["unit"].strip() == _PLAIN_RATIO and 1 < value <= 100:
            message += f" (for {value} %, write {{value: {value}, unit: percent}})"
        return Finding("value", message, "error")
    if kind.usual is not None and (
        _beyond(magnitude, rule.usual_low) or _beyond(rule.usual_high, magnitude)
    ):
        message = (
            f"{shown} is unusual for {kind.name} (usually {kind.usual[0]:g} to "
            f"{kind.usual[1]:g} {kind.unit}); check the value and the unit"
        )
        return Finding("value", message, "warning")
    return None


def _beyond(smaller: float, larger: float) -> bool:
    """``smaller < larger`` by more than rounding (bounds go through unit conversions)."""
    return smaller < larger and not math.isclose(smaller, larger, rel_tol=1e-9, abs_tol=1e-15)


__all__ = ["KINDS", "Finding", "Kind", "example_unit", "judge", "key_words", "named_kinds"]
