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
from reconciler.quantity_kinds import example_unit, judge
from reconciler.unit_help import describe_dimension, unit_problem
from reconciler.units import UnitError, canonical, dimension_of, format_quantity, is_quantity

DocPath = tuple[str | int, ...]

# Over this, once in SI base units (A*s, V, J, J/kg, J/m**3, 1/s, kg/m**2, m ...), a value is a
# typo: a 1 MWh battery is 3.6e9 J and 700 Wh/L is 2.5e9 J/m**3.
MAX_MAGNITUDE = 1e12

# Each rating's reference unit and how the README and messages write its examples.
RATING_UNITS: dict[str, tuple[str, str]] = {
    "capacity": ("A*h", "A*h, mA*h, A.h"),
    "voltage_min": ("V", "V, mV"),
    "voltage_max": ("V", "V, mV"),
    "nominal_voltage": ("V", "V, mV"),
    "energy": ("W*h", "W*h, mW.h"),
    "energy_density_gravimetric": ("W*h/kg", "W*h/kg, W.h.kg-1"),
    "energy_density_volumetric": ("W*h/L", "W*h/L, W.h.L-1"),
    "max_charge_rate": ("C", "C, 1/h"),
    "max_discharge_rate": ("C", "C, 1/h"),
}
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


def expected_unit(path: DocPath) -> str | None:
    """An example unit of what the Quantity at ``path`` needs, when its key says."""
    if len(path) == 2 and path[0] == "ratings" and path[1] in RATING_UNITS:
        return RATING_UNITS[str(path[1])][0]
    key = _key_of(path)
    return example_unit(key, str(path[0])) if key and path else None


def quantity_example(path: DocPath, value: Any = None) -> str:
    """``{value: 3.6, unit: V}`` for ``ratings.nominal_voltage: 3.6``: the unit fits the field."""
    number = value if _is_finite_number(value) else "<number>"
    return f"{{value: {number}, unit: {expected_unit(path) or '<unit>'}}}"


def _key_of(path: DocPath) -> str:
    """The key a value is stored under: ``layers`` for ``...layers[1]``."""
    last = path[-1] if path else ""
    if isinstance(last, str):
        return last
    return next((part for part in reversed(path) if isinstance(part, str)), "")


def check_quantity(quantity: Mapping[str, Any], path: DocPath) -> tuple[list[Issue], float, str]:
    """Unit, size and plausibility problems of a well-shaped Quantity, plus its SI magnitude
    and dimension (NaN magnitude when the unit or size is wrong)."""
    try:
        magnitude, dimension = canonical(quantity["value"], quantity["unit"])
    except UnitError:
        problem = unit_problem(quantity["unit"], expected_unit(path))
        if problem is not None:
            return [Issue((*path, "unit"), problem)], math.nan, ""
        magnitude, dimension = math.inf, ""  # the unit is fine; the value is beyond it
    if not math.isfinite(magnitude) or abs(magnitude) > MAX_MAGNITUDE:
        message = (
            f"{format_quantity(quantity)} is implausibly large (over {MAX_MAGNITUDE:g} in SI "
            "base units); check the value and the unit"
        )
        return [Issue((*path, "value"), message)], math.nan, dimension
    return [], magnitude, dimension


def _plausibility(
    quantity: Mapping[str, Any], path: DocPath, magnitude: float, dimension: str
) -> list[Issue]:
    findings = judge(_key_of(path), str(path[0]), quantity, magnitude, dimension)
    return [Issue((*path, f.part), f.message, severity=f.severity) for f in findings]


def check_ratings(ratings: Any) -> list[Issue]:
    """Units of the right dimension, capacity above zero, voltage_min below voltage_max,
    and every value possible (errors) and usual (warnings) for its kind."""
    if not isinstance(ratings, dict):
        return []
    issues = [
        Issue(
            ("ratings", key),
            f"ratings.{key} is null; leave {key} out to have none: a rating is a Quantity, "
            "and the API refuses null there",
        )
        for key in RATING_UNITS
        if key in ratings and ratings[key] is None
    ]
    magnitudes: dict[str, float] = {}
    for key, (reference, examples) in RATING_UNITS.items():
        quantity = ratings.get(key)
        if not is_quantity(quantity) or not _is_finite_number(quantity["value"]):
            continue
        path: DocPath = ("ratings", key)
        found, magnitude, dimension = check_quantity(quantity, path)
        wanted = dimension_of(reference)
        if found:
            issues.extend(found)
        elif dimension != wanted:
            message = (
                f"unit {quantity['unit']!r} is {describe_dimension(dimension)}, not "
                f"{describe_dimension(wanted)}: ratings.{key} is written e.g. in {examples}"
            )
            issues.append(Issue((*path, "unit"), message))
        else:
            magnitudes[key] = magnitude
            if key != "capacity" or magnitude > 0:
                issues.extend(_plausibility(quantity, path, magnitude, dimension))
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
        if value is None and isinstance(where[-1], str):
            issues.append(null_inside(where))
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


def null_inside(path: DocPath) -> Issue:
    """A warning for a key set to null inside a nested object: it is sent as written, and an
    API that refuses null there (contract 8.2, unknown) refuses the whole write."""
    message = (
        f"{path_text(path)} is null; leave {path[-1]} out instead: inside "
        f"{path_text(path[:-1])} null and absent mean the same, and an API that refuses null "
        "inside nested objects would refuse the whole write"
    )
    return Issue(path, message, severity="warning")


def _bare_number(value: float, path: DocPath) -> Issue:
    unit = expected_unit(path)
    if unit == "percent" and 0 < abs(value) <= 1:  # 0.25 is 25 %, not 0.25 %
        use = (
            f"{{value: {value}, unit: dimensionless}} or {{value: {value * 100:g}, unit: percent}}"
        )
    else:
        use = quantity_example(path, value)
        use += "" if unit else " (unit 'dimensionless' for counts and ratios)"
    return Issue(path, f"bare number {value} in {path_text(path)}: numbers need a unit; use {use}")


def _free_form_quantity(value: dict[str, Any], path: DocPath) -> list[Issue]:
    extra = [] if len(value) == 2 else sorted(set(value) - {"value", "unit"})
    if extra:
        message = f"unknown key {extra[0]!r} in a Quantity: a Quantity has only value and unit"
        return [Issue((*path, extra[0]), message, at_key=True)]
    if "value" not in value or "unit" not in value:
        return [_missing_part(value, path)]
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
    issues, magnitude, dimension = check_quantity(value, path)
    if issues:
        return issues
    return _plausibility(value, path, magnitude, dimension)


def _missing_part(value: dict[str, Any], path: DocPath) -> Issue:
    """``{unit: mm}`` -> write {value: <number>, unit: mm}; the example fits the key."""
    if "value" in value:
        number = value["value"] if _is_finite_number(value["value"]) else "<number>"
        unit = expected_unit(path) or "<unit>"
        return Issue(path, f"Quantity is missing 'unit': write {{value: {number}, unit: {unit}}}")
    given = value["unit"] if isinstance(value["unit"], str) and value["unit"].strip() else None
    unit = given or expected_unit(path) or "<unit>"
    return Issue(path, f"Quantity is missing 'value': write {{value: <number>, unit: {unit}}}")


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


#: The longest name Ionworks documents (contract 7.1, for measurements; a Postgres column).
MAX_NAME_LENGTH = 255


def check_name(name: Any) -> list[Issue]:
    """A spec's or material's name: not empty, no surrounding spaces, not longer than documented."""
    if not isinstance(name, str):
        return []
    if not name.strip():
        return [Issue(("name",), "name must not be empty")]
    if name != name.strip():
        return [Issue(("name",), f"name {name!r} has leading or trailing spaces; remove them")]
    if len(name) > MAX_NAME_LENGTH:
        message = (
            f"name is {len(name)} characters long; Ionworks documents names of 1 to "
            f"{MAX_NAME_LENGTH} characters (for measurements), so it may refuse a longer one"
        )
        return [Issue(("name",), message, severity="warning")]
    return []
