"""Checks on a spec document that a type system cannot express: units, physics, free-form rules.

Each check returns ``Issue`` objects addressed by their path in the document. Checks assume the
structure was validated by the pydantic models and quietly skip values of the wrong shape:
those already have an issue of their own.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.paths import path_text
from reconciler.units import (
    UnitError,
    canonical,
    describe_dimension,
    dimension_of,
    format_quantity,
    is_quantity,
)

DocPath = tuple[str | int, ...]

# Over this, once in SI base units (A*s, V, J, J/kg, J/m**3, 1/s, kg/m**2, m ...), a value is a
# typo: a 1 MWh battery is 3.6e9 J and 700 Wh/L is 2.5e9 J/m**3.
MAX_MAGNITUDE = 1e12

RATING_UNITS: dict[str, tuple[str, str]] = {
    "capacity": ("A*h", "a charge (e.g. A*h, mA*h, A.h)"),
    "voltage_min": ("V", "a voltage (e.g. V, mV)"),
    "voltage_max": ("V", "a voltage (e.g. V, mV)"),
    "nominal_voltage": ("V", "a voltage (e.g. V, mV)"),
    "energy": ("W*h", "an energy (e.g. W*h, mW.h)"),
    "energy_density_gravimetric": ("W*h/kg", "an energy per mass (e.g. W*h/kg, W.h.kg-1)"),
    "energy_density_volumetric": ("W*h/L", "an energy per volume (e.g. W*h/L, W.h.L-1)"),
    "max_charge_rate": ("C", "a C-rate (e.g. C, 1/h)"),
    "max_discharge_rate": ("C", "a C-rate (e.g. C, 1/h)"),
}
# The unit shown in "use {value: 15, unit: mm}" for a bare number, chosen by the key's words.
_UNIT_BY_WORD = (
    (("thickness", "d50", "d10", "d90", "particle"), "um"),
    (("diameter", "length", "width", "height", "radius"), "mm"),
    (("porosity", "fraction", "ratio", "percent", "efficiency"), "percent"),
    (("loading",), "mg/cm**2"),
    (("mass", "weight"), "g"),
    (("volume",), "uL"),
    (("capacity",), "mA*h"),
    (("voltage", "potential"), "V"),
    (("concentration", "molarity"), "mol/L"),
    (("density",), "g/cm**3"),
    (("temperature",), "degC"),
    (("resistance", "impedance"), "ohm"),
    (("energy",), "W*h"),
    (("current",), "A"),
    (("area",), "cm**2"),
    (("conductivity",), "mS/cm"),
)
_DOTTED_PATH = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")


@dataclass(frozen=True)
class Issue:
    """A problem at ``path`` in a document; ``at_key`` points at the key rather than its value."""

    path: DocPath
    message: str
    at_key: bool = False
    severity: str = "error"


def describe_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value!r}"
    return "a mapping" if isinstance(value, dict) else "a list"


def suggest(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` or an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _is_finite_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return not isinstance(value, float) or math.isfinite(value)


def check_quantity(quantity: Mapping[str, Any], path: DocPath) -> tuple[list[Issue], float, str]:
    """Unit and size problems of a well-shaped Quantity, plus its SI magnitude and dimension."""
    try:
        dimension_of(quantity["unit"])
    except UnitError as exc:
        return [Issue((*path, "unit"), str(exc))], math.nan, ""
    try:
        magnitude, dimension = canonical(quantity["value"], quantity["unit"])
    except UnitError:
        magnitude, dimension = math.inf, ""
    if not math.isfinite(magnitude) or abs(magnitude) > MAX_MAGNITUDE:
        message = (
            f"{format_quantity(quantity)} is implausibly large (over {MAX_MAGNITUDE:g} in SI "
            "base units); check the value and the unit"
        )
        return [Issue((*path, "value"), message)], math.nan, dimension
    return [], magnitude, dimension


def check_ratings(ratings: Any) -> list[Issue]:
    """Units of the right dimension, capacity above zero, voltage_min below voltage_max."""
    if not isinstance(ratings, dict):
        return []
    issues: list[Issue] = []
    magnitudes: dict[str, float] = {}
    for key, (reference, wanted) in RATING_UNITS.items():
        quantity = ratings.get(key)
        if not is_quantity(quantity) or not _is_finite_number(quantity["value"]):
            continue
        path: DocPath = ("ratings", key)
        found, magnitude, dimension = check_quantity(quantity, path)
        if found:
            issues.extend(found)
        elif dimension != dimension_of(reference):
            message = (
                f"unit {quantity['unit']!r} is {describe_dimension(dimension)}, "
                f"but ratings.{key} needs {wanted}"
            )
            issues.append(Issue((*path, "unit"), message))
        else:
            magnitudes[key] = magnitude
    capacity = magnitudes.get("capacity")
    if capacity is not None and capacity <= 0:
        shown = format_quantity(ratings["capacity"])
        issues.append(
            Issue(("ratings", "capacity", "value"), f"capacity must be above 0, got {shown}")
        )
    low, high = magnitudes.get("voltage_min"), magnitudes.get("voltage_max")
    if low is not None and high is not None and low >= high:
        message = (
            f"voltage_min ({format_quantity(ratings['voltage_min'])}) must be below "
            f"voltage_max ({format_quantity(ratings['voltage_max'])})"
        )
        issues.append(Issue(("ratings", "voltage_min", "value"), message))
    return issues


def check_free_form(mapping: dict[str, Any], path: DocPath) -> list[Issue]:
    """Free-form ``properties`` / ``definition``: anything but bare numbers; Quantities valid."""
    issues: list[Issue] = []
    pending: list[tuple[Any, DocPath]] = [(value, (*path, key)) for key, value in mapping.items()]
    while pending:
        value, where = pending.pop()
        if isinstance(value, bool) or value is None or isinstance(value, str):
            continue
        if isinstance(value, int | float):
            if _is_finite_number(value):
                issues.append(_bare_number(value, where))
        elif isinstance(value, list):
            pending.extend((item, (*where, index)) for index, item in enumerate(value))
        elif isinstance(value, dict):
            if "value" in value or "unit" in value:
                issues.extend(_free_form_quantity(value, where))
            else:
                pending.extend((item, (*where, key)) for key, item in value.items())
    return sorted(issues, key=lambda issue: path_text(issue.path))


def _bare_number(value: float, path: DocPath) -> Issue:
    words = " ".join(str(part).lower() for part in path if isinstance(part, str))
    unit = next((u for keys, u in _UNIT_BY_WORD if any(k in words for k in keys)), None)
    example = f"{{value: {value}, unit: {unit or '<unit>'}}}"
    counts = "" if unit else " (unit 'dimensionless' for counts and ratios)"
    return Issue(
        path,
        f"bare number {value} in {path_text(path)}: numbers need a unit; use {example}{counts}",
    )


def _free_form_quantity(value: dict[str, Any], path: DocPath) -> list[Issue]:
    extra = sorted(set(value) - {"value", "unit"})
    if extra:
        message = f"unknown key {extra[0]!r} in a Quantity: a Quantity has only value and unit"
        return [Issue((*path, extra[0]), message, at_key=True)]
    if "value" not in value or "unit" not in value:
        missing = "unit" if "value" in value else "value"
        return [Issue(path, f"Quantity is missing {missing!r}: write {{value: 15, unit: mm}}")]
    number, unit = value["value"], value["unit"]
    if not _is_finite_number(number):
        hint = "; remove the quotes" if isinstance(number, str) and _looks_numeric(number) else ""
        if isinstance(number, float):
            return []  # non-finite: reported on its own
        return [
            Issue((*path, "value"), f"value must be a number, got {describe_value(number)}{hint}")
        ]
    if not isinstance(unit, str):
        return [Issue((*path, "unit"), f"unit must be text, got {describe_value(unit)}")]
    return check_quantity(value, path)[0]


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def ignore_field_problem(field: str, fields: Sequence[str]) -> str | None:
    """Why ``field`` is not a usable dotted path into a spec, or None when it is."""
    if not _DOTTED_PATH.fullmatch(field):
        return f"{field!r} is not a dotted path like properties.last_calibrated"
    head = field.split(".", 1)[0]
    if head == "name":
        return "name cannot be ignored: it identifies the spec"
    usable = [f for f in fields if f not in ("name", "lifecycle")]
    if head not in usable:
        return f"{field!r} does not start with a spec field{suggest(head, usable)}"
    parts = field.split(".")
    if head == "ratings" and len(parts) > 2:
        whole = ".".join(parts[:2])
        return (
            f"{whole} is a Quantity, one value with its unit: ignore it whole ({whole}), "
            "not its value or unit alone"
        )
    return None


def check_lifecycle(lifecycle: Any, name: Any, fields: Sequence[str]) -> list[Issue]:
    """previous_names: non-empty, distinct, not the spec's own name; ignore_fields: real paths."""
    if not isinstance(lifecycle, dict):
        return []
    issues: list[Issue] = []
    previous = lifecycle.get("previous_names")
    if isinstance(previous, list):
        seen: set[str] = set()
        for index, old in enumerate(previous):
            path: DocPath = ("lifecycle", "previous_names", index)
            if not isinstance(old, str):
                continue
            if not old.strip():
                issues.append(Issue(path, "a previous name must not be empty"))
            elif old == name:
                issues.append(Issue(path, f"{old!r} is this spec's current name"))
            elif old in seen:
                issues.append(Issue(path, f"{old!r} is listed twice"))
            seen.add(old)
    ignored = lifecycle.get("ignore_fields")
    if isinstance(ignored, list):
        for index, field in enumerate(ignored):
            problem = ignore_field_problem(field, fields) if isinstance(field, str) else None
            if problem:
                issues.append(Issue(("lifecycle", "ignore_fields", index), problem))
    return issues
